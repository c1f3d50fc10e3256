/**
 * Output lengths for the estimate. The offline provider writes template text whose length is not
 * what a model writes when a prompt asks for "350-600 words", so the estimate scales the offline
 * output tokens of each prompt by (the middle of the range the prompt asks for) / (the words the
 * offline answers of that prompt actually hold). Prompts that state no length keep factor 1: their
 * offline answers already have the shape the schema asks for (a profile, a verdict, a question with
 * four replies).
 */

/** A length a prompt's instructions ask for, and what it counts. */
export interface LengthTarget {
  promptId: string;
  /** The range as the instructions state it. */
  words: readonly [number, number];
  /**
   * What the range counts: the words of every message (`messages`), of the assistant's first
   * answer (`first_answer`), or of each preference statement (`per_statement`).
   */
  measure: 'messages' | 'first_answer' | 'per_statement';
  /** The words in the instructions that state it; a test keeps this table and the prompts in step. */
  phrase: string;
}

export const LENGTH_TARGETS: readonly LengthTarget[] = [
  { promptId: 'session', words: [350, 600], measure: 'messages', phrase: '350-600 words' },
  { promptId: 'filler', words: [120, 220], measure: 'first_answer', phrase: '120-220 words' },
  { promptId: 'preferences', words: [5, 14], measure: 'per_statement', phrase: '5-14 words' },
  { promptId: 'preference-updates', words: [5, 14], measure: 'per_statement', phrase: '5-14 words' },
];

const targets = new Map(LENGTH_TARGETS.map((t) => [t.promptId, t]));

export function lengthTarget(promptId: string): LengthTarget | undefined {
  return targets.get(promptId);
}

const wordCount = (text: string): number => text.split(/\s+/).filter(Boolean).length;

/**
 * What a prompt's target counts, in one offline answer: `words` summed over `items` (one item per
 * answer, or per statement). Undefined for prompts with no stated length or an answer of another shape.
 */
export function measureAnswer(target: LengthTarget, answer: unknown): { words: number; items: number } | undefined {
  const obj = answer as {
    messages?: Array<{ role?: string; content?: string }>;
    preferences?: Array<{ statement?: string }>;
    updates?: Array<{ statement?: string }>;
  };
  if (target.measure === 'messages') {
    if (!Array.isArray(obj?.messages)) return undefined;
    return { words: obj.messages.reduce((n, m) => n + wordCount(m.content ?? ''), 0), items: 1 };
  }
  if (target.measure === 'first_answer') {
    const first = Array.isArray(obj?.messages) ? obj.messages.find((m) => m.role === 'assistant') : undefined;
    return first ? { words: wordCount(first.content ?? ''), items: 1 } : undefined;
  }
  const list = obj?.preferences ?? obj?.updates;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  return { words: list.reduce((n, p) => n + wordCount(p.statement ?? ''), 0), items: list.length };
}

/** Factor for a prompt from what its offline answers measured: middle of the range / mean measured. */
export function calibrationFactor(target: LengthTarget | undefined, measured: { words: number; items: number }): number {
  if (!target || measured.items === 0 || measured.words === 0) return 1;
  const mid = (target.words[0] + target.words[1]) / 2;
  return mid / (measured.words / measured.items);
}
