import { normalizeLabel } from './catalog.js';

const SMALL = new Set(['a', 'an', 'the', 'of', 'for', 'to', 'and', 'in', 'on', 'with', 'at', 'by', 'my', 'your', 'from']);

function titleWords(title: string): string[] {
  return title
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w && !SMALL.has(w));
}

export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/**
 * Why two titles are the same scenario, or undefined: identical after normalising, the same words
 * in another order, a typo apart (edit distance ≤ 2), or nearly the same words (Jaccard ≥ 0.8).
 */
export function titleClash(a: string, b: string): string | undefined {
  const na = normalizeLabel(a);
  const nb = normalizeLabel(b);
  if (na === nb) return 'the same title';
  const wa = titleWords(a);
  const wb = titleWords(b);
  if (wa.length > 0 && [...wa].sort().join(' ') === [...wb].sort().join(' ')) return 'the same words in another order';
  if (Math.min(na.length, nb.length) >= 8 && editDistance(na, nb) <= 2) return 'a typo apart';
  const A = new Set(wa);
  const B = new Set(wb);
  let inter = 0;
  for (const w of A) if (B.has(w)) inter++;
  const jaccard = inter / (A.size + B.size - inter || 1);
  if (A.size >= 3 && jaccard >= 0.8) return 'nearly the same words';
  return undefined;
}
