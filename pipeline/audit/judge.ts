import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { ALL_PROMPTS, blindJudgePrompt, leakJudgePrompt } from '../../prompts/index.js';
import { DEFAULT_MODELS, type Env, readEnv } from '../config/index.js';
import { PersonagenError } from '../core/errors.js';
import { o200k } from '../core/tokenizer.js';
import { createAnthropicProvider } from '../llm/anthropic.js';
import { ResponseCache } from '../llm/cache.js';
import { LlmClient, type ModelChoice } from '../llm/client.js';
import { createOfflineProvider } from '../llm/offline.js';
import { createOpenAIProvider } from '../llm/openai.js';
import type { Provider, ProviderName } from '../llm/types.js';
import { UsageLedger } from '../llm/usage.js';
import type { JudgeVerdict } from './rules/common.js';
import { testedPreference } from './rules/leakage.js';
import type { AuditItem, AuditReport } from './schema.js';

const LETTERS = ['A', 'B', 'C', 'D'] as const;

export interface JudgeOptions {
  /** `provider:model` (`anthropic:claude-haiku-4-5`, `openai:gpt-4.1-mini`), `offline`, or a model name (claude-* → anthropic, else openai). */
  model: string;
  /** Judge at most this many items, spread evenly over the dataset. @default all */
  limit?: number | undefined;
  /** Calls in flight at once. @default 4 */
  concurrency?: number | undefined;
  /** Replace providers (tests pass fakes or ones pointed at a local server). */
  providers?: Partial<Record<ProviderName, Provider>> | undefined;
  env?: Env | undefined;
  /** Response cache directory: a rerun of the audit makes no new calls. @default <tmpdir>/personagen-audit-cache */
  cacheDir?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Reads `--judge`: which provider and model. */
export function parseJudgeModel(spec: string): ModelChoice {
  const s = spec.trim();
  if (s === '')
    throw new PersonagenError('bad_config', '`--judge`: expected a model such as anthropic:claude-haiku-4-5, got an empty value');
  const m = /^(offline|anthropic|openai):(.+)$/.exec(s);
  if (m) return { provider: m[1] as ProviderName, model: m[2]! };
  if (s === 'offline' || s === 'anthropic' || s === 'openai') return { provider: s, model: DEFAULT_MODELS[s] };
  return { provider: /^claude/i.test(s) ? 'anthropic' : 'openai', model: s };
}

function providerFor(choice: ModelChoice, options: JudgeOptions): Provider {
  const given = options.providers?.[choice.provider];
  if (given) return given;
  const env = options.env ?? readEnv();
  switch (choice.provider) {
    case 'offline':
      return createOfflineProvider({ prompts: ALL_PROMPTS, tokenizer: o200k });
    case 'anthropic':
      if (!env.ANTHROPIC_API_KEY)
        throw new PersonagenError('bad_config', '`--judge`: the anthropic provider needs ANTHROPIC_API_KEY in the environment');
      return createAnthropicProvider({
        apiKey: env.ANTHROPIC_API_KEY,
        ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
        maxRetries: 4,
        timeoutMs: 120_000,
      });
    case 'openai':
      if (!env.OPENAI_API_KEY && !env.OPENAI_BASE_URL)
        throw new PersonagenError(
          'bad_config',
          '`--judge`: the openai provider needs OPENAI_API_KEY, or OPENAI_BASE_URL for an OpenAI-compatible server',
        );
      return createOpenAIProvider({
        ...(env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY } : {}),
        ...(env.OPENAI_BASE_URL ? { baseURL: env.OPENAI_BASE_URL } : {}),
        maxRetries: 4,
        timeoutMs: 120_000,
      });
  }
}

/** Items spread evenly over the dataset, at most `limit` of them. */
export function spread<T>(items: readonly T[], limit: number | undefined): T[] {
  if (limit === undefined || limit >= items.length) return [...items];
  return Array.from({ length: limit }, (_, k) => items[Math.floor((k * items.length) / limit)]!);
}

/**
 * Model checks, given no history: the blind judge picks the option it thinks was written for this
 * user (filter 1 of generation), and the leak judge says whether the query hints at the
 * preference (filter 2). Answers are cached, so a rerun is free.
 */
export async function runJudge(
  items: readonly AuditItem[],
  options: JudgeOptions,
): Promise<{ verdicts: Map<string, JudgeVerdict>; summary: NonNullable<AuditReport['judge']> }> {
  const choice = parseJudgeModel(options.model);
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new PersonagenError('bad_config', `Expected \`concurrency\` to be an integer >= 1, got ${concurrency}`);
  const client = new LlmClient({
    providers: { [choice.provider]: providerFor(choice, options) },
    cache: new ResponseCache(options.cacheDir ?? join(tmpdir(), 'personagen-audit-cache')),
    modelFor: () => choice,
    temperature: 0,
    maxTokens: 400,
    contentRetries: 1,
  });
  const ledger = new UsageLedger();
  const run = { stage: 'filters', ledger, signal: options.signal };
  const chosen = spread(items, options.limit);
  const verdicts = new Map<string, JudgeVerdict>();
  const limit = pLimit(concurrency);
  await Promise.all(
    chosen.map((item) =>
      limit(async () => {
        let blindChoice: number | null = null;
        if (item.options.length === 4) {
          const blind = await client.run(blindJudgePrompt, { query: item.user_query, options: item.options }, run);
          blindChoice = LETTERS.indexOf(blind.choice);
        }
        const preference = testedPreference(item);
        const leak = preference.trim() ? await client.run(leakJudgePrompt, { query: item.user_query, preference }, run) : null;
        verdicts.set(item.id, { blindChoice, leak });
      }),
    ),
  );
  const rows = ledger.snapshot();
  const sum = (k: 'calls' | 'cacheHits' | 'inputTokens' | 'outputTokens') => rows.reduce((n, r) => n + r[k], 0);
  return {
    verdicts,
    summary: {
      model: `${choice.provider}:${choice.model}`,
      items: chosen.length,
      calls: sum('calls'),
      cached: sum('cacheHits'),
      input_tokens: sum('inputTokens'),
      output_tokens: sum('outputTokens'),
    },
  };
}
