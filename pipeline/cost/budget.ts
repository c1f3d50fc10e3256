import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type Config, LLM_STAGES, stageModel, stageProvider } from '../config/index.js';
import { PersonagenError } from '../core/errors.js';
import { readIfExists, writeFileAtomic } from '../core/files.js';
import type { Tokenizer } from '../core/tokenizer.js';
import { type Runtime, STORE_DIR } from '../engine/runtime.js';
import type { CallGuard, CallMeta, CallTicket } from '../llm/client.js';
import type { LlmRequest, LlmUsage } from '../llm/types.js';
import { type BillingMode, type Prices, pricesFor, roundUsd, usdOf } from './prices.js';

/** Exit code of a run stopped by its cost cap. */
export const BUDGET_EXIT_CODE = 3;

/** A run stopped before its spend would pass the cap; finished work is kept. */
export class BudgetExceededError extends PersonagenError {
  readonly capUsd: number;
  readonly spentUsd: number;
  constructor(details: { capUsd: number; spentUsd: number; nextUsd: number; dir: string | undefined }) {
    const { capUsd, spentUsd, nextUsd, dir } = details;
    super(
      'aborted',
      `stopped at the cost cap: $${spentUsd.toFixed(4)} spent of $${capUsd.toFixed(4)}, and the next call (about $${nextUsd.toFixed(4)}) would pass it. ` +
        `Finished work is kept; continue with \`personagen resume ${dir ?? 'DIR'} --max-cost <higher cap>\`.`,
    );
    this.name = 'BudgetExceededError';
    this.capUsd = capUsd;
    this.spentUsd = spentUsd;
  }
}

/** What one process has spent on model calls. */
export const Spend = z.object({
  usd: z.number().min(0),
  calls: z.number().int().min(0),
  input_tokens: z.number().int().min(0),
  output_tokens: z.number().int().min(0),
  cache_read_tokens: z.number().int().min(0),
  cache_write_tokens: z.number().int().min(0),
});
export type Spend = z.infer<typeof Spend>;

const zeroSpend = (): Spend => ({ usd: 0, calls: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 });

/**
 * Where spend is kept so that a resumed run, and every process of a distributed one, counts what
 * the others paid. The default keeps one small file per process in the run store; an executor with
 * a shared database (Redis) may pass its own.
 */
export interface SpendStore {
  /** Spend of every other process of the run, as last read. */
  others(): Promise<Spend>;
  /** Records this process's running total (the store may write it later; `flush` writes it now). */
  save(own: Spend): void;
  flush(): Promise<void>;
}

/** One JSON file per process under DIR/.run/cost/: `spend-<process>.json`, written atomically and coalesced. */
export class FileSpendStore implements SpendStore {
  private readonly file: string;
  private pending: Spend | undefined;
  private writing: Promise<void> | undefined;

  constructor(private readonly dir: string) {
    this.file = join(dir, `spend-${process.pid}-${randomBytes(4).toString('hex')}.json`);
  }

  async others(): Promise<Spend> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return zeroSpend();
    }
    const total = zeroSpend();
    for (const name of names) {
      if (!name.startsWith('spend-') || !name.endsWith('.json') || join(this.dir, name) === this.file) continue;
      const text = await readIfExists(join(this.dir, name));
      const parsed = text === undefined ? undefined : Spend.safeParse(safeJson(text));
      if (!parsed?.success) continue; // a torn write cannot happen (atomic rename); an odd file is ignored
      for (const k of Object.keys(total) as Array<keyof Spend>) total[k] += parsed.data[k];
    }
    return total;
  }

  save(own: Spend): void {
    this.pending = { ...own };
    if (!this.writing) this.writing = this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending) {
        const next = this.pending;
        this.pending = undefined;
        await writeFileAtomic(this.file, JSON.stringify(next) + '\n');
      }
    } finally {
      this.writing = undefined;
    }
  }

  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export interface CostMeterOptions {
  prices: Prices;
  /** The cap in USD; undefined: no cap, the meter only counts. */
  maxCostUsd?: number | undefined;
  /** Providers whose calls go through a batch API and are billed at batch prices. */
  batched?: ReadonlySet<string> | undefined;
  store: SpendStore;
  /** Counts the input tokens of a request before it is sent. */
  tokenizer: Tokenizer;
  /** How often other processes' spend is re-read while a cap is set, in milliseconds. @default 5000 */
  refreshMs?: number | undefined;
  /** The run directory, named in the message of a stopped run. */
  dir?: string | undefined;
}

