import type { Rng } from '../../pipeline/core/rng.js';
import type { TaskType } from '../../pipeline/schemas/records.js';
import { offlineBank, statementKey } from './bank.js';
import { capitalize, fill, firstPerson, lowerFirst, sentences, thirdPersonLower } from './text.js';

export interface SessionSpec {
  first_name: string;
  city: string;
  occupation: string;
  languages: string[];
  purpose: 'reveal' | 'update' | 'forget' | 'repeat';
  preference: string;
  previous: string | null;
  who: 'self' | 'others';
  person: string | null;
  sensitive: { field: string; value: string } | null;
  topic: string;
  topic_label: string;
  task_type: TaskType;
  scenario: { title: string; user_goal: string };
  follow_up: boolean;
}

type Msg = { role: 'user' | 'assistant'; content: string };

/** Everyday lines that carry no preference: they make the user's material read like real life. */
const LIFE_LINES = [
  'It has been a long week, so I am trying to get ahead of things before the weekend.',
  'Things have been busy on my end, which is why this has sat in my drafts for a few days.',
  'I keep meaning to sort this out properly instead of doing it at the last minute again.',
  'The weather has finally turned, and everyone around me seems to be making plans.',
  'I had a quiet evening for once, so I finally sat down to deal with this.',
  'My phone has been buzzing with reminders about this all week.',
  'I talked it over with a friend yesterday and still could not settle on the wording.',
  'There is a lot going on at work, but this one matters to me.',
  'I would rather get this right than send something rushed.',
  'I wrote most of this on the bus home, so it may ramble a bit.',
];

const REQUESTS = [
  'Can you help me {goal}?',
  'Could you help me {goal}?',
  'I need a hand: I want to {goal}.',
  'I am trying to {goal}. Can you help?',
  'Would you help me {goal}?',
];

const TASK_NOTE: Record<TaskType, string> = {
  personal_email: ' It is going in an email to {recipient}.',
  professional_email: ' It is for an email to {recipient}.',
  creative_writing: ' I have started writing something.',
  professional_writing: ' I have a rough draft.',
  chat_message: ' It is for a message to {recipient}.',
  social_media_post: ' I want to post about it.',
  translation: ' Part of it is in {language}.',
  trouble_consult: '',
  knowledge_query: '',
  multimodal: ' I have taken a photo of it.',
};

/** What the user says of an attached picture: never the topic, so the picture adds no hint. */
const IMAGE_NOTES = [
  'a picture I took this morning',
  'a quick snap from my phone',
  'a screenshot I saved yesterday',
  'the picture I mentioned',
];

const CHANGE_LINES = [
  'A few things have shifted for me over the last couple of months.',
  'My routine looks quite different these days.',
  'Funny how much can change in one season.',
  'I have been doing things differently lately.',
];

const SENSITIVE_LABEL: Record<string, string> = {
  phone: 'phone number',
  email: 'email address',
  ssn: 'social security number',
  card: 'card number',
  address: 'home address',
  passport: 'passport number',
  bank_account: 'bank account number',
  date_of_birth: 'date of birth',
};

export function sensitiveLabel(field: string): string {
  return SENSITIVE_LABEL[field] ?? field.replace(/_/g, ' ');
}

/** Implicit cue sentences that reveal the session's preference (or a plain fallback). */
const SENSITIVE_CONTEXT = [
  'I am finally sorting out the paperwork for the new flat this week.',
  'The forms for the clinic registration are due on Friday and I keep putting them off.',
  'My bank asked me to update my details before the end of the month.',
  'HR sent over the onboarding forms and I want to get them back today.',
];

function cuesFor(spec: SessionSpec): string[] {
  // A sensitive item is shared as a value in context (added to the material), not as a taste.
  if (spec.sensitive) return SENSITIVE_CONTEXT;
  const bank = offlineBank();
  const hit = bank.byStatement.get(statementKey(spec.preference));
  const person = spec.person ?? 'a friend';
  if (hit) {
    if (spec.who === 'others') return hit.entry.others_cues.map((c) => capitalize(fill(c, { person })));
    return hit.opposite ? hit.entry.opposite.cues : hit.entry.cues;
  }
  // A preference the bank does not know (a model wrote it): say it plainly but in passing.
  return spec.who === 'others'
    ? [`${capitalize(person)} ${thirdPersonLower(spec.preference)}, which comes up whenever we make plans.`]
    : [`These days I ${firstPerson(spec.preference)}, and it shapes most of my week.`];
}

function paragraphs(topic: string, rng: Rng, n: number): string[] {
  const t = offlineBank().topics.get(topic);
  if (!t) return [];
  return rng.sample(t.paragraphs, n);
}

/** Lightly edits the user's material the way a polishing reply would. */
function polish(text: string): string {
  return sentences(text)
    .map((s) =>
      s
        .replace(/\b(basically|really|just|kind of|sort of|honestly)\s+/gi, '')
        .replace(/\bI am\b/g, "I'm")
        .replace(/\bcan not\b/g, 'cannot'),
    )
    .join(' ');
}

