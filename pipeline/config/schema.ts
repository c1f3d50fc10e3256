import { z } from 'zod';
import { SizeLabel } from '../schemas/records.js';

export const LLM_STAGES = ['profile', 'preferences', 'sessions', 'questions', 'filters', 'filler'] as const;
export type LlmStage = (typeof LLM_STAGES)[number];

export const ProviderName = z.enum(['offline', 'anthropic', 'openai']);

/** Default model per provider, used where a stage names none. */
export const DEFAULT_MODELS = {
  offline: 'offline-sim-1',
  anthropic: 'claude-sonnet-4-5',
  openai: 'gpt-4.1-mini',
} as const;

const probability = z.number().min(0).max(1);
const count = z.number().int().min(0);

const StageLlm = z.strictObject({
  /** Provider for this stage; defaults to `llm.provider`. */
  provider: ProviderName.optional(),
  /** Model for this stage; defaults to `llm.model`, else the provider's default. */
  model: z.string().min(1).optional(),
});

/** Settings of the `bullmq` executor (the `bullmq` block of the config). */
export const BullmqSettings = z.strictObject({
  /**
   * Redis URL shared by the coordinator and every worker (`redis://[:password@]host:port[/db]`,
   * `rediss://` for TLS). Defaults to REDIS_URL, else redis://127.0.0.1:6379. Never written to the
   * run store or the manifest.
   */
  redis: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'expected a redis:// or rediss:// URL')
    .optional(),
  /** Worker processes the coordinator starts on this machine; 0 = only external `personagen worker`s. @default 2 */
  workers: z.number().int().min(0).max(64).default(2),
  /** Key prefix of the queues in Redis; runs under one prefix also share its rate limits. @default "personagen" */
  queue_prefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, "_", "." or "-"')
    .default('personagen'),
  /** Model calls in flight per provider in each worker process; defaults to the worker's concurrency. */
  provider_concurrency: z.partialRecord(ProviderName, z.number().int().min(1).max(1024)).default({}),
  /**
   * Job lock in milliseconds; defaults to `llm.timeout_ms × (llm.max_retries + 1)`, above the slowest
   * call. Locks are renewed while a worker lives; this bounds how soon a dead worker's jobs return.
   */
  lock_ms: z.number().int().min(1000).optional(),
  /** First delay of the exponential backoff (with jitter) between attempts after a transient failure. @default 2000 */
  backoff_ms: z.number().int().min(10).default(2000),
  /** Time a worker gets on SIGTERM to finish its jobs before it hands them back to the queue. @default 30000 */
  drain_ms: z.number().int().min(0).default(30_000),
});

/** A rate limit of one provider and model; each part is optional, at least one is needed. */
export const RateLimit = z
  .strictObject({
    /** Requests per minute. */
    rpm: z.number().int().min(1).optional(),
    /** Input tokens per minute (estimated with the run's tokenizer before a call, settled after). */
    input_tpm: z.number().int().min(1).optional(),
    /** Output tokens per minute (charged when a call returns). */
    output_tpm: z.number().int().min(1).optional(),
  })
  .refine((r) => r.rpm !== undefined || r.input_tpm !== undefined || r.output_tpm !== undefined, 'expected rpm, input_tpm or output_tpm');

/** Prices of one model in USD per million tokens, over the bundled table (pipeline/cost/prices.json). */
export const PriceOverride = z.strictObject({
  /** Provider of a model the bundled table lacks. @default "openai" (OpenAI-compatible servers) */
  provider: ProviderName.optional(),
  /** Uncached input tokens. Required for a model the bundled table lacks. */
  input: z.number().min(0).optional(),
  /** Output tokens. Required for a model the bundled table lacks. */
  output: z.number().min(0).optional(),
  /** Input tokens written to the prompt cache. @default `input` */
  cache_write: z.number().min(0).optional(),
  /** Input tokens read from the prompt cache. @default `input` */
  cache_read: z.number().min(0).optional(),
  /** Share taken off every token type by the batch API, 0..1. @default 0 */
  batch_discount: z.number().min(0).max(1).optional(),
  /** Shortest prefix the provider caches, in tokens. @default 1024 */
  min_cache_tokens: z.number().int().min(0).optional(),
});

/** The spending cap (the `budget` block; `--max-cost`). */
export const BudgetSettings = z.strictObject({
  /** Stop starting model calls once the run's spend plus the next call would pass this many US dollars. */
  max_cost_usd: z.number().positive().optional(),
});

/** Batch mode (the `batch` block; `--batch`): requests go through the providers' batch APIs at their discount. */
export const BatchSettings = z.strictObject({
  /** @default true (the block's presence turns batching on) */
  enabled: z.boolean().default(true),
  /** How long requests are collected before a batch is sent, in milliseconds. @default 2000 */
  window_ms: z.number().int().min(0).max(600_000).default(2000),
  /** Requests per batch, at most. @default 10000 */
  max_requests: z.number().int().min(1).max(50_000).default(10_000),
  /** Time between two status checks of a submitted batch, in milliseconds. @default 30000 */
  poll_ms: z.number().int().min(10).default(30_000),
  /** Submissions of one request, at most: an expired or failed request is sent again until then. @default 3 */
  max_submissions: z.number().int().min(1).max(10).default(3),
});

/**
 * The one configuration schema. Every field has a default; a config file and flags override them.
 * Documented field by field in the README ("Config reference").
 */