/**
 * Counts what model calls cost and enforces the cap. Before each call that reaches a provider the
 * LlmClient asks `admit`: the call is let through when everything spent (by this and every other
 * process of the run) plus the calls in flight plus this call's expected price stays within the
 * cap. Otherwise the meter trips: it waits for the calls in flight to finish (their answers are
 * kept in the response cache), saves the spend, and throws BudgetExceededError to this caller and
 * every later one, so no new work starts.
 *
 * The expected price of a call is its input (counted) and the mean output of the calls of its stage
 * so far (half the request's token limit before the first); the spend counted is what providers
 * report.
 */
export class CostMeter implements CallGuard {
  private own = zeroSpend();
  private othersSpend = zeroSpend();
  private lastRefresh = 0;
  private reservedUsd = 0;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  /** Set once a call would pass the cap: the cap and the price of that call. */
  private tripped: { capUsd: number; nextUsd: number } | undefined;
  private readonly outputStats = new Map<string, { calls: number; tokens: number }>();
  private readonly schemaTokens = new WeakMap<object, number>();
  private readonly unpriced = new Set<string>();

  private constructor(private readonly options: CostMeterOptions) {}

  static async open(options: CostMeterOptions): Promise<CostMeter> {
    const meter = new CostMeter(options);
    meter.othersSpend = await options.store.others();
    meter.lastRefresh = Date.now();
    return meter;
  }

  /** The cap, if any. */
  get capUsd(): number | undefined {
    return this.options.maxCostUsd;
  }

  /** USD spent by the whole run so far, as far as this process knows. */
  get spentUsd(): number {
    return this.othersSpend.usd + this.own.usd;
  }

  /** What this process spent. */
  get spentHere(): Spend {
    return { ...this.own, usd: roundUsd(this.own.usd) };
  }

  /** Models called that have no price (counted as free). */
  get unpricedModels(): string[] {
    return [...this.unpriced].sort();
  }

  async admit(call: CallMeta, request: LlmRequest): Promise<CallTicket> {
    if (this.tripped) return this.refuse(this.tripped);
    const price = this.options.prices.find(call.model);
    if (!price) this.unpriced.add(call.model);
    const mode: BillingMode = this.options.batched?.has(call.provider) ? 'batch' : 'standard';
    const expected = price ? usdOf(this.expectedUsage(call, request), price, mode) : 0;
    const cap = this.options.maxCostUsd;
    if (cap !== undefined) {
      await this.refreshOthers();
      if (this.tripped) return this.refuse(this.tripped);
      if (this.spentUsd + this.reservedUsd + expected > cap) {
        this.tripped = { capUsd: cap, nextUsd: expected };
        return this.refuse(this.tripped);
      }
    }
    this.reservedUsd += expected;
    this.inFlight++;
    let open = true;
    const close = () => {
      if (!open) return false;
      open = false;
      this.reservedUsd -= expected;
      this.inFlight--;
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      return true;
    };
    return {
      settle: (usage: LlmUsage) => {
        if (!close()) return;
        const key = `${call.stage}\u0000${call.model}`;
        const stats = this.outputStats.get(key) ?? { calls: 0, tokens: 0 };
        stats.calls++;
        stats.tokens += usage.outputTokens;
        this.outputStats.set(key, stats);
        this.own.usd += price ? usdOf(usage, price, mode) : 0;
        this.own.calls++;
        this.own.input_tokens += usage.inputTokens;
        this.own.output_tokens += usage.outputTokens;
        this.own.cache_read_tokens += usage.cacheReadTokens;
        this.own.cache_write_tokens += usage.cacheWriteTokens;
        this.options.store.save(this.own);
      },
      cancel: () => void close(),
    };
  }

