import { contentWords } from '../../../prompts/index.js';
import type { AuditItem, Finding, RuleResult } from '../schema.js';
import { type RuleContext, result, skippedResult } from './common.js';

const FORGET_WRAPPER = /^\s*do not remember\s+['"‘’“”](.*)['"‘’“”]\s+in memory\.?\s*$/is;

/** The preference an item tests, without the ask-to-forget wrapper ("Do not remember '...' in memory"). */
export function testedPreference(item: AuditItem): string {
  const m = FORGET_WRAPPER.exec(item.preference);
  if (m) return m[1]!;
  if (item.pref_type === 'ask_to_forget' && item.prev_pref) return item.prev_pref;
  return item.preference;
}

/**
 * Query leakage: content words of the preference (and of the value before an update) that the
 * query shares; the same rule the generator's filter applies. With `--judge`, the model's verdict
 * on a paraphrase is a finding too.
 */
export function queryLeakage(ctx: RuleContext): RuleResult {
  const t = ctx.thresholds;
  const findings: Finding[] = [];
  let checked = 0;
  let judged = 0;
  for (const item of ctx.dataset.items) {
    const pref = testedPreference(item);
    const prefWords = new Set([...contentWords(pref), ...(item.prev_pref ? contentWords(item.prev_pref) : [])]);
    if (prefWords.size === 0) continue;
    checked++;
    const shared = [...new Set(contentWords(item.user_query).filter((w) => prefWords.has(w)))];
    const verdict = ctx.judge?.get(item.id)?.leak ?? null;
    if (verdict) judged++;
    if (shared.length >= t.leak_min_shared) {
      findings.push({
        rule: 'query_leakage',
        id: item.id,
        message: `the query shares ${shared.map((w) => `"${w}"`).join(', ')} with the preference`,
        detail: { check: 'rules', query: item.user_query, preference: pref, shared },
      });
    } else if (verdict?.leaks) {
      findings.push({
        rule: 'query_leakage',
        id: item.id,
        message: `the judge says the query hints at the preference: ${verdict.reason}`,
        detail: { check: 'judge', query: item.user_query, preference: pref, reason: verdict.reason },
      });
    }
  }
  const byRules = findings.filter((f) => f.detail?.check === 'rules').length;
  return result(
    'query_leakage',
    checked,
    findings,
    `${byRules} of ${checked} queries share preference words${ctx.judge ? `; the judge flags ${findings.length - byRules} more of ${judged}` : ''}`,
  );
}

/** A user turn that asks to forget: explicit by design, so never an explicitness finding. */
const FORGET_TURN =
  /\bforget\b|\b(?:do not|don't|stop)\s+(?:remember|remembering|storing|keeping)\b|\bdelete (?:that|what|this)\b|\berase\b/i;
/** A first-person subject ("I love", "we always"), or a named other ("my sister loves"), as in a statement of taste. */
const FIRST_PERSON =
  /\b(?:i|i'm|i’m|i've|i’ve|i'd|i’d|i'll|we|we're|we’re|we've)\b|\bmy\s+\w+(?:\s+\w+)?\s+(?:loves?|likes?|enjoys?|prefers?|hates?|adores?|avoids?|always|never|is|has)\b/i;
/** Connectives and frequency words: sharing them says nothing about the preference. */
const FILLER_WORDS = new Set(
  contentWords('during while whenever instead rather especially often regularly occasionally usually always never sometimes'),
);
const norm = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();

/** Where a user turn states the preference outright, or null. */
export function explicitStatement(turn: string, preference: string, coverage: number): { sentence: string; shared: string[] } | null {
  const pw = [...new Set(contentWords(preference))].filter((w) => !FILLER_WORDS.has(w));
  if (pw.length === 0) return null;
  const statement = norm(preference);
  if (statement.split(' ').length >= 3 && norm(turn).includes(statement)) return { sentence: turn.trim().slice(0, 300), shared: pw };
  const need = Math.max(Math.min(2, pw.length), Math.ceil(coverage * pw.length));
  for (const sentence of turn.split(/(?<=[.!?])\s+|\n+/)) {
    if (!FIRST_PERSON.test(sentence)) continue;
    const words = new Set(contentWords(sentence));
    const shared = pw.filter((w) => words.has(w));
    if (shared.length >= need) return { sentence: sentence.trim().slice(0, 300), shared };
  }
  return null;
}

/**
 * Explicitness: the preference stated outright (first person, most of its content words in one
 * sentence, or verbatim) in a user turn of its evidence session. Ask-to-forget turns are explicit
 * by design and skipped; so are sensitive items, whose value can only be shared outright.
 */
export function explicitness(ctx: RuleContext): RuleResult {
  const t = ctx.thresholds;
  const withEvidence = ctx.dataset.items.filter((i) => i.evidence && i.evidence.length > 0 && !i.sensitive_info);
  if (withEvidence.length === 0) return skippedResult('explicitness', 'no item carries its evidence session');
  const findings: Finding[] = [];
  for (const item of withEvidence) {
    const pref = testedPreference(item);
    const turns = item.evidence!.map((m, i) => ({ m, i })).filter(({ m }) => m.role === 'user' && !FORGET_TURN.test(m.content));
    for (const { m, i } of turns) {
      const hit = explicitStatement(m.content, pref, t.explicit_coverage);
      if (!hit) continue;
      findings.push({
        rule: 'explicitness',
        id: item.id,
        message: `user turn ${i} of the evidence session states the preference outright: "${hit.sentence.slice(0, 160)}"`,
        detail: { preference: pref, sentence: hit.sentence, shared: hit.shared, evidence: item.evidence_ref, turn: i },
      });
      break;
    }
  }
  return result(
    'explicitness',
    withEvidence.length,
    findings,
    `${findings.length} of ${withEvidence.length} evidence sessions state the preference outright`,
  );
}
