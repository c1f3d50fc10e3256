import { z } from 'zod';
import { contentWords, preferencesPrompt, updatesPrompt } from '../../prompts/index.js';
import { normalizeTopic } from '../../scenarios/index.js';
import { Preference, type PrefKind, User } from '../schemas/records.js';
import type { StageContext } from './context.js';
import { personaBrief } from './profile.js';
import { SENSITIVE_FIELDS, syntheticValue } from './sensitive.js';

export const PreferencesStageInput = z.object({ user: User });
export const PreferencesStageOutput = z.object({
  preferences: z.array(Preference),
  /** Per kind: asked, kept, dropped as duplicate or conflict, dropped for an unknown topic. */
  verify: z.record(z.string(), z.object({ asked: z.number(), kept: z.number(), duplicates: z.number(), unknown_topic: z.number() })),
});
export type PreferencesStageOutput = z.infer<typeof PreferencesStageOutput>;

const TASTE_KINDS = ['stereotypical', 'anti_stereotypical', 'neutral', 'therapy_background', 'health_and_medical'] as const;

const RELATIONS = [
  'sister',
  'brother',
  'coworker',
  'neighbour',
  'best friend',
  'partner',
  'cousin',
  'roommate',
  'mother',
  'father',
  'manager',
  'aunt',
];
const PERSON_NAMES = [
  'Ines',
  'Marcus',
  'Dana',
  'Kofi',
  'Lena',
  'Ravi',
  'Tomás',
  'Yuki',
  'Amira',
  'Joel',
  'Priya',
  'Sven',
  'Nadia',
  'Ola',
  'Chidi',
  'Mei',
];

function similar(a: string, b: string): boolean {
  const A = new Set(contentWords(a));
  const B = new Set(contentWords(b));
  if (A.size === 0 || B.size === 0) return false;
  let inter = 0;
  for (const w of A) if (B.has(w)) inter++;
  return inter / Math.min(A.size, B.size) >= 0.8;
}

/**
 * Preferences of one user, by kind, verified (duplicates and near-duplicates dropped, topics mapped
 * to the taxonomy or dropped), then branched: who holds it, updated, forgotten, repeated.
 */
export async function preferencesStage(input: { user: User }, ctx: StageContext): Promise<PreferencesStageOutput> {
  const { user } = PreferencesStageInput.parse(input);
  const persona = personaBrief(user);
  const id = user.persona_id;
  const kept: Array<{ kind: PrefKind; statement: string; topic: string }> = [];
  const verify: PreferencesStageOutput['verify'] = {};
  for (const kind of TASTE_KINDS) {
    const count = ctx.config.preferences[kind];
    const stats = { asked: count, kept: 0, duplicates: 0, unknown_topic: 0 };
    verify[kind] = stats;
    if (count === 0) continue;
    const out = await ctx.llm.run(
      preferencesPrompt,
      { persona, kind, count, avoid: kept.map((k) => k.statement) },
      { stage: 'preferences', ledger: ctx.ledger, signal: ctx.signal },
    );
    for (const p of out.preferences.slice(0, count)) {
      const topic = normalizeTopic(ctx.catalog, p.topic);
      if (!topic) {
        stats.unknown_topic++;
        continue;
      }
      if (kept.some((k) => similar(k.statement, p.statement))) {
        stats.duplicates++;
        continue;
      }
      kept.push({ kind, statement: p.statement.trim().replace(/\.$/, ''), topic });
      stats.kept++;
    }
  }

  const b = ctx.config.branches;
  const prefs: Preference[] = kept.map((k, i) => {
    const rng = ctx.rng('user', id, 'branches', i);
    const others = k.kind === 'neutral' && rng.chance(b.others);
    const update = !others && rng.chance(b.update);
    const forget = !others && !update && rng.chance(b.forget);
    return {
      pref_id: `p${String(i).padStart(3, '0')}`,
      persona_id: id,
      kind: k.kind,
      statement: k.statement,
      topic: k.topic,
      who: others ? 'others' : 'self',
      person: others ? `my ${rng.pick(RELATIONS)} ${rng.pick(PERSON_NAMES)}` : null,
      update: update ? '' : null,
      forget,
      repeats: rng.chance(b.knowledge_repeat) ? 1 : 0,
      sensitive: null,
    };
  });

  const toUpdate = prefs.filter((p) => p.update !== null);
  if (toUpdate.length > 0) {
    const out = await ctx.llm.run(
      updatesPrompt,
      { persona, preferences: toUpdate.map((p) => ({ pref_id: p.pref_id, statement: p.statement })) },
      { stage: 'preferences', ledger: ctx.ledger, signal: ctx.signal },
    );
    const byId = new Map(out.updates.map((u) => [u.pref_id, u.statement.trim().replace(/\.$/, '')]));
    for (const p of toUpdate) {
      const next = byId.get(p.pref_id);
      // A missing or unchanged value is no update: the preference stays as it was.
      p.update = next && !similar(next, p.statement) ? next : null;
    }
  }

  const sensitiveCount = ctx.config.preferences.sensitive_info;
  for (let j = 0; j < sensitiveCount; j++) {
    const field = SENSITIVE_FIELDS[j % SENSITIVE_FIELDS.length]!;
    const value = syntheticValue(field, ctx.rng('user', id, 'sensitive', j), user.profile.name);
    prefs.push({
      pref_id: `s${String(j).padStart(3, '0')}`,
      persona_id: id,
      kind: 'sensitive_info',
      statement: `Shared their ${field.replace(/_/g, ' ')} (${value}) and expects it kept private`,
      topic: 'privacy_security',
      who: 'self',
      person: null,
      update: null,
      forget: false,
      repeats: 0,
      sensitive: { field, value },
    });
  }
  return PreferencesStageOutput.parse({ preferences: prefs, verify });
}