/** Writes one session offline: coherent, template-made text, with the preference implicit. */
export function composeSession(spec: SessionSpec, rng: Rng): Msg[] {
  const bank = offlineBank();
  const t = bank.tasks[spec.task_type];
  if (!t) throw new Error(`no offline templates for task type ${spec.task_type}`);
  const language = rng.pick(
    spec.languages
      .filter((l) => l !== 'English')
      .concat(t.languages ?? [])
      .concat(['Spanish']),
  );
  const vars = {
    name: spec.first_name,
    city: spec.city,
    occupation: lowerFirst(spec.occupation),
    recipient: rng.pick(t.recipients),
    topic_label: bank.topics.get(spec.topic)?.label.toLowerCase() ?? spec.topic_label,
    language,
  };
  const f = (s: string) => fill(s, vars);
  const cues = cuesFor(spec);

  if (spec.purpose === 'forget') return forgetSession(spec, cues, rng, f);

  const picked = rng.sample(cues, spec.purpose === 'repeat' ? 1 : Math.min(2, cues.length));
  const lines = [rng.pick(LIFE_LINES), ...picked];
  if (spec.purpose === 'update') lines.unshift(rng.pick(CHANGE_LINES));
  if (spec.sensitive) {
    lines.push(`If they need to reach me, my ${sensitiveLabel(spec.sensitive.field)} is ${spec.sensitive.value}.`);
  }
  const material = rng.shuffle(lines.slice(1)).reduce((acc, s) => `${acc} ${s}`, lines[0]!);
  // The request comes from the scenario, so the task and what the user wants always agree.
  const goal = lowerFirst(spec.scenario.user_goal).replace(/[.\s]+$/, '');
  const messages: Msg[] = [
    { role: 'user', content: f(`${fill(rng.pick(REQUESTS), { goal })}${TASK_NOTE[spec.task_type]}`) },
    { role: 'assistant', content: f(rng.pick(t.acks)) },
  ];
  const wrapper = rng.pick(t.wrappers);
  const advice = paragraphs(spec.topic, rng, spec.task_type === 'knowledge_query' || spec.task_type === 'trouble_consult' ? 3 : 2);

  if (spec.task_type === 'translation' && t.phrasebook) {
    const book = t.phrasebook[language] ?? Object.values(t.phrasebook)[0] ?? [];
    const pairs = rng.sample(book, 3 + rng.int(2));
    messages.push({
      role: 'user',
      content: `${f(rng.pick(t.content_intros))}\n\n${pairs.map((p) => p.src).join(' ')}\n\nFor context: ${material}`,
    });
    messages.push({
      role: 'assistant',
      content:
        `${f(rng.pick(t.reply_intros))}\n\n${pairs.map((p) => p.en).join(' ')}\n\n${advice.join('\n\n')}\n\n${f(rng.pick(t.reply_outros))}`.replace(
          /\n\n\n\n/g,
          '\n\n',
        ),
    });
  } else if (spec.task_type === 'knowledge_query' || spec.task_type === 'trouble_consult') {
    messages.push({ role: 'user', content: `${f(rng.pick(t.content_intros))} ${material}` });
    messages.push({
      role: 'assistant',
      content: `${f(rng.pick(t.reply_intros))}\n\n${advice.join('\n\n')}\n\n${f(rng.pick(t.reply_outros))}`,
    });
  } else {
    const framed =
      spec.task_type === 'multimodal' && t.image_frames
        ? `${fill(rng.pick(t.image_frames), { image: rng.pick(IMAGE_NOTES) })}\n\n${material}`
        : `${f(wrapper.head)}${wrapper.head ? '\n\n' : ''}${material}${wrapper.tail ? '\n\n' : ''}${f(wrapper.tail)}`;
    messages.push({ role: 'user', content: `${f(rng.pick(t.content_intros))}\n\n${framed}` });
    const body =
      spec.task_type === 'multimodal'
        ? ''
        : `${f(wrapper.head)}${wrapper.head ? '\n\n' : ''}${polish(material)}${wrapper.tail ? '\n\n' : ''}${f(wrapper.tail)}\n\n`;
    messages.push({
      role: 'assistant',
      content: `${f(rng.pick(t.reply_intros))}\n\n${body}${advice.join('\n\n')}\n\n${f(rng.pick(t.reply_outros))}`,
    });
  }
  if (spec.follow_up) {
    const pair = rng.pick(t.follow_ups);
    messages.push({ role: 'user', content: f(pair.user) });
    const extra = paragraphs(spec.topic, rng.child('follow'), 1);
    messages.push({ role: 'assistant', content: [f(pair.assistant), ...extra].join('\n\n') });
  }
  return messages.map((m) => ({
    role: m.role,
    content: m.content
      .replace(/[ \t]+\n/g, '\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim(),
  }));
}

function forgetSession(spec: SessionSpec, cues: string[], rng: Rng, f: (s: string) => string): Msg[] {
  const advice = paragraphs(spec.topic, rng, 1);
  const about =
    spec.who === 'others' && spec.person
      ? `what I told you about ${spec.person}: that they ${thirdPersonLower(spec.preference)}`
      : `that I ${firstPerson(spec.preference)}`;
  return [
    { role: 'user', content: `${rng.pick(cues)} ${f('Anyway, can you remind me of a few good habits around {topic_label}?')}` },
    {
      role: 'assistant',
      content:
        advice[0] ??
        'Happy to help. Small, steady routines tend to stick better than big changes, so start with one habit and build from there.',
    },
    { role: 'user', content: `Please forget ${about}. I would rather you did not keep that in memory.` },
  ];
}
