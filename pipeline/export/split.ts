import { PersonagenError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { SplitName } from './layout.js';

/** The fields whose every value the benchmark split must hold at least once (as published). */
export const COVERAGE_FIELDS = ['persona_id', 'conversation_scenario', 'pref_type', 'who', 'updated', 'sensitive_info'] as const;
export type CoverageField = (typeof COVERAGE_FIELDS)[number];

export interface SplitItem {
  id: string;
  persona_id: number;
  conversation_scenario: string;
  pref_type: string;
  who: string;
  updated: boolean;
  sensitive_info: boolean;
}

export interface SplitOptions {
  /** Questions in the benchmark split; all of them when the dataset has fewer. @default 5000 */
  benchmarkSize: number;
  /** Shares of the remaining questions for train and val. @default [0.9, 0.1] */
  ratios: readonly [number, number];
  seed: string;
}

export interface SplitResult {
  /** Question ids per split, in the input order. */
  splits: Record<SplitName, string[]>;
  /** Ids picked to cover a value, before the benchmark was filled at random. */
  coverage: number;
}

const valueKey = (field: CoverageField, item: SplitItem) => `${field}=${String(item[field])}`;

/** Parses `--split 0.9,0.1`: two non-negative shares that add up to 1. */
export function parseRatios(text: string): [number, number] {
  const parts = text.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 2 || nums.some((n) => !Number.isFinite(n) || n < 0) || Math.abs(nums[0]! + nums[1]! - 1) > 1e-6) {
    throw new PersonagenError('bad_input', `Expected \`split\` to be two non-negative shares adding up to 1, like 0.9,0.1; got ${text}`);
  }
  return [nums[0]!, nums[1]!];
}

/**
 * Splits questions as the published benchmark does: a benchmark split of `benchmarkSize` that holds
 * every value of every coverage field, then the rest into train and val, stratified by question
 * kind (pref_type, who, updated, sensitive_info) so each kind keeps its share in both. Every
 * choice draws from an Rng derived from the seed, and items are sorted by id first, so the same
 * seed and questions give the same split whatever order they came in.
 */
export function splitQuestions(items: readonly SplitItem[], options: SplitOptions): SplitResult {
  const { benchmarkSize, ratios, seed } = options;
  if (!Number.isInteger(benchmarkSize) || benchmarkSize < 1) {
    throw new PersonagenError('bad_input', `Expected \`benchmark-size\` to be an integer >= 1, got ${benchmarkSize}`);
  }
  const byId = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const order = Rng.derive(seed, 'export', 'split', 'benchmark').shuffle(byId);
  const benchmark = new Set<string>();

  // Coverage: rarest value first; among the questions holding it, the one that covers the most
  // values still missing, ties broken by the seeded order.
  const holders = new Map<string, SplitItem[]>();
  for (const item of order) {
    for (const f of COVERAGE_FIELDS) {
      const k = valueKey(f, item);
      const list = holders.get(k);
      if (list) list.push(item);
      else holders.set(k, [item]);
    }
  }
  const missing = new Set(holders.keys());
  const needs = [...holders.entries()].sort(([ka, a], [kb, b]) => a.length - b.length || (ka < kb ? -1 : 1)).map(([k]) => k);
  for (const need of needs) {
    if (!missing.has(need)) continue;
    let best: SplitItem | undefined;
    let bestGain = -1;
    for (const item of holders.get(need)!) {
      const gain = COVERAGE_FIELDS.filter((f) => missing.has(valueKey(f, item))).length;
      if (gain > bestGain) {
        best = item;
        bestGain = gain;
      }
    }
    benchmark.add(best!.id);
    for (const f of COVERAGE_FIELDS) missing.delete(valueKey(f, best!));
  }
  const coverage = benchmark.size;
  const size = Math.min(benchmarkSize, items.length);
  if (coverage > size) {
    throw new PersonagenError(
      'bad_input',
      `a benchmark split of ${size} questions cannot hold every persona and value: covering them takes ${coverage}; raise --benchmark-size`,
    );
  }
  for (const item of order) {
    if (benchmark.size >= size) break;
    benchmark.add(item.id);
  }

  // The rest: per stratum, in seeded order, val gets its share by largest remainder so the
  // total val count is the rounded share of the rest.
  const rest = byId.filter((item) => !benchmark.has(item.id));
  const strata = new Map<string, SplitItem[]>();
  for (const item of rest) {
    const key = `${item.pref_type}|${item.who}|${item.updated}|${item.sensitive_info}`;
    const list = strata.get(key);
    if (list) list.push(item);
    else strata.set(key, [item]);
  }
  const valTotal = Math.round(rest.length * ratios[1]);
  const keys = [...strata.keys()].sort();
  const quotas = keys.map((k) => {
    const exact = strata.get(k)!.length * ratios[1];
    return { k, base: Math.floor(exact), frac: exact - Math.floor(exact) };
  });
  let left = valTotal - quotas.reduce((n, q) => n + q.base, 0);
  const tieRng = Rng.derive(seed, 'export', 'split', 'remainders');
  const byFrac = tieRng.shuffle(quotas).sort((a, b) => b.frac - a.frac);
  const extra = new Set<string>();
  for (const q of byFrac) {
    if (left <= 0) break;
    extra.add(q.k);
    left--;
  }
  const val = new Set<string>();
  for (const q of quotas) {
    const members = Rng.derive(seed, 'export', 'split', 'stratum', q.k).shuffle(strata.get(q.k)!);
    for (const item of members.slice(0, q.base + (extra.has(q.k) ? 1 : 0))) val.add(item.id);
  }

  const splits: Record<SplitName, string[]> = { benchmark: [], train: [], val: [] };
  for (const item of items) {
    if (benchmark.has(item.id)) splits.benchmark.push(item.id);
    else if (val.has(item.id)) splits.val.push(item.id);
    else splits.train.push(item.id);
  }
  return { splits, coverage };
}

/** Values of each coverage field missing from a split (empty when the split covers everything). */
export function missingCoverage(all: readonly SplitItem[], split: readonly SplitItem[]): string[] {
  const have = new Set(split.flatMap((item) => COVERAGE_FIELDS.map((f) => valueKey(f, item))));
  const want = new Set(all.flatMap((item) => COVERAGE_FIELDS.map((f) => valueKey(f, item))));
  return [...want].filter((k) => !have.has(k)).sort();
}
