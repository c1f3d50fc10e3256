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
  /** Output directory. @default "output/demo" */
  out: z.string().min(1).default('output/demo'),
  /** Persona Hub-style JSONL of seed personas; the bundled seeds when absent. */
  seeds: z.string().min(1).optional(),
  /** JSONL of filler conversations (`{"messages":[{role,content}...]}`); generated when absent. */
  filler: z.string().min(1).optional(),
  /** Token counter. @default "o200k_base" */
  tokenizer: z.enum(['o200k_base']).default('o200k_base'),
});

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema>;
