import type { Catalog } from '../../scenarios/index.js';
import type { Config } from '../config/index.js';
import type { Rng } from '../core/rng.js';
import type { Tokenizer } from '../core/tokenizer.js';
import type { LlmClient } from '../llm/client.js';
import type { UsageLedger } from '../llm/usage.js';

/** What a stage may use. No queues, files or processes: those belong to the executors. */
export interface StageContext {
  config: Config;
  llm: LlmClient;
  /** Usage of the calls this piece of work makes (kept with its artifact). */
  ledger: UsageLedger;
  /** A random source for a scope under the run seed, e.g. `rng('user', 3, 'branches')`. */
  rng: (...scope: Array<string | number>) => Rng;
  tokenizer: Tokenizer;
  catalog: Catalog;
  signal?: AbortSignal | undefined;
}
