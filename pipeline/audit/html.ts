import type { AuditReport, Finding, MeasureStats, RateStat, RuleName } from './schema.js';
import { RULE_NAMES, SLICE_DIMS } from './schema.js';

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

const COLORS = { bar: '#3b6ea8', alt: '#8fb3d9', flagged: '#c0392b', flaggedAlt: '#e59a8f', chance: '#333', margin: '#999' };

interface Bar {
  stat: RateStat;
  name: string;
  /** Shown beside the bar, before the rate. */
  short: string;
  flagged: boolean;
  alt?: boolean;
}
interface Row {
  label: string;
  bars: Bar[];
}

/** A horizontal bar chart of rates (0..1) with interval whiskers and lines at chance and chance + margin. */
function barChart(
  id: string,
  title: string,
  rows: readonly Row[],
  chance: number,
  margin: number,
  legend: Array<{ name: string; color: string }>,
): string {
  const width = 820;
  const labelW = 300;
  const right = 70;
  const plotW = width - labelW - right;
  const barH = 12;
  const gap = 8;
  const top = 34;
  const rowH = (r: Row) => r.bars.length * (barH + 2) + gap;
  const height = top + rows.reduce((n, r) => n + rowH(r), 0) + 30;
  const x = (v: number) => labelW + Math.max(0, Math.min(1, v)) * plotW;
  const parts: string[] = [];
  parts.push(
    `<svg id="${esc(id)}" class="chart" role="img" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
  );
  parts.push(`<title>${esc(title)}</title>`);
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`);
  // Grid and axis labels.
  for (let k = 0; k <= 10; k++) {
    const gx = x(k / 10);
    parts.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${height - 24}" stroke="#eee"/>`);
    parts.push(`<text x="${gx}" y="${height - 10}" font-size="10" text-anchor="middle" fill="#666">${k * 10}%</text>`);
  }
  let lx = labelW;
  for (const l of legend) {
    parts.push(
      `<rect x="${lx}" y="8" width="12" height="12" fill="${l.color}"/><text x="${lx + 16}" y="18" font-size="11">${esc(l.name)}</text>`,
    );
    lx += 24 + l.name.length * 6.2;
  }
  let y = top;
  for (const row of rows) {
    const h = rowH(row) - gap;
    parts.push(`<text x="${labelW - 8}" y="${y + h / 2 + 4}" font-size="11" text-anchor="end">${esc(row.label)}</text>`);
    for (const b of row.bars) {
      const color = b.flagged ? (b.alt ? COLORS.flaggedAlt : COLORS.flagged) : b.alt ? COLORS.alt : COLORS.bar;
      const tip = `${row.label} · ${b.name}: ${pct(b.stat.rate)} of ${b.stat.n} (CI ${pct(b.stat.ci[0])}–${pct(b.stat.ci[1])})`;
      parts.push(
        `<rect x="${labelW}" y="${y}" width="${Math.max(1, x(b.stat.rate) - labelW)}" height="${barH}" fill="${color}"><title>${esc(tip)}</title></rect>`,
      );
      const cy = y + barH / 2;
      parts.push(
        `<line x1="${x(b.stat.ci[0])}" y1="${cy}" x2="${x(b.stat.ci[1])}" y2="${cy}" stroke="#111" stroke-width="1.5"/>` +
          `<line x1="${x(b.stat.ci[0])}" y1="${cy - 4}" x2="${x(b.stat.ci[0])}" y2="${cy + 4}" stroke="#111"/>` +
          `<line x1="${x(b.stat.ci[1])}" y1="${cy - 4}" x2="${x(b.stat.ci[1])}" y2="${cy + 4}" stroke="#111"/>`,
      );
      parts.push(
        `<text x="${x(Math.max(b.stat.rate, b.stat.ci[1])) + 6}" y="${y + barH - 2}" font-size="10" fill="#333">${esc(b.short)} ${pct(b.stat.rate)} n=${b.stat.n}</text>`,
      );
      y += barH + 2;
    }
    y += gap;
  }
  parts.push(
    `<line x1="${x(chance)}" y1="${top - 6}" x2="${x(chance)}" y2="${height - 24}" stroke="${COLORS.chance}" stroke-dasharray="5 3" stroke-width="1.5"><title>chance ${pct(chance)}</title></line>`,
  );
  if (margin > 0)
    parts.push(
      `<line x1="${x(chance + margin)}" y1="${top - 6}" x2="${x(chance + margin)}" y2="${height - 24}" stroke="${COLORS.margin}" stroke-dasharray="2 3"><title>chance + margin ${pct(chance + margin)}</title></line>`,
    );
  parts.push('</svg>');
  return parts.join('');
}

function flaggedSet(report: AuditReport, rule: 'option_bias' | 'blind_solvers'): Set<string> {
  return new Set(report.rules[rule].findings.map((f) => `${String(f.detail?.measure ?? '')}@${f.id}`));
}

