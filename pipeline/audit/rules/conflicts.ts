import { contentWords } from '../../../prompts/index.js';
import type { AuditPreference, AuditSegment, Finding, RuleResult } from '../schema.js';
import { type RuleContext, result, skippedResult } from './common.js';

/** A preference with its content words, computed once per user. */
export interface PreferenceWords {
  preference: AuditPreference;
  words: ReadonlySet<string>;
}

export function preferenceWords(preferences: readonly AuditPreference[]): PreferenceWords[] {
  return preferences.map((p) => ({
    preference: p,
    words: new Set([...contentWords(p.statement), ...(p.update ? contentWords(p.update) : [])]),
  }));
}

/**
 * The preference a foreign segment conflicts with, if any: the same test the generator applies
 * when it picks filler (pipeline/stages/histories.ts `fillerConflicts`): on the topic of a
 * preference, or carrying most of its content words (at least two, and at least `coverage` of them).
 */
export function segmentConflict(
  segment: AuditSegment,
  preferences: readonly PreferenceWords[],
  coverage: number,
  wordsOf: (text: string) => readonly string[] = contentWords,
): { preference: AuditPreference; reason: string; shared: string[] } | null {
  const words = new Set(segment.messages.flatMap((m) => wordsOf(m.content)));
  for (const { preference: p, words: pw } of preferences) {
    if (segment.topic !== null && p.topic !== null && p.topic === segment.topic)
      return { preference: p, reason: `same topic (${p.topic})`, shared: [] };
    const shared = [...pw].filter((w) => words.has(w));
    if (pw.size > 0 && shared.length >= Math.max(2, Math.ceil(pw.size * coverage)))
      return { preference: p, reason: 'shares its content words', shared };
  }
  return null;
}

/** Filler conflicts: a filler conversation or another user's session that touches one of this user's preferences. */
export function fillerConflicts(ctx: RuleContext): RuleResult {
  const { dataset, thresholds: t } = ctx;
  const known = dataset.histories.filter((h) => h.provenance === 'known');
  if (known.length === 0) {
    return skippedResult(
      'filler_conflicts',
      dataset.histories.length === 0
        ? 'no chat history files'
        : "the user's own sessions cannot be told from filler (native: no run store; published: no raw persona file for the history)",
    );
  }
  const prefs = new Map(dataset.users.map((u) => [u.persona_id, preferenceWords(u.preferences)]));
  // The same filler sits in many histories: split each message into words once.
  const memo = new Map<string, readonly string[]>();
  const wordsOf = (text: string) => memo.get(text) ?? memo.set(text, contentWords(text)).get(text)!;
  const findings: Finding[] = [];
  let checked = 0;
  for (const h of known) {
    const userPrefs = prefs.get(h.persona_id) ?? [];
    for (const seg of h.segments) {
      checked++;
      const hit = segmentConflict(seg, userPrefs, t.conflict_coverage, wordsOf);
      if (!hit) continue;
      findings.push({
        rule: 'filler_conflicts',
        id: seg.ref,
        message: `${seg.topic ? `filler on ${seg.topic}` : 'a stretch not from this user'} touches the preference "${hit.preference.statement}" (${hit.reason}${hit.shared.length ? `: ${hit.shared.join(', ')}` : ''})`,
        detail: { persona_id: h.persona_id, preference: hit.preference.statement, reason: hit.reason, shared: hit.shared, history: h.file },
      });
    }
  }
  const unknown = dataset.histories.length - known.length;
  return result(
    'filler_conflicts',
    checked,
    findings,
    `${findings.length} of ${checked} foreign segments in ${known.length} histories touch a preference of their user${unknown ? ` (${unknown} histories not checked: unknown provenance)` : ''}`,
  );
}
