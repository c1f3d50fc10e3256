import { z } from 'zod';
import { definePrompt } from './contract.js';
import { offlineBank } from './offline/bank.js';

export const FillerInput = z.object({
  topic: z.string(),
  /** Which conversation of this topic: different indexes give different conversations. */
  index: z.number().int().min(0),
});

export const FillerOutput = z.object({
  messages: z.array(z.object({ role: z.enum(['user', 'assistant']), content: z.string().min(1) })).min(2),
});

/** Persona-irrelevant question-answer chats that fill long histories between the user's sessions. */
export const fillerPrompt = definePrompt({
  id: 'filler',
  version: 1,
  maxTokens: 1200,
  instructions: [
    'Write a short, neutral question-answer chat between a user and an AI assistant on the given general-knowledge topic.',
    'The user reveals nothing about themselves: no tastes, plans, health, family, work or location; curiosity only.',
    'The answer is accurate and explanatory, 120-220 words; optionally one short follow-up exchange. Reply with one JSON object only.',
  ].join('\n'),
  input: FillerInput,
  output: FillerOutput,
  render: (i) => ({
    messages: [{ role: 'user', content: `Topic: ${i.topic}. Conversation number ${i.index + 1}: pick a question not asked before.` }],
  }),
  simulate: (i) => {
    const items = offlineBank().filler.filter((f) => f.topic === i.topic);
    const pool = items.length > 0 ? items : offlineBank().filler;
    const item = pool[i.index % pool.length]!;
    const round = Math.floor(i.index / pool.length);
    const messages: Array<{ role: 'user' | 'assistant'; content: string }> = [
      { role: 'user', content: item.question },
      { role: 'assistant', content: item.answer },
    ];
    // Past the bank's size, pair items so that every index still gives a distinct conversation.
    if (round % 2 === 1 && item.follow_up) {
      messages.push({ role: 'user', content: item.follow_up.user }, { role: 'assistant', content: item.follow_up.assistant });
    }
    if (round >= 2) {
      const next = pool[(i.index + round) % pool.length]!;
      messages.push({ role: 'user', content: next.question }, { role: 'assistant', content: next.answer });
    }
    return { messages };
  },
});
