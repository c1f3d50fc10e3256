import { z } from 'zod';
import { TaskType } from '../pipeline/schemas/records.js';
import { definePrompt } from './contract.js';
import { composeSession, sensitiveLabel } from './offline/sessions.js';
import { PersonaBrief, briefText } from './shared.js';

export const SessionInput = z.object({
  persona: PersonaBrief,
  purpose: z.enum(['reveal', 'update', 'forget', 'repeat']),
  preference: z.string(),
  previous: z.string().nullable(),
  who: z.enum(['self', 'others']),
  person: z.string().nullable(),
  sensitive: z.object({ field: z.string(), value: z.string() }).nullable(),
  topic: z.string(),
  topic_label: z.string(),
  task_type: TaskType,
  scenario: z.object({ title: z.string(), user_goal: z.string() }),
  follow_up: z.boolean(),
});
export type SessionInput = z.infer<typeof SessionInput>;

export const SessionOutput = z.object({
  messages: z
    .array(z.object({ role: z.enum(['user', 'assistant']), content: z.string().min(1) }))
    .min(2)
    .describe('The session, first message from the user'),
});

const PURPOSE: Record<SessionInput['purpose'], (i: SessionInput) => string> = {
  reveal: (i) =>
    i.who === 'others'
      ? `Reveal, only implicitly, that ${i.person ?? 'someone the user mentions'} (not the user) ${i.preference.charAt(0).toLowerCase()}${i.preference.slice(1)}.`
      : `Reveal, only implicitly, that the user ${i.preference.charAt(0).toLowerCase()}${i.preference.slice(1)}.`,
  update: (i) =>
    `The user's preference has changed from "${i.previous ?? ''}" to "${i.preference}". Reveal the new one only implicitly, without mentioning the change outright.`,
  forget: (i) =>
    `Three messages: the user mentions "${i.preference}" in passing, the assistant answers briefly, then the user explicitly asks the assistant to forget it and not keep it in memory.`,
  repeat: (i) => `A knowledge question in which the user's preference "${i.preference}" shows again, implicitly.`,
};

export const sessionPrompt = definePrompt({
  id: 'session',
  version: 1,
  maxTokens: 2000,
  instructions: [
    'You write one realistic chat session between a user and an AI assistant for a personalization benchmark.',
    'The user asks for help with a concrete task of the given task type, in the given scenario, in their own speaking style.',
    'The preference must show only IMPLICITLY, through details, habits and plans (never "I like", "I prefer", "my favorite"),',
    'except in a forget request, which is explicit. The assistant is helpful and specific and never names the preference.',
    'Write 4-6 messages (2-3 exchanges; 6-8 with a follow-up), user first, 350-600 words in all. Reply with one JSON object only.',
  ].join('\n'),
  input: SessionInput,
  output: SessionOutput,
  render: (input) => ({
    messages: [
      {
        role: 'user',
        content: [
          `User: ${briefText(input.persona)}`,
          `Task type: ${input.task_type.replace(/_/g, ' ')}. Scenario: ${input.scenario.title} — ${input.scenario.user_goal}`,
          `Topic: ${input.topic_label}.`,
          PURPOSE[input.purpose](input),
          input.sensitive
            ? `The user shares their ${sensitiveLabel(input.sensitive.field)} (${input.sensitive.value}) because the task needs it.`
            : '',
          input.follow_up ? 'End with one follow-up exchange.' : '',
        ]
          .filter(Boolean)
          .join('\n'),
      },
    ],
  }),
  simulate: (input, rng) => ({
    messages: composeSession(
      {
        first_name: input.persona.name.split(' ')[0] ?? input.persona.name,
        city: input.persona.location.split(',')[0] ?? input.persona.location,
        occupation: input.persona.occupation,
        languages: input.persona.languages,
        purpose: input.purpose,
        preference: input.preference,
        previous: input.previous,
        who: input.who,
        person: input.person,
        sensitive: input.sensitive,
        topic: input.topic,
        topic_label: input.topic_label,
        task_type: input.task_type,
        scenario: input.scenario,
        follow_up: input.follow_up,
      },
      rng,
    ),
  }),
});
