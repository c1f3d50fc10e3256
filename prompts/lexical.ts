/** Lexical helpers shared by the question filters, the judges' offline simulation and the audit. */

const STOP = new Set(
  'a an the and or but if then so of to in on at by for with from about as into over after before under up down out off is are was were be been being am do does did have has had having i me my mine we our you your yours he him his she her they them their it its this that these those what which who whom whose when where why how can could would should will shall may might must not no nor too very just also than there here some any each every all both few more most other such only own same s t don now get got make made like want need one two new way thing things really still much many well even back lot go going'.split(
    ' ',
  ),
);

/** Crude stem: enough to match "bakes"/"baking"/"baked" and "gardens"/"gardening". */
export function stem(word: string): string {
  return word
    .replace(/(ing|ed|es|s|ly|er|ers)$/u, '')
    .replace(/(.)\1$/u, '$1')
    .slice(0, 8);
}

const memo = new Map<string, string[]>();

/** Content words of a text, stemmed. Memoised: the same bank answers are scored again and again. */
export function contentWords(text: string): string[] {
  const hit = memo.get(text);
  if (hit) return hit;
  if (memo.size >= 50_000) memo.clear();
  const words = computeContentWords(text);
  memo.set(text, words);
  return words;
}

function computeContentWords(text: string): string[] {
  const out: string[] = [];
  for (const w of text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []) {
    const clean = w.replace(/'s$|'/g, '');
    if (clean.length <= 3 || STOP.has(clean)) continue;
    out.push(stem(clean));
  }
  return out;
}

export function wordCount(text: string): number {
  return text.trim().split(/\s+/).filter(Boolean).length;
}

const sets = new WeakMap<readonly string[], Set<string>>();
const asSet = (words: readonly string[]): Set<string> => {
  let set = sets.get(words);
  if (!set) {
    set = new Set(words);
    sets.set(words, set);
  }
  return set;
};

function jaccard(a: readonly string[], b: readonly string[]): number {
  const A = asSet(a);
  const B = asSet(b);
  if (A.size === 0 && B.size === 0) return 0;
  let inter = 0;
  for (const x of A) if (B.has(x)) inter++;
  return inter / (A.size + B.size - inter);
}

/** Index of the unique maximum of `values`, or null on a tie. */
function uniqueMax(values: readonly number[]): number | null {
  const max = Math.max(...values);
  const at = values.flatMap((v, i) => (v === max ? [i] : []));
  return at.length === 1 ? at[0]! : null;
}

export type BlindHeuristic = 'longest' | 'shortest' | 'query_overlap' | 'odd_one_out';
export const BLIND_HEURISTICS: readonly BlindHeuristic[] = ['longest', 'shortest', 'query_overlap', 'odd_one_out'];

/** Each heuristic's score of each option: the heuristic picks the option with the unique highest score. */
export function heuristicScores(query: string, options: readonly string[]): Record<BlindHeuristic, number[]> {
  const lengths = options.map((o) => o.length);
  const q = contentWords(query);
  const words = options.map(contentWords);
  const overlap = words.map((w) => jaccard(w, q));
  // Odd one out: the option least similar to the other three.
  const meanSim = words.map((w, i) => words.reduce((sum, v, j) => (i === j ? sum : sum + jaccard(w, v)), 0) / (words.length - 1));
  return { longest: lengths, shortest: lengths.map((l) => -l), query_overlap: overlap, odd_one_out: meanSim.map((x) => -x) };
}

/** What each no-history heuristic picks (an option index, or null when it cannot decide). */
export function blindHeuristics(query: string, options: readonly string[]): Record<BlindHeuristic, number | null> {
  const s = heuristicScores(query, options);
  return {
    longest: uniqueMax(s.longest),
    shortest: uniqueMax(s.shortest),
    query_overlap: Math.max(...s.query_overlap) > 0 ? uniqueMax(s.query_overlap) : null,
    odd_one_out: uniqueMax(s.odd_one_out),
  };
}

/** Phrases that betray a model talking about the task instead of answering. */
export const META_PATTERNS: readonly RegExp[] = [
  /\bsure,? here(?:'s| is)\b/i,
  /\boption [a-d]\b/i,
  /\bbased on your (?:stated )?preferences?\b/i,
  /\bas you (?:mentioned|said|told me)\b/i,
  /\byour preference\b/i,
  /\bas an ai\b/i,
  /\bcorrect answer\b/i,
  /\{[a-z_]+\}/,
];
