import { join } from 'node:path';
import { ALL_PROMPTS } from '../../prompts/index.js';
import { readSeeds } from '../../personas/index.js';
import { type Catalog, shippedCatalog } from '../../scenarios/index.js';
import { type Config, type Env, LLM_STAGES, readEnv, stageModel, stageProvider } from '../config/index.js';
import { InputError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { type Tokenizer, tokenizerFor } from '../core/tokenizer.js';
import { createAnthropicProvider } from '../llm/anthropic.js';
import { ResponseCache } from '../llm/cache.js';
import { LlmClient } from '../llm/client.js';
import { createOfflineProvider } from '../llm/offline.js';
import { createOpenAIProvider } from '../llm/openai.js';
import type { Provider, ProviderName } from '../llm/types.js';
import { UsageLedger } from '../llm/usage.js';
import type { StageContext } from '../stages/context.js';
import { RunStore } from '../store/run-store.js';

/** Everything work units share in one process: config, store, client, catalog, seeds. */
export interface Runtime {
  config: Config;
  dir: string;
  store: RunStore;
  llm: LlmClient;
  tokenizer: Tokenizer;
  catalog: Catalog;
  seeds: string[];
  /** Usage of model calls made by this process (fresh and cached), for progress and --json. */
  session: UsageLedger;
}

export const STORE_DIR = '.run';

export interface RuntimeOptions {
  env?: Env | undefined;
  /** Replace providers (tests pass ones pointed at a local server). */
  providers?: Partial<Record<ProviderName, Provider>> | undefined;
}

export function createRuntime(config: Config, dir: string, options: RuntimeOptions = {}): Runtime {
  const env = options.env ?? readEnv();
  const tokenizer = tokenizerFor(config.tokenizer);
  const store = new RunStore(join(dir, STORE_DIR));
  const needed = new Set(LLM_STAGES.map((s) => stageProvider(config, s)));
  const providers: Partial<Record<ProviderName, Provider>> = { ...options.providers };
  if (!providers.offline) providers.offline = createOfflineProvider({ prompts: ALL_PROMPTS, tokenizer });
  if (needed.has('anthropic') && !providers.anthropic) {
    providers.anthropic = createAnthropicProvider({
      apiKey: env.ANTHROPIC_API_KEY ?? '',
      ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
      maxRetries: config.llm.max_retries,
      timeoutMs: config.llm.timeout_ms,
    });
  }
  if (needed.has('openai') && !providers.openai) {
    const baseURL = config.llm.base_url ?? env.OPENAI_BASE_URL;
    providers.openai = createOpenAIProvider({
      ...(env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY } : {}),
      ...(baseURL ? { baseURL } : {}),
      maxRetries: config.llm.max_retries,
      timeoutMs: config.llm.timeout_ms,
    });
  }
  const llm = new LlmClient({
    providers,
    cache: new ResponseCache(join(dir, STORE_DIR, 'cache')),
    modelFor: (stage) => {
      const s = (LLM_STAGES as readonly string[]).includes(stage) ? (stage as (typeof LLM_STAGES)[number]) : 'questions';
      return { provider: stageProvider(config, s), model: stageModel(config, s) };
    },
    temperature: config.llm.temperature,
    maxTokens: config.llm.max_tokens,
    contentRetries: config.llm.content_retries,
  });
  let seeds: string[];
  if (config.seeds) {
    const read = readSeeds(config.seeds);
    const bad = read.problems[0];
    if (bad)
      throw new InputError(
        { file: config.seeds, line: bad.line, field: 'persona' },
        `${bad.message}${read.problems.length > 1 ? ` (and ${read.problems.length - 1} more bad lines)` : ''}`,
      );
    seeds = read.seeds;
  } else {
    seeds = readSeeds().seeds;
  }
  if (seeds.length === 0) throw new InputError({ file: config.seeds ?? 'personas/seeds.jsonl' }, 'no seed personas');
  return { config, dir, store, llm, tokenizer, catalog: shippedCatalog(), seeds, session: new UsageLedger() };
}

/** A stage context for one unit of work; its ledger records what that unit spends. */
export function stageContext(rt: Runtime, signal?: AbortSignal): StageContext {
  const seed = rt.config.seed;
  return {
    config: rt.config,
    llm: rt.llm,
    ledger: new UsageLedger(),
    rng: (...scope) => Rng.derive(seed, ...scope),
    tokenizer: rt.tokenizer,
    catalog: rt.catalog,
    signal,
  };
}

/** The seed persona of a user: bundled or given seeds, in a seeded order, cycling when there are fewer seeds than users. */
export function seedFor(rt: Runtime, personaId: number): string {
  const n = rt.seeds.length;
  const round = Math.floor(personaId / n);
  const order = Rng.derive(rt.config.seed, 'seeds', round).shuffle(rt.seeds.map((_, i) => i));
  return rt.seeds[order[personaId % n]!]!;
}
