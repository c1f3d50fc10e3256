import { editDistance, normalizeLabel } from './catalog.js';

const SMALL = new Set(['a', 'an', 'the', 'of', 'for', 'to', 'and', 'in', 'on', 'with', 'at', 'by', 'my', 'your', 'from']);

function titleWords(title: string): string[] {
  return title
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w && !SMALL.has(w));
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
