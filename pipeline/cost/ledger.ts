import type { Tokenizer } from '../core/tokenizer.js';
import { type UsageRow, usageRowId } from '../llm/usage.js';
import { type Prices, roundUsd, usdOf } from './prices.js';

/** Token counts and their price at standard and at batch rates. */
export interface CostFigures {
  calls: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  usd: number;
  usd_batch: number;
}

export interface PricedRow extends CostFigures {
  stage: string;
  provider: string;
  model: string;
}

export const emptyFigures = (): CostFigures => ({
  calls: 0,
  input_tokens: 0,
  output_tokens: 0,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
  usd: 0,
  usd_batch: 0,
});

/** Adds `b` into `a` (USD unrounded; round once when reporting). */
export function addFigures(a: CostFigures, b: CostFigures): CostFigures {
  a.calls += b.calls;
  a.input_tokens += b.input_tokens;
  a.output_tokens += b.output_tokens;
  a.cache_read_tokens += b.cache_read_tokens;
  a.cache_write_tokens += b.cache_write_tokens;
  a.usd += b.usd;
  a.usd_batch += b.usd_batch;
  return a;
}

export function roundFigures<T extends CostFigures>(f: T): T {
  return { ...f, usd: roundUsd(f.usd), usd_batch: roundUsd(f.usd_batch) };
}

/** Every token billed: input, output and both kinds of cache tokens. */
export function billedTokens(f: Pick<CostFigures, 'input_tokens' | 'output_tokens' | 'cache_read_tokens' | 'cache_write_tokens'>): number {
  return f.input_tokens + f.output_tokens + f.cache_read_tokens + f.cache_write_tokens;
}

/**
 * Prices ledger rows. Each row counts every response the work was built from, fresh or from the
 * response cache (`calls + cacheHits`): whether an answer came from the cache depends on how the
 * run was scheduled (a unit redone after a crash finds its calls cached), not on the dataset, so
 * this is what the dataset cost to make, the same however many times it was resumed.
 */
export function priceRows(rows: readonly UsageRow[], prices: Prices): { rows: PricedRow[]; unpriced: string[] } {
  const unpriced = new Set<string>();
  const priced = rows.map((r) => {
    const price = prices.find(r.model);
    if (!price) unpriced.add(r.model);
    const usage = {
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
      cacheReadTokens: r.cacheReadTokens,
      cacheWriteTokens: r.cacheWriteTokens,
    };
    return {
      stage: r.stage,
      provider: r.provider,
      model: r.model,
      calls: r.calls + r.cacheHits,
      input_tokens: r.inputTokens,
      output_tokens: r.outputTokens,
      cache_read_tokens: r.cacheReadTokens,
      cache_write_tokens: r.cacheWriteTokens,
      usd: price ? usdOf(usage, price, 'standard') : 0,
      usd_batch: price ? usdOf(usage, price, 'batch') : 0,
    };
  });
  return { rows: priced, unpriced: [...unpriced].sort() };
}

/** Sums rows under a key, sorted by it. */
export function rollUp<K extends string>(rows: readonly PricedRow[], keyOf: (r: PricedRow) => K): Array<{ key: K } & CostFigures> {
  const groups = new Map<K, CostFigures>();
  for (const r of rows) {
    const k = keyOf(r);
    addFigures(groups.get(k) ?? groups.set(k, emptyFigures()).get(k)!, r);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, f]) => ({ key, ...f }));
}

/** Usage rows added between two snapshots of one ledger (a user's share of a running total). */
export function usageSince(before: readonly UsageRow[], after: readonly UsageRow[]): UsageRow[] {
  const prior = new Map(before.map((r) => [usageRowId(r), r]));
  const out: UsageRow[] = [];
  for (const r of after) {
    const p = prior.get(usageRowId(r));
    const d: UsageRow = p
      ? {
          ...r,
          calls: r.calls - p.calls,
          cacheHits: r.cacheHits - p.cacheHits,
          inputTokens: r.inputTokens - p.inputTokens,
          outputTokens: r.outputTokens - p.outputTokens,
          cacheReadTokens: r.cacheReadTokens - p.cacheReadTokens,
          cacheWriteTokens: r.cacheWriteTokens - p.cacheWriteTokens,
        }
      : { ...r };
    if (d.calls + d.cacheHits > 0) out.push(d);
  }
  return out;
}

