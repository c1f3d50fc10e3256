/** One row of the benchmark table, and how the table is printed. */
export interface Row {
  /** Which benchmark: "end to end", "scaling", "tokenizer", ... */
  bench: string;
  /** What was measured: executor, size, implementation. */
  case: string;
  /** The figure, formatted. */
  result: string;
  /** The reference measured in the same run, formatted (empty when there is none). */
  reference: string;
  /** result against reference, formatted. */
  ratio: string;
  /** "3 (median)", "1", "not available". */
  runs: string;
  /** The raw figures, for --json. */
  figures: Record<string, number | string | boolean | null>;
}

export function notAvailable(bench: string, what: string, reason: string): Row {
  return {
    bench,
    case: what,
    result: `not available: ${reason}`,
    reference: '',
    ratio: '',
    runs: '0',
    figures: { available: false, reason },
  };
}

export const runsLabel = (n: number): string => (n > 1 ? `${n} (median)` : String(n));

export const mb = (kb: number | undefined): string => (kb === undefined || !Number.isFinite(kb) ? 'n/a' : `${Math.round(kb / 1024)} MB`);

/** A number with thousands separators and `digits` decimals. */
export function num(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const escape = (cell: string) => cell.replaceAll('|', '\\|');

/** A Markdown table (it reads as plain text in a terminal, and pastes into the README as is). */
export function formatTable(rows: readonly Row[]): string {
  const header = ['benchmark', 'case', 'result', 'reference (same run)', 'ratio', 'runs'];
  const lines = rows.map((r) => [r.bench, r.case, r.result, r.reference, r.ratio, r.runs].map(escape));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [fmt(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...lines.map(fmt)].join('\n');
}