  /** Resolves when no admitted call is in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Writes this process's spend now. */
  async close(): Promise<void> {
    await this.options.store.flush();
  }

  /**
   * Spent so far and, once some work is done, the projected total: spend per finished unit of
   * progress times all of it. For the progress bar.
   */
  describe(done: number, total: number): string {
    const spent = this.spentUsd;
    const projected = done > 0 && total > 0 ? (spent / done) * total : undefined;
    const cap = this.options.maxCostUsd;
    return [
      `$${spent.toFixed(2)} spent`,
      projected !== undefined ? `~$${projected.toFixed(2)} projected` : '',
      cap !== undefined ? `cap $${cap.toFixed(2)}` : '',
      this.unpriced.size ? `unpriced: ${this.unpricedModels.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(', ');
  }

  private async refuse(tripped: { capUsd: number; nextUsd: number }): Promise<never> {
    // Let the calls in flight finish and keep their answers before anyone reports the stop.
    await this.idle();
    await this.options.store.flush();
    throw new BudgetExceededError({ ...tripped, spentUsd: this.spentUsd, dir: this.options.dir });
  }

  private async refreshOthers(): Promise<void> {
    const every = this.options.refreshMs ?? 5000;
    if (Date.now() - this.lastRefresh < every) return;
    this.lastRefresh = Date.now();
    this.othersSpend = await this.options.store.others();
  }

  private expectedUsage(call: CallMeta, request: LlmRequest): LlmUsage {
    const { tokenizer } = this.options;
    let schema = this.schemaTokens.get(request.output.jsonSchema);
    if (schema === undefined) {
      schema = tokenizer.count(JSON.stringify(request.output.jsonSchema));
      this.schemaTokens.set(request.output.jsonSchema, schema);
    }
    const input = tokenizer.count(request.system) + request.messages.reduce((n, m) => n + tokenizer.count(m.content), 0) + schema;
    const stats = this.outputStats.get(`${call.stage}\u0000${call.model}`);
    const output = stats && stats.calls > 0 ? stats.tokens / stats.calls : request.maxTokens / 2;
    return { inputTokens: input, outputTokens: Math.min(request.maxTokens, output), cacheReadTokens: 0, cacheWriteTokens: 0 };
  }
}

/** Directory of the spend files of a run. */
export function spendDir(runDir: string): string {
  return join(runDir, STORE_DIR, 'cost');
}

/**
 * Opens the meter of a run and installs it as the guard of the runtime's LlmClient. Every executor
 * calls this once per process (the local executor through `runConfig`; a BullMQ worker after it
 * builds its runtime), and `close()` at the end. With a cap set, every model the config uses must
 * have a price.
 */
export async function openCostMeter(
  rt: Pick<Runtime, 'config' | 'dir' | 'llm' | 'tokenizer'>,
  options: { store?: SpendStore | undefined; refreshMs?: number | undefined } = {},
): Promise<CostMeter> {
  const { config } = rt;
  const prices = pricesFor(config);
  const maxCostUsd = config.budget?.max_cost_usd;
  if (maxCostUsd !== undefined) {
    for (const stage of LLM_STAGES) prices.require(stageModel(config, stage));
  }
  const meter = await CostMeter.open({
    prices,
    maxCostUsd,
    batched: batchedProviders(config),
    store: options.store ?? new FileSpendStore(spendDir(rt.dir)),
    tokenizer: rt.tokenizer,
    refreshMs: options.refreshMs,
    dir: rt.dir,
  });
  rt.llm.setCallGuard(meter);
  return meter;
}

/** Providers a config sends through batch APIs (the offline provider never is). */
export function batchedProviders(config: Pick<Config, 'batch' | 'llm'>): Set<string> {
  if (!config.batch?.enabled) return new Set();
  const used = new Set(LLM_STAGES.map((s) => stageProvider(config as Config, s)));
  used.delete('offline');
  return used;
}
