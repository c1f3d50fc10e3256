import { BLIND_HEURISTICS, type BlindHeuristic, blindHeuristics } from '../../../prompts/index.js';
import type { AuditItem, AuditReport, Finding, MeasureStats, RuleResult, SliceDim } from '../schema.js';
import { round } from '../stats.js';
import { type RuleContext, chanceFindings, fourOptionItems, measure, pct, result, sliceValue } from './common.js';

interface Scored {
  item: AuditItem;
  gold: number;
  picks: Record<BlindHeuristic, number | null>;
  lengths: number[];
}

/** What each no-history heuristic picks, once per item (both rules below use it). */
export function scoreItems(items: readonly AuditItem[]): Scored[] {
  return fourOptionItems(items).map(({ item, gold }) => ({
    item,
    gold,
    picks: blindHeuristics(item.user_query, item.options),
    lengths: item.options.map((o) => o.length),
  }));
}

const BIAS_LABELS: Record<BlindHeuristic, string> = {
  longest: 'gold uniquely longest',
  shortest: 'gold uniquely shortest',
  query_overlap: 'gold most similar to the query',
  odd_one_out: 'gold least similar to the others',
};

const BLIND_LABELS: Record<BlindHeuristic, string> = {
  longest: 'pick the longest',
  shortest: 'pick the shortest',
  query_overlap: 'pick the most query overlap',
  odd_one_out: 'pick the odd one out',
};

const BIAS_NAMES: Record<BlindHeuristic, string> = {
  longest: 'longest',
  shortest: 'shortest',
  query_overlap: 'most_query_similar',
  odd_one_out: 'least_similar_to_others',
};

/** Up to 5 example items of a scope: ones where the measure hits (or, for a rate below chance, misses). */
function examples(scored: readonly Scored[], hit: (s: Scored) => boolean) {
  return (scope: { dim: SliceDim; value: string } | null, below = false) =>
    scored
      .filter((s) => (!scope || sliceValue(s.item, scope.dim) === scope.value) && hit(s) !== below)
      .slice(0, 5)
      .map((s) => s.item.id);
}

/** Length profile of the options: the gold's mean length, the distractors', and the gold's length rank. */
export function lengthProfile(scored: readonly Scored[]): AuditReport['lengths'] {
  let gold = 0;
  let other = 0;
  const rank = [0, 0, 0, 0];
  for (const s of scored) {
    gold += s.lengths[s.gold]!;
    other += s.lengths.reduce((a, b) => a + b, 0) - s.lengths[s.gold]!;
    const longer = s.lengths.filter((l) => l > s.lengths[s.gold]!).length;
    rank[Math.min(3, longer)]!++;
  }
  const n = scored.length;
  const uniquely = scored.filter((s) => s.picks.longest === s.gold).length;
  return {
    gold_mean: n ? round(gold / n, 1) : 0,
    distractor_mean: n ? round(other / (3 * n), 1) : 0,
    gold_rank: rank,
    gold_uniquely_longest: n ? round(uniquely / n, 4) : 0,
  };
}

/**
 * Option bias: how often the gold stands out (uniquely longest, shortest, closest to the query, the
 * odd one out), among the questions where one option does stand out that way, so chance is 1/4 in
 * both directions. Separately, the share of all questions whose gold is the uniquely longest option
 * may not exceed `max_uniquely_longest`.
 */
export function optionBias(scored: readonly Scored[], ctx: RuleContext): RuleResult {
  const t = ctx.thresholds;
  const measures: MeasureStats[] = BLIND_HEURISTICS.map((h) =>
    measure(BIAS_NAMES[h], BIAS_LABELS[h], scored, (s) => (s.picks[h] === null ? null : s.picks[h] === s.gold ? 1 : 0), t),
  );
  const findings: Finding[] = [];
  BLIND_HEURISTICS.forEach((h, i) => {
    findings.push(
      ...chanceFindings(
        'option_bias',
        measures[i]!,
        t,
        examples(scored, (s) => s.picks[h] === s.gold),
        true,
      ),
    );
  });
  const share = lengthProfile(scored).gold_uniquely_longest;
  const rates = measures.map((m) => (m.overall.n ? `${pct(m.overall.rate)} (n=${m.overall.n})` : 'n/a'));
  if (scored.length > 0 && share > t.max_uniquely_longest) {
    findings.unshift({
      rule: 'option_bias',
      id: 'overall',
      message: `gold is the uniquely longest option in ${pct(share)} of ${scored.length} questions, over the limit of ${pct(t.max_uniquely_longest)}`,
      examples: examples(scored, (s) => s.picks.longest === s.gold)(null),
      detail: { measure: 'uniquely_longest_share', n: scored.length, rate: share, limit: t.max_uniquely_longest },
    });
  }
  return result(
    'option_bias',
    scored.length,
    findings,
    `gold uniquely longest in ${pct(share)} of ${scored.length} questions; where one option stands out, the gold is the longest ${rates[0]}, the shortest ${rates[1]}, the most query-like ${rates[2]}, the odd one out ${rates[3]} (chance ${pct(t.chance)})`,
    { measures },
  );
}

/**
 * Blind solvers: accuracy of no-history strategies. A heuristic that cannot decide (a tie, or no
 * query overlap at all) guesses, and scores 1/4: its expected score.
 */
export function blindSolvers(scored: readonly Scored[], ctx: RuleContext): RuleResult {
  const t = ctx.thresholds;
  const credit = (pick: number | null, gold: number) => (pick === null ? 0.25 : pick === gold ? 1 : 0);
  const measures: MeasureStats[] = BLIND_HEURISTICS.map((h) => measure(h, BLIND_LABELS[h], scored, (s) => credit(s.picks[h], s.gold), t));
  const judge = ctx.judge;
  if (judge) {
    measures.push(
      measure(
        'judge',
        'model judge, no history',
        scored,
        (s) => {
          const v = judge.get(s.item.id);
          if (!v) return null;
          return credit(v.blindChoice, s.gold);
        },
        t,
      ),
    );
  }
  const findings: Finding[] = [];
  for (const m of measures) {
    const h = m.measure as BlindHeuristic | 'judge';
    const hit = (s: Scored) => (h === 'judge' ? judge?.get(s.item.id)?.blindChoice === s.gold : s.picks[h] === s.gold);
    findings.push(...chanceFindings('blind_solvers', m, t, examples(scored, hit)));
  }
  const parts = measures.map((m) => `${m.measure} ${pct(m.overall.rate)}`).join(', ');
  return result('blind_solvers', scored.length, findings, `accuracy without history: ${parts} (chance ${pct(t.chance)})`, { measures });
}
