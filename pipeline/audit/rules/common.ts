import type { AuditDataset, AuditItem, AuditThresholds, Finding, MeasureStats, RuleName, RuleResult, SliceDim } from '../schema.js';
import { SLICE_DIMS } from '../schema.js';
import { aboveChance, rateStat } from '../stats.js';

/** What a model judge said about an item (only with `--judge`). */
export interface JudgeVerdict {
  /** Index of the option the blind judge picked, or null when it gave no usable answer. */
  blindChoice: number | null;
  leak: { leaks: boolean; reason: string } | null;
}

export interface RuleContext {
  dataset: AuditDataset;
  thresholds: AuditThresholds;
  /** Item id → the judge's verdicts, for the items the judge saw. */
  judge: ReadonlyMap<string, JudgeVerdict> | null;
}

export function sliceValue(item: AuditItem, dim: SliceDim): string {
  switch (dim) {
    case 'who':
      return item.who;
    case 'updated':
      return String(item.updated);
    case 'pref_type':
      return item.pref_type;
    case 'conversation_scenario':
      return item.conversation_scenario;
  }
}

/** Items that have exactly 4 options and a gold among them: the ones chance = 25% applies to. */
export function fourOptionItems(items: readonly AuditItem[]): Array<{ item: AuditItem; gold: number }> {
  const out: Array<{ item: AuditItem; gold: number }> = [];
  for (const item of items) {
    if (item.options.length !== 4) continue;
    const gold = item.options.indexOf(item.correct_answer);
    if (gold >= 0) out.push({ item, gold });
  }
  return out;
}

/**
 * A measure's rate overall and per slice value. `score` gives each record's credit (0..1) or null
 * to leave it out.
 */
export function measure<T extends { item: AuditItem }>(
  name: string,
  label: string,
  records: readonly T[],
  score: (r: T) => number | null,
  t: AuditThresholds,
): MeasureStats {
  let n = 0;
  let s = 0;
  const bySlice = new Map<string, { n: number; s: number }>();
  for (const r of records) {
    const v = score(r);
    if (v === null) continue;
    n++;
    s += v;
    for (const dim of SLICE_DIMS) {
      const key = `${dim}\u0000${sliceValue(r.item, dim)}`;
      const acc = bySlice.get(key) ?? { n: 0, s: 0 };
      acc.n++;
      acc.s += v;
      bySlice.set(key, acc);
    }
  }
  const slices = Object.fromEntries(SLICE_DIMS.map((d) => [d, {}])) as MeasureStats['slices'];
  for (const [key, acc] of [...bySlice].sort(([a], [b]) => a.localeCompare(b))) {
    const [dim, value] = key.split('\u0000') as [SliceDim, string];
    slices[dim][value] = rateStat(acc.s, acc.n, t.chance, t.confidence);
  }
  return { measure: name, label, overall: rateStat(s, n, t.chance, t.confidence), slices };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * Findings for every scope (overall, then each slice) where a measure is significantly above
 * chance, or, with `below`, significantly below it (a gold that is almost never the shortest lets
 * a solver rule that option out). A dimension with one value only repeats the overall rate and is
 * not reported again.
 */
export function chanceFindings(
  rule: RuleName,
  m: MeasureStats,
  t: AuditThresholds,
  examplesFor: (scope: { dim: SliceDim; value: string } | null, below: boolean) => string[],
  below = false,
): Finding[] {
  const out: Finding[] = [];
  const scopes: Array<{ id: string; stat: MeasureStats['overall']; scope: { dim: SliceDim; value: string } | null }> = [
    { id: 'overall', stat: m.overall, scope: null },
  ];
  for (const dim of SLICE_DIMS) {
    const values = Object.entries(m.slices[dim]);
    if (values.length < 2) continue;
    for (const [value, stat] of values) scopes.push({ id: `${dim}=${value}`, stat, scope: { dim, value } });
  }
  const ci = (stat: MeasureStats['overall']) => `${Math.round(t.confidence * 100)}% CI ${pct(stat.ci[0])}–${pct(stat.ci[1])}`;
  for (const { id, stat, scope } of scopes) {
    // Overall counts even when small; slices need `min_slice` records to speak.
    const minN = scope ? t.min_slice : 1;
    if (aboveChance(stat, t.chance, t.margin, minN)) {
      out.push({
        rule,
        id,
        message: `${m.label}: ${pct(stat.rate)} of ${stat.n} (${ci(stat)}), above chance ${pct(t.chance)}`,
        examples: examplesFor(scope, false),
        detail: { measure: m.measure, direction: 'above', n: stat.n, rate: stat.rate, ci: stat.ci, p_value: stat.p_value },
      });
    } else if (below && stat.n >= minN && stat.rate < t.chance - t.margin && stat.ci[1] < t.chance) {
      out.push({
        rule,
        id,
        message: `${m.label}: only ${pct(stat.rate)} of ${stat.n} (${ci(stat)}), below chance ${pct(t.chance)}: a solver can rule that option out`,
        examples: examplesFor(scope, true),
        detail: { measure: m.measure, direction: 'below', n: stat.n, rate: stat.rate, ci: stat.ci },
      });
    }
  }
  return out;
}

export function result(rule: RuleName, checked: number, findings: Finding[], summary: string, extra: Partial<RuleResult> = {}): RuleResult {
  return { rule, status: findings.length > 0 ? 'fail' : 'pass', summary, checked, findings, ...extra };
}

export function skippedResult(rule: RuleName, reason: string): RuleResult {
  return { rule, status: 'skipped', summary: `not checked: ${reason}`, checked: 0, findings: [], reason };
}

export { pct };
