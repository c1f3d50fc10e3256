import type { AuditReport, MeasureStats, RateStat } from './schema.js';
import { RULE_NAMES } from './schema.js';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ci = (s: RateStat) => `[${(s.ci[0] * 100).toFixed(1).padStart(4)}, ${(s.ci[1] * 100).toFixed(1).padStart(5)}]`;

function rateLine(label: string, s: RateStat, flag: string | undefined): string {
  if (s.n === 0) return `  ${label.padEnd(44)} ${'n/a'.padStart(6)}  (no question where this applies)`;
  return `  ${label.padEnd(44)} ${pct(s.rate).padStart(6)}  ${ci(s)}  ${String(s.n).padStart(6)}${flag ? `  ! ${flag}` : ''}`;
}

function measureBlock(
  title: string,
  measures: readonly MeasureStats[],
  report: AuditReport,
  flagged: ReadonlyMap<string, string>,
): string[] {
  const lines = [`${title.padEnd(46)} rate  ${Math.round(report.thresholds.confidence * 100)}% CI (%)         n`];
  if (title.startsWith('option bias')) lines.push('  (rates among questions where one option is uniquely longest, shortest, ...)');
  for (const m of measures) {
    lines.push(rateLine(m.label, m.overall, flagged.get(`${m.measure}@overall`)));
    const who = Object.entries(m.slices.who);
    if (who.length > 1) for (const [value, s] of who) lines.push(rateLine(`  who=${value}`, s, flagged.get(`${m.measure}@who=${value}`)));
  }
  return lines;
}

/** The terminal summary: input, the bias and blind-solver tables, one line per rule, and example findings. */
export function formatAuditText(report: AuditReport, maxExamples = 5): string {
  const i = report.input;
  const t = report.thresholds;
  const out: string[] = [];
  out.push(
    `audit of ${i.path} (${i.format}, ${i.layout === 'raw' ? 'raw persona files' : i.layout === 'published' ? 'published tables' : 'native dataset'}): ${i.items} questions, ${i.users} users, ${i.histories} histories`,
  );
  const splits = Object.entries(i.splits);
  if (splits.length > 1) out.push(`splits: ${splits.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (i.items_not_4_options > 0) out.push(`${i.items_not_4_options} questions without exactly 4 options are left out of the rates`);
  for (const note of i.notes) out.push(`note: ${note}`);
  if (i.skipped.length > 0)
    out.push(
      `not read: ${i.skipped.length} record(s) or file(s)${i.skipped[0] ? `, e.g. ${i.skipped[0].ref}: ${i.skipped[0].reason}` : ''}`,
    );
  out.push(
    `rates against chance ${pct(t.chance)}; "! high" marks a rate above chance + ${pct(t.margin)} with its interval above chance, "! low" the same below chance`,
  );
  out.push('');

  const flagged = (rule: 'option_bias' | 'blind_solvers') =>
    new Map(
      report.rules[rule].findings.map(
        (f) => [`${String(f.detail?.measure ?? '')}@${f.id}`, f.detail?.direction === 'below' ? 'low' : 'high'] as const,
      ),
    );
  out.push(...measureBlock('option bias', report.rules.option_bias.measures ?? [], report, flagged('option_bias')));
  const L = report.lengths;
  out.push(
    `  gold uniquely longest in ${pct(L.gold_uniquely_longest)} of all questions (limit ${pct(t.max_uniquely_longest)}); length: gold ${L.gold_mean} chars on average, distractors ${L.distractor_mean}; gold ranks 1st/2nd/3rd/4th longest ${L.gold_rank.join('/')}`,
  );
  out.push('');
  out.push(...measureBlock('blind solvers (no history)', report.rules.blind_solvers.measures ?? [], report, flagged('blind_solvers')));
  if (report.judge)
    out.push(`  judge ${report.judge.model}: ${report.judge.items} items, ${report.judge.calls} calls (${report.judge.cached} cached)`);
  out.push('');

  out.push('rules');
  for (const name of RULE_NAMES) {
    const r = report.rules[name];
    const status = r.status === 'fail' ? 'FAIL' : r.status === 'skipped' ? 'skip' : 'pass';
    const count = r.status === 'skipped' ? '' : `${r.findings.length} finding${r.findings.length === 1 ? '' : 's'}`;
    out.push(`  ${status}  ${name.padEnd(20)} ${count.padEnd(12)} ${r.summary}`);
  }
  const withFindings = RULE_NAMES.filter((n) => report.rules[n].findings.length > 0);
  if (withFindings.length > 0) {
    out.push('');
    out.push(`findings (first ${maxExamples} per rule; --json or --html for all)`);
    for (const name of withFindings) {
      const r = report.rules[name];
      out.push(`  ${name}:`);
      for (const f of r.findings.slice(0, maxExamples)) {
        out.push(`    ${f.id}: ${f.message}`);
        if (f.examples && f.examples.length > 0) out.push(`      e.g. ${f.examples.slice(0, 3).join(', ')}`);
      }
      if (r.findings.length > maxExamples) out.push(`    ... and ${r.findings.length - maxExamples} more`);
    }
  }
  if (report.gate.fail_on.length > 0) {
    out.push('');
    out.push(
      report.gate.failed.length > 0
        ? `gate: failed on ${report.gate.failed.join(', ')} (exit 1)`
        : `gate: passed (${report.gate.fail_on.length} rule(s) checked: ${report.gate.fail_on.join(', ')})`,
    );
  }
  return out.join('\n');
}