function biasChart(report: AuditReport): string {
  const measures = report.rules.option_bias.measures ?? [];
  const longest = measures.find((m) => m.measure === 'longest');
  const shortest = measures.find((m) => m.measure === 'shortest');
  if (!longest || !shortest) return '<p>No question with 4 options.</p>';
  const flagged = flaggedSet(report, 'option_bias');
  const rows: Row[] = [];
  const rowFor = (label: string, scope: string, a: RateStat, b: RateStat): Row => ({
    label,
    bars: [
      { stat: a, name: 'gold uniquely longest', short: 'longest', flagged: flagged.has(`longest@${scope}`) },
      { stat: b, name: 'gold uniquely shortest', short: 'shortest', flagged: flagged.has(`shortest@${scope}`), alt: true },
    ],
  });
  rows.push(rowFor('all questions', 'overall', longest.overall, shortest.overall));
  for (const dim of SLICE_DIMS) {
    for (const [value, stat] of Object.entries(longest.slices[dim])) {
      const other = shortest.slices[dim][value];
      if (other) rows.push(rowFor(`${dim === 'conversation_scenario' ? 'scenario' : dim} = ${value}`, `${dim}=${value}`, stat, other));
    }
  }
  return barChart('chart-bias', 'Gold option length bias per slice', rows, report.thresholds.chance, report.thresholds.margin, [
    { name: 'gold uniquely longest', color: COLORS.bar },
    { name: 'gold uniquely shortest', color: COLORS.alt },
    { name: 'finding', color: COLORS.flagged },
  ]);
}

function blindChart(report: AuditReport): string {
  const measures = report.rules.blind_solvers.measures ?? [];
  if (measures.length === 0) return '<p>No question with 4 options.</p>';
  const flagged = flaggedSet(report, 'blind_solvers');
  const rows: Row[] = measures.map((m: MeasureStats) => ({
    label: m.measure === 'judge' ? `model judge (${report.judge?.model ?? ''})` : m.measure.replace(/_/g, ' '),
    bars: [
      { stat: m.overall, name: 'all', short: 'all', flagged: flagged.has(`${m.measure}@overall`) },
      ...Object.entries(m.slices.who).map(([who, stat]) => ({
        stat,
        name: `who=${who}`,
        short: `who=${who}`,
        flagged: flagged.has(`${m.measure}@who=${who}`),
        alt: true,
      })),
    ],
  }));
  return barChart('chart-blind', 'Blind-solver accuracy vs chance', rows, report.thresholds.chance, report.thresholds.margin, [
    { name: 'all questions', color: COLORS.bar },
    { name: 'per who slice', color: COLORS.alt },
    { name: 'finding', color: COLORS.flagged },
  ]);
}

function measureTable(measures: readonly MeasureStats[]): string {
  const head = '<tr><th>measure</th><th>scope</th><th>rate</th><th>CI</th><th>n</th><th>p (vs chance)</th></tr>';
  const rows: string[] = [];
  for (const m of measures) {
    const cells = (scope: string, s: RateStat) =>
      `<tr><td>${esc(m.label)}</td><td>${esc(scope)}</td><td>${pct(s.rate)}</td><td>${pct(s.ci[0])}–${pct(s.ci[1])}</td><td>${s.n}</td><td>${s.p_value.toPrecision(3)}</td></tr>`;
    rows.push(cells('all', m.overall));
    for (const dim of SLICE_DIMS) for (const [v, s] of Object.entries(m.slices[dim])) rows.push(cells(`${dim}=${v}`, s));
  }
  return `<details><summary>All rates (${rows.length})</summary><table>${head}${rows.join('')}</table></details>`;
}

const detailText = (f: Finding, key: string) => {
  const v = f.detail?.[key];
  return Array.isArray(v) ? v.join(', ') : v === undefined || v === null ? '' : String(v);
};

