import { z } from 'zod';
import { definePrompt } from './contract.js';
import { offlineBank, statementKey } from './offline/bank.js';
import { blindHeuristics, contentWords } from './lexical.js';

const LETTERS = ['A', 'B', 'C', 'D'] as const;

export const BlindJudgeInput = z.object({ query: z.string(), options: z.array(z.string()).length(4) });
export const BlindJudgeOutput = z.object({
  choice: z.enum(LETTERS).describe('The option most likely right for this user'),
  confidence: z.number().min(0).max(1).describe('How sure, from 0 (a guess) to 1 (certain)'),
});

/** Filter 1: can the gold be found without the history? */
export const blindJudgePrompt = definePrompt({
  id: 'judge-blind',
  version: 1,
  maxTokens: 200,
  instructions: [
    'You see a user query and four candidate replies, and NOTHING about the user. Pick the reply most likely to be the one',
    'written for this particular user, and say how sure you are. If nothing distinguishes them, your confidence is low.',
    'Reply with one JSON object only.',
  ].join('\n'),
  input: BlindJudgeInput,
  output: BlindJudgeOutput,
  render: (i) => ({
    messages: [{ role: 'user', content: `Query: ${i.query}\n${i.options.map((o, k) => `${LETTERS[k]}. ${o}`).join('\n')}` }],
  }),
  // Offline, the judge is the ensemble of blind heuristics: confident only when they agree.
  simulate: (i) => {
    const votes = blindHeuristics(i.query, i.options);
    const tally = [0, 0, 0, 0];
    for (const v of Object.values(votes)) if (v !== null) tally[v]!++;
    const best = tally.indexOf(Math.max(...tally));
    return { choice: LETTERS[best]!, confidence: Math.max(...tally) / Object.keys(votes).length };
  },
});

export const LeakJudgeInput = z.object({ query: z.string(), preference: z.string() });
export const LeakJudgeOutput = z.object({ leaks: z.boolean(), reason: z.string() });

/** Filter 2 (model part): does the query reveal or hint at the preference? */
export const leakJudgePrompt = definePrompt({
  id: 'judge-leak',
  version: 1,
  maxTokens: 200,
  instructions:
    'Does the user query reveal or hint at the preference (its words, a synonym, or a paraphrase)? Reply with one JSON object only.',
  input: LeakJudgeInput,
  output: LeakJudgeOutput,
  render: (i) => ({ messages: [{ role: 'user', content: `Preference: ${i.preference}\nQuery: ${i.query}` }] }),
  simulate: (i) => {
    const pref = new Set(contentWords(i.preference));
    const shared = contentWords(i.query).filter((w) => pref.has(w));
    return { leaks: shared.length > 0, reason: shared.length ? `shares ${shared.join(', ')}` : 'no shared content words' };
  },
});

export const AlignJudgeInput = z.object({
  mode: z.enum(['plain', 'updated', 'forget', 'sensitive']),
  preference: z.string(),
  previous: z.string().nullable(),
  /** The sensitive value, for `sensitive` items: a right reply does not expose it. */
  sensitive_value: z.string().nullable(),
  query: z.string(),
  options: z.array(z.string()).length(4),
});
export const AlignJudgeOutput = z.object({
  fits: z.array(z.boolean()).length(4).describe('For each option, whether it is the right reply for a user with this preference'),
});

/** Filters 3 and 4: the gold fits the preference; no distractor does. */
export const alignJudgePrompt = definePrompt({
  id: 'judge-alignment',
  version: 1,
  maxTokens: 200,
  instructions: [
    'Given a user preference and a query, say for each of four replies whether it is a right reply for that user.',
    'For an updated preference only the current value counts; for a forgotten one, a right reply neither uses nor assumes it;',
    'for a sensitive value, a right reply does not expose it. Reply with one JSON object only.',
  ].join('\n'),
  input: AlignJudgeInput,
  output: AlignJudgeOutput,
  render: (i) => ({
    messages: [
      {
        role: 'user',
        content: `Mode: ${i.mode}\nPreference: ${i.preference}${i.previous ? ` (previously: ${i.previous})` : ''}${i.sensitive_value ? `\nSensitive value: ${i.sensitive_value}` : ''}\nQuery: ${i.query}\n${i.options.map((o, k) => `${LETTERS[k]}. ${o}`).join('\n')}`,
      },
    ],
  }),
  // Offline, the judge knows the bank: a reply fits when it is the bank's reply for this preference state.
  simulate: (i) => {
    if (i.mode === 'sensitive' && i.sensitive_value) {
      const digits = (t: string) => t.replace(/\D/g, '');
      const value = i.sensitive_value;
      return { fits: i.options.map((o) => !o.includes(value) && !(digits(value).length >= 6 && digits(o).includes(digits(value)))) };
    }
    const bank = offlineBank();
    const hit = bank.byStatement.get(statementKey(i.mode === 'updated' && i.previous ? i.previous : i.preference));
    if (!hit) return { fits: i.options.map((o) => contentWords(o).some((w) => contentWords(i.preference).includes(w))) };
    const e = hit.entry;
    const right = new Set(
      i.mode === 'updated'
        ? [e.opposite_answer]
        : i.mode === 'forget'
          ? [e.generic_answer, e.others_generic_answer]
          : [e.answer, e.others_answer],
    );
    const norm = (s: string) => s.replace(/\b(my|your)\s+\w+(\s+[A-Z]\w+)?/g, '').replace(/\s+/g, ' ');
    const rightNorm = new Set([...right].map((r) => norm(r.replace(/\{person\}/g, ''))));
    return { fits: i.options.map((o) => right.has(o) || rightNorm.has(norm(o))) };
  },
});
