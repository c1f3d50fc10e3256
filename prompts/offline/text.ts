/** Small text helpers for the offline simulation. */

/** Replaces `{name}`-style placeholders; unknown ones are left for the caller to notice. */
export function fill(template: string, vars: Readonly<Record<string, string>>): string {
  return template.replace(/\{([a-z_]+)\}/g, (whole, key: string) => vars[key] ?? whole);
}

export function capitalize(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}

export function lowerFirst(s: string): string {
  if (s.length < 2) return s.toLowerCase();
  // Keep acronyms and names ("TV", "Lisbon") as they are.
  return /^[A-Z][a-z]/.test(s) ? s[0]!.toLowerCase() + s.slice(1) : s;
}

const IRREGULAR: Record<string, string> = { has: 'have', is: 'am', does: 'do', goes: 'go', was: 'was' };

/** "Bakes sourdough every weekend" → "bake sourdough every weekend" (after "I"). */
export function firstPerson(statement: string): string {
  const [verb = '', ...rest] = statement.trim().split(/\s+/);
  const v = verb.toLowerCase();
  let base = IRREGULAR[v];
  if (!base) {
    if (/(ss|sh|ch|x|zz|o)es$/.test(v)) base = v.slice(0, -2);
    else if (/[^aeiou]ies$/.test(v)) base = v.slice(0, -3) + 'y';
    else if (v.endsWith('s') && !v.endsWith('ss')) base = v.slice(0, -1);
    else base = v;
  }
  return [base, ...rest].join(' ').replace(/[.\s]+$/, '');
}

/** "Bakes sourdough" → "bakes sourdough" (after "they"/"she"), keeping proper nouns. */
export function thirdPersonLower(statement: string): string {
  return lowerFirst(statement.trim()).replace(/[.\s]+$/, '');
}

export function words(s: string): number {
  return s.trim().split(/\s+/).filter(Boolean).length;
}

/** Sentences of a paragraph, split at ., ! or ? followed by a space and a capital. */
export function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+(?=[A-Z"“])/)
    .map((s) => s.trim())
    .filter(Boolean);
}