/** Tokens of the text a dataset is made of: every session, every filler conversation, every question's query and options. */
export function datasetTextTokens(input: {
  sessionTokens: number;
  filler: ReadonlyArray<{ tokens: number }>;
  questionTokens: number;
}): number {
  let n = input.sessionTokens + input.questionTokens;
  for (const f of input.filler) n += f.tokens;
  return n;
}

/** Tokens of a question's text as a dataset reader sees it: the query and the four options. */
export function questionTextTokens(q: { user_query: string; options: readonly string[] }, tokenizer: Tokenizer): number {
  let n = tokenizer.count(q.user_query);
  for (const o of q.options) n += tokenizer.count(o);
  return n;
}

/** Token efficiency: what was billed per accepted question and per token of dataset text. */
export function efficiency(total: CostFigures, acceptedQuestions: number, textTokens: number) {
  const billed = billedTokens(total);
  const per = (n: number, d: number, digits: number) => (d > 0 ? Number((n / d).toFixed(digits)) : null);
  return {
    accepted_questions: acceptedQuestions,
    billed_tokens: billed,
    billed_tokens_per_question: per(billed, acceptedQuestions, 1),
    input_tokens_per_question: per(total.input_tokens + total.cache_read_tokens + total.cache_write_tokens, acceptedQuestions, 1),
    output_tokens_per_question: per(total.output_tokens, acceptedQuestions, 1),
    usd_per_question: per(total.usd, acceptedQuestions, 6),
    usd_batch_per_question: per(total.usd_batch, acceptedQuestions, 6),
    dataset_text_tokens: textTokens,
    billed_tokens_per_dataset_token: per(billed, textTokens, 3),
  };
}

/**
 * The manifest's `cost` block: the run's usage priced by stage, model and user, with token
 * efficiency. Built only from stored artifacts and the config's prices, so it is deterministic.
 */
export function manifestCost(input: {
  prices: Prices;
  usage: readonly UsageRow[];
  byUser: ReadonlyArray<{ user: number; usage: readonly UsageRow[] }>;
  acceptedQuestions: number;
  textTokens: number;
}) {
  const { rows, unpriced } = priceRows(input.usage, input.prices);
  const total = rows.reduce((t, r) => addFigures(t, r), emptyFigures());
  let perUserUsd = 0;
  let perUserBatch = 0;
  const byUser = input.byUser.map(({ user, usage }) => {
    const f = priceRows(usage, input.prices).rows.reduce((t, r) => addFigures(t, r), emptyFigures());
    perUserUsd += f.usd;
    perUserBatch += f.usd_batch;
    return { user, ...roundFigures(f) };
  });
  return {
    currency: 'USD',
    prices_read_on: input.prices.readOn,
    basis: 'every response the dataset was built from, priced once at list prices: usd at standard rates, usd_batch at batch rates',
    total: roundFigures(total),
    by_stage: rows.map(roundFigures),
    by_model: rollUp(rows, (r) => `${r.provider}:${r.model}`).map(({ key, ...f }) => ({ model: key, ...roundFigures(f) })),
    by_user: byUser,
    // The filler pool serves every user's histories, so it belongs to none of them.
    shared: { usd: roundUsd(total.usd - perUserUsd), usd_batch: roundUsd(total.usd_batch - perUserBatch) },
    unpriced_models: unpriced,
    efficiency: efficiency(total, input.acceptedQuestions, input.textTokens),
  };
}