function findingsTable(rule: RuleName, findings: readonly Finding[], limit: number): string {
  if (findings.length === 0) return '<p class="ok">No findings.</p>';
  const cols: Array<[string, (f: Finding) => string]> =
    rule === 'query_leakage'
      ? [
          ['query', (f) => detailText(f, 'query')],
          ['preference', (f) => detailText(f, 'preference')],
          ['shared / reason', (f) => detailText(f, 'shared') || detailText(f, 'reason')],
        ]
      : rule === 'explicitness'
        ? [
            ['preference', (f) => detailText(f, 'preference')],
            ['user says', (f) => detailText(f, 'sentence')],
          ]
        : [['finding', (f) => f.message + (f.examples?.length ? ` (e.g. ${f.examples.slice(0, 3).join(', ')})` : '')]];
  const head = `<tr><th>id</th>${cols.map(([c]) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const body = findings
    .slice(0, limit)
    .map((f) => `<tr><td class="id">${esc(f.id)}</td>${cols.map(([, get]) => `<td>${esc(get(f))}</td>`).join('')}</tr>`)
    .join('');
  const more = findings.length > limit ? `<p>... and ${findings.length - limit} more (see --json).</p>` : '';
  return `<table>${head}${body}</table>${more}`;
}

/** The self-contained report page: inline SVG charts, no scripts, nothing fetched. */
export function renderAuditHtml(report: AuditReport, options: { maxRows?: number } = {}): string {
  const limit = options.maxRows ?? 50;
  const i = report.input;
  const t = report.thresholds;
  const ruleRows = RULE_NAMES.map((name) => {
    const r = report.rules[name];
    return `<tr class="${r.status}"><td><a href="#rule-${name}">${name}</a></td><td>${r.status}</td><td>${r.status === 'skipped' ? '' : r.findings.length}</td><td>${esc(r.summary)}</td></tr>`;
  }).join('');
  const sections = RULE_NAMES.filter((n) => n !== 'option_bias' && n !== 'blind_solvers')
    .map((name) => {
      const r = report.rules[name];
      const body =
        r.status === 'skipped' ? `<p class="skip">Not checked: ${esc(r.reason ?? '')}</p>` : findingsTable(name, r.findings, limit);
      return `<section id="rule-${name}"><h2>${esc(name.replace(/_/g, ' '))} <span class="badge ${r.status}">${r.status}</span></h2><p>${esc(r.summary)}</p>${body}</section>`;
    })
    .join('\n');
  const L = report.lengths;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>personagen audit: ${esc(i.path)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1100px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.id { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; min-width: 160px; max-width: 300px; }
tr.fail td:nth-child(2), .badge.fail { color: #fff; background: #c0392b; } tr.pass td:nth-child(2), .badge.pass { color: #fff; background: #2e7d32; }
tr.skipped td:nth-child(2), .badge.skipped { background: #ddd; }
.badge { font-size: 12px; padding: 1px 6px; border-radius: 3px; }
.chart { display: block; margin: 8px 0; border: 1px solid #eee; }
.note { color: #555; } .ok { color: #2e7d32; } .skip { color: #777; }
</style>
</head>
<body>
<h1>personagen audit</h1>
<p><b>${esc(i.path)}</b> · ${esc(i.format)} (${esc(i.layout)}) · ${i.items} questions · ${i.users} users · ${i.histories} histories${
    Object.keys(i.splits).length > 1
      ? ` · splits ${esc(
          Object.entries(i.splits)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
        )}`
      : ''
  }</p>
<p class="note">Rates are tested against chance (${pct(t.chance)}) with ${Math.round(t.confidence * 100)}% Wilson intervals. A rate is a finding when it is more than ${pct(t.margin)} from chance and its whole interval lies on that side (above chance for blind solvers; either side for option bias, since an option that is almost never the gold can be ruled out), in slices of at least ${t.min_slice}; the gold may be the uniquely longest option in at most ${pct(t.max_uniquely_longest)} of questions. Dashed line: chance; dotted: chance + margin.</p>
${i.notes.map((n) => `<p class="note">Note: ${esc(n)}</p>`).join('')}
<table><tr><th>rule</th><th>status</th><th>findings</th><th>summary</th></tr>${ruleRows}</table>
${report.gate.fail_on.length ? `<p>Gate (--fail-on ${esc(report.gate.fail_on.join(','))}): <b>${report.gate.failed.length ? `failed on ${esc(report.gate.failed.join(', '))}` : 'passed'}</b></p>` : ''}

<section id="rule-option_bias">
<h2>Option bias per slice <span class="badge ${report.rules.option_bias.status}">${report.rules.option_bias.status}</span></h2>
<p>${esc(report.rules.option_bias.summary)}. The gold averages ${L.gold_mean} characters, the distractors ${L.distractor_mean}; the gold ranks 1st/2nd/3rd/4th longest in ${L.gold_rank.join(' / ')} questions, and is the uniquely longest option in ${pct(L.gold_uniquely_longest)} of them (limit ${pct(t.max_uniquely_longest)}). Bars show, among the questions where one option is uniquely longest (shortest), how often it is the gold.</p>
${biasChart(report)}
${findingsTable('option_bias', report.rules.option_bias.findings, limit)}
${measureTable(report.rules.option_bias.measures ?? [])}
</section>

<section id="rule-blind_solvers">
<h2>Blind-solver accuracy vs chance <span class="badge ${report.rules.blind_solvers.status}">${report.rules.blind_solvers.status}</span></h2>
<p>${esc(report.rules.blind_solvers.summary)}. A heuristic that cannot decide scores 1/4.${report.judge ? ` Judge ${esc(report.judge.model)} saw ${report.judge.items} questions.` : ''}</p>
${blindChart(report)}
${findingsTable('blind_solvers', report.rules.blind_solvers.findings, limit)}
${measureTable(report.rules.blind_solvers.measures ?? [])}
</section>

${sections}
<p class="note">Report schema ${esc(report.schema)}.</p>
</body>
</html>
`;
}