export const ConfigSchema = z.strictObject({
  /** Number of simulated users. @default 5 */
  users: z.number().int().min(1).max(100_000).default(5),
  /** Run seed: every random choice derives from it. @default 1 */
  seed: z
    .union([z.number().int(), z.string().min(1)])
    .default(1)
    .transform(String),
  /** History sizes, each a token target such as `8k`, `32k`, `128k`, `1m` or `20000`. @default ["32k","128k"] */
  sizes: z.array(SizeLabel).min(1).default(['32k', '128k']),
  /** Preferences per user and kind (published defaults). */
  preferences: z
    .strictObject({
      stereotypical: count.default(30),
      anti_stereotypical: count.default(30),
      neutral: count.default(30),
      therapy_background: count.default(20),
      health_and_medical: count.default(10),
      sensitive_info: count.default(6),
    })
    .prefault({}),
  /** Branch probabilities, drawn per preference. */
  branches: z
    .strictObject({
      /** A neutral preference belongs to someone the user mentions (`who: others`). @default 0.33 */
      others: probability.default(0.33),
      /** A self preference is later updated to a new value (`updated`, `prev_pref`). @default 0.67 */
      update: probability.default(0.67),
      /** A self preference that is not updated is later asked to be forgotten. @default 0.33 */
      forget: probability.default(0.33),
      /** A preference comes up again in a knowledge_query session (repeated curiosity). @default 0.15 */
      knowledge_repeat: probability.default(0.15),
      /** A session gets a follow-up exchange. @default 0.33 */
      follow_up: probability.default(0.33),
    })
    .prefault({}),
  questions: z
    .strictObject({
      /** Questions per user, at most (fewer when the smallest history cannot hold their evidence). @default 40 */
      per_user: z.number().int().min(1).default(40),
      /** Drafts per question before it is dropped. @default 3 */
      max_attempts: z.number().int().min(1).max(20).default(3),
      /** Share of the smallest history that question evidence may take; the rest is other sessions. @default 0.7 */
      evidence_share: z.number().gt(0).max(1).default(0.7),
      /**
       * Ask questions about sensitive items too. Off by default: the right reply is the one that does
       * not expose the value, which a model can spot without the history (the audit flags them).
       * @default false
       */
      sensitive: z.boolean().default(false),
    })
    .prefault({}),
  llm: z
    .strictObject({
      /** @default "offline" */
      provider: ProviderName.default('offline'),
      /** Model for every stage that names none; defaults to the provider's default model. */
      model: z.string().min(1).optional(),
      /** Base URL for OpenAI-compatible servers (vLLM, Ollama, llama.cpp) or a proxy. */
      base_url: z.string().url().optional(),
      /** @default 0.8 */
      temperature: z.number().min(0).max(2).default(0.8),
      /** Output token cap per call. @default 4096 */
      max_tokens: z.number().int().min(64).default(4096),
      /** Transient-error retries inside the SDK (429, 5xx, 529, timeouts). @default 4 */
      max_retries: z.number().int().min(0).max(20).default(4),
      /** Per-call timeout. @default 120000 */
      timeout_ms: z.number().int().min(1000).default(120_000),
      /** Retries of content failures (invalid JSON, schema mismatch) with the validator's message. @default 2 */
      content_retries: z.number().int().min(0).max(10).default(2),
      /** Per-stage provider and model. */
      stages: z.partialRecord(z.enum(LLM_STAGES), StageLlm).default({}),
    })
    .prefault({}),
  /** Work items in flight at once (model calls included). @default 8 */
  concurrency: z.number().int().min(1).max(1024).default(8),
  // Scheduling only (the executor and its queue settings): never part of the data, so a run may
  // switch executor on resume, and the manifest leaves these out. Absent, they take their defaults.
  /** Where the stage graph runs: `local` (this process) or `bullmq` (BullMQ workers sharing a Redis). @default "local" */
  executor: z.enum(['local', 'bullmq']).optional(),
  /** Settings of the `bullmq` executor and of `personagen worker`; the local executor ignores them. */
  bullmq: BullmqSettings.optional(),
  /**
   * Shared rate limits per `"provider:model"` (e.g. `"openai:gpt-4.1-mini"`), enforced across every
   * worker through Redis by the `bullmq` executor. @default {}
   */
  rate_limits: z.record(z.string().regex(/^(offline|anthropic|openai):.+$/, 'expected a key "provider:model"'), RateLimit).optional(),
  /** Output directory. @default "output/demo" */
  out: z.string().min(1).default('output/demo'),
  /** Persona Hub-style JSONL of seed personas; the bundled seeds when absent. */
  seeds: z.string().min(1).optional(),
  /** JSONL of filler conversations (`{"messages":[{role,content}...]}`); generated when absent. */
  filler: z.string().min(1).optional(),
  /** Token counter. @default "o200k_base" */
  tokenizer: z.enum(['o200k_base']).default('o200k_base'),
  /** Prices per model over the bundled table, e.g. `{ "gpt-4.1-mini": { "input": 0.4, "output": 1.6 } }`. */
  prices: z.record(z.string().min(1), PriceOverride).optional(),
  // Cost controls are scheduling, not data: a run may change them on resume, and the manifest leaves them out.
  /** Spending cap. */
  budget: BudgetSettings.optional(),
  /** Batch mode; absent, every call is sent on its own. */
  batch: BatchSettings.optional(),
});

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema>;
