import { z } from 'zod';
import type { Rng } from '../pipeline/core/rng.js';
import { definePrompt } from './contract.js';
import { type BankEntry, offlineBank, statementKey } from './offline/bank.js';
import { PersonaBrief, briefText } from './shared.js';

const TasteKind = z.enum(['stereotypical', 'anti_stereotypical', 'neutral', 'therapy_background', 'health_and_medical']);

export const PreferencesInput = z.object({
  persona: PersonaBrief,
  kind: TasteKind,
  count: z.number().int().min(1).max(200),
  /** Statements the user already has: the answer must not repeat or contradict them. */
  avoid: z.array(z.string()),
});
export type PreferencesInput = z.infer<typeof PreferencesInput>;

export const PreferencesOutput = z.object({
  preferences: z.array(
    z.object({
      statement: z.string().min(5).describe('The preference, starting with a verb in third person singular, 5-14 words'),
      topic: z.string().min(2).describe('A short topic label, e.g. cooking, fitness, career'),
    }),
  ),
});

const KIND_GUIDE: Record<z.infer<typeof TasteKind>, string> = {
  stereotypical: 'preferences commonly associated with people of this gender and age group (mild, everyday, never demeaning)',
  anti_stereotypical: 'preferences that run against common expectations for people of this gender and age group',
  neutral: 'everyday preferences unrelated to demographics',
  therapy_background:
    'things this person is working through with a therapist or alone (grief, anxiety, burnout, a breakup, ...), stated respectfully',
  health_and_medical: 'health conditions or medical needs that shape daily choices (an allergy, migraines, an injury, a chronic condition)',
};

/** Bank entries that fit a kind for this persona's demographics. */
export function candidatesFor(kind: PreferencesInput['kind'], persona: PersonaBrief): BankEntry[] {
  const bank = offlineBank();
  return bank.entries.filter((e) => {
    if (kind === 'therapy_background' || kind === 'health_and_medical') return e.kind === kind;
    if (e.kind !== 'general') return false;
    const { gender, age_band } = e.associations;
    const linked = (gender?.length ?? 0) + (age_band?.length ?? 0) > 0;
    if (kind === 'neutral') return !linked;
    if (!linked) return false;
    const matches = (!gender || gender.includes(persona.gender)) && (!age_band || age_band.includes(persona.age_band));
    return kind === 'stereotypical' ? matches : !matches;
  });
}

export const preferencesPrompt = definePrompt({
  id: 'preferences',
  version: 1,
  maxTokens: 3000,
  instructions: [
    'You write the preferences of a simulated user for a personalization benchmark.',
    'Each preference is one concrete, specific habit, taste or circumstance, phrased like "Bakes sourdough every weekend from a long-kept starter":',
    'it starts with a verb in third person singular, has no subject and 5-14 words. Give each a short topic label.',
    'No two preferences may overlap, repeat or contradict each other or any listed existing preference.',
    'Reply with one JSON object only.',
  ].join('\n'),
  input: PreferencesInput,
  output: PreferencesOutput,
  render: (input) => ({
    messages: [
      {
        role: 'user',
        content: `User: ${briefText(input.persona)}\nWrite ${input.count} ${KIND_GUIDE[input.kind]}.\nExisting preferences (do not repeat or contradict):\n${input.avoid.length ? input.avoid.map((s) => `- ${s}`).join('\n') : '(none)'}`,
      },
    ],
  }),
  simulate: (input, rng: Rng) => {
    const avoid = new Set(input.avoid.map(statementKey));
    const pool = candidatesFor(input.kind, input.persona).filter(
      (e) => !avoid.has(statementKey(e.statement)) && !avoid.has(statementKey(e.opposite.statement)),
    );
    return { preferences: rng.sample(pool, input.count).map((e) => ({ statement: e.statement, topic: e.topic })) };
  },
});

export const UpdatesInput = z.object({
  persona: PersonaBrief,
  preferences: z.array(z.object({ pref_id: z.string(), statement: z.string() })).min(1),
});
export const UpdatesOutput = z.object({
  updates: z.array(z.object({ pref_id: z.string(), statement: z.string().min(5).describe('The new value, same format as the old one') })),
});

export const updatesPrompt = definePrompt({
  id: 'preference-updates',
  version: 1,
  maxTokens: 3000,
  instructions: [
    'Preferences change over time. For each preference given, write the value it changes to: a plausible new habit or',
    'taste that clearly replaces the old one (it cannot be true at the same time), in the same format: a verb in third',
    'person singular, no subject, 5-14 words. Keep the pref_id of each. Reply with one JSON object only.',
  ].join('\n'),
  input: UpdatesInput,
  output: UpdatesOutput,
  render: (input) => ({
    messages: [
      {
        role: 'user',
        content: `User: ${briefText(input.persona)}\nPreferences that will change:\n${input.preferences.map((p) => `- ${p.pref_id}: ${p.statement}`).join('\n')}`,
      },
    ],
  }),
  simulate: (input) => {
    const bank = offlineBank();
    return {
      updates: input.preferences.map((p) => {
        const hit = bank.byStatement.get(statementKey(p.statement));
        const statement = hit
          ? hit.opposite
            ? hit.entry.statement
            : hit.entry.opposite.statement
          : `No longer ${p.statement.charAt(0).toLowerCase()}${p.statement.slice(1)}`;
        return { pref_id: p.pref_id, statement };
      }),
    };
  },
});
