import type { AuditItem, Finding, RuleResult } from '../schema.js';
import { round } from '../stats.js';
import { type RuleContext, result, skippedResult } from './common.js';

/** Lower-cased word tokens, punctuation dropped: two queries that differ only in case or punctuation are the same. */
export function queryTokens(text: string): string[] {
  return [...new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])];
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A 32-bit mixer (murmur3's finaliser): one independent-looking hash per seed. */
function mix(x: number, seed: number): number {
  let h = (x ^ seed) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const HASHES = 64;
const BANDS = 16;
const ROWS = HASHES / BANDS;
const SEEDS = Array.from({ length: HASHES }, (_, i) => mix(i + 1, 0x9e3779b9));

function jaccard(a: ReadonlySet<number>, b: ReadonlySet<number>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let inter = 0;
  const [small, big] = a.size <= b.size ? [a, b] : [b, a];
  for (const x of small) if (big.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

export interface NearDuplicate {
  a: number;
  b: number;
  similarity: number;
}

/**
 * Pairs of texts whose token sets have Jaccard similarity >= `threshold`, among pairs that
 * `admit` accepts. MinHash (64 hashes) with LSH banding (16 bands of 4) finds candidates in about
 * linear time; every candidate is then checked exactly, so there are no false positives. With these
 * bands a pair at 0.8 is found with probability 0.9997 (1 - (1 - 0.8^4)^16). Identical token sets
 * are grouped first, so a text repeated many times does not make a quadratic bucket.
 */
export function nearDuplicates(texts: readonly string[], threshold: number, admit: (a: number, b: number) => boolean): NearDuplicate[] {
  const sets = texts.map((t) => new Set(queryTokens(t).map(fnv1a)));
  // Exact token-set duplicates: one representative each.
  const groups = new Map<string, number[]>();
  sets.forEach((s, i) => {
    const key = [...s].sort((x, y) => x - y).join(',');
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  });
  const reps = [...groups.values()];
  const out: NearDuplicate[] = [];
  const emit = (a: number, b: number, similarity: number) => {
    if (admit(a, b)) out.push({ a: Math.min(a, b), b: Math.max(a, b), similarity: round(similarity, 4) });
  };
  for (const g of reps) for (let x = 0; x < g.length; x++) for (let y = x + 1; y < g.length; y++) emit(g[x]!, g[y]!, 1);

  // One bucket per (band, hash of the band's rows); a collision only adds a candidate that is checked exactly.
  const buckets = new Map<number, number[]>();
  const sig = new Uint32Array(HASHES);
  reps.forEach((g, r) => {
    const s = sets[g[0]!]!;
    if (s.size === 0) return;
    sig.fill(0xffffffff);
    for (const tok of s) {
      for (let k = 0; k < HASHES; k++) {
        const h = mix(tok, SEEDS[k]!);
        if (h < sig[k]!) sig[k] = h;
      }
    }
    for (let band = 0; band < BANDS; band++) {
      let h = band;
      for (let k = band * ROWS; k < band * ROWS + ROWS; k++) h = mix(h, sig[k]!);
      const key = band * 0x100000000 + h;
      const b = buckets.get(key);
      if (b) b.push(r);
      else buckets.set(key, [r]);
    }
  });
  const tried = new Set<string>();
  for (const bucket of buckets.values()) {
    for (let x = 0; x < bucket.length; x++) {
      for (let y = x + 1; y < bucket.length; y++) {
        const key = `${bucket[x]}:${bucket[y]}`;
        if (tried.has(key)) continue;
        tried.add(key);
        const ga = reps[bucket[x]!]!;
        const gb = reps[bucket[y]!]!;
        const sim = jaccard(sets[ga[0]!]!, sets[gb[0]!]!);
        if (sim < threshold) continue;
        for (const a of ga) for (const b of gb) emit(a, b, sim);
      }
    }
  }
  return out.sort((p, q) => p.a - q.a || p.b - q.b);
}

/** Split contamination: near-duplicate queries in different splits (train / val / benchmark). */
export function splitContamination(ctx: RuleContext): RuleResult {
  const t = ctx.thresholds;
  const items: readonly AuditItem[] = ctx.dataset.items;
  const splits = new Set(items.map((i) => i.split));
  if (splits.size < 2) return skippedResult('split_contamination', `one split only (${[...splits].join(', ') || 'none'})`);
  const pairs = nearDuplicates(
    items.map((i) => i.user_query),
    t.duplicate_jaccard,
    (a, b) => items[a]!.split !== items[b]!.split,
  );
  const findings: Finding[] = pairs.map((p) => {
    const a = items[p.a]!;
    const b = items[p.b]!;
    return {
      rule: 'split_contamination',
      id: a.id,
      message: `query is a near-duplicate (Jaccard ${p.similarity.toFixed(2)}) of ${b.id} in ${b.split}`,
      examples: [b.id],
      detail: { similarity: p.similarity, splits: [a.split, b.split], query: a.user_query, other_query: b.user_query },
    };
  });
  return result(
    'split_contamination',
    items.length,
    findings,
    `${findings.length} cross-split near-duplicate query pair(s) at Jaccard >= ${t.duplicate_jaccard} among ${items.length} queries in ${splits.size} splits`,
  );
}
