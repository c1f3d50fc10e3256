import { PUBLISHED_PREF_TYPE, type Preference, type PrefKind, type Question, type Session } from '../schemas/records.js';
import { RAW_CONVERSATION_ORDER } from './layout.js';
import type { NativeUser } from './native.js';

/** The published wording of a forget request's preference. */
export function forgetPreference(old: string): string {
  return `Do not remember '${old}' in memory`;
}

/** The descriptive persona fields: verbatim for imported users, else the seed and our profile. */
export function personaFields(user: NativeUser): Record<string, unknown> {
  return user.source_persona ?? { short_persona: user.short_persona, ...user.profile };
}

/** The published list each preference kind goes into. */
const LIST_OF_KIND: Partial<Record<PrefKind, string>> = {
  stereotypical: 'stereotypical_preferences',
  anti_stereotypical: 'anti_stereotypical_preferences',
  neutral: 'neutral_preferences',
  therapy_background: 'therapy_background',
  health_and_medical: 'health_and_medical_conditions',
};

/** A session as a raw element needs it; `pref_id` and `purpose` are unknown for evidence-only sessions. */
export interface ElementSource {
  session: Pick<Session, 'session_id' | 'task_type' | 'topic' | 'messages'> & { pref_id?: string; purpose?: Session['purpose'] };
  question?: Question | undefined;
}

function element(src: ElementSource, prefs: Map<string, Preference>, repeatIndex: number | undefined): Record<string, unknown> {
  const { session, question } = src;
  const pref = session.pref_id ? prefs.get(session.pref_id) : undefined;
  let preference: string;
  let prefType: string;
  let updated = false;
  let prev: string | null = null;
  if (question) {
    preference = question.preference;
    prefType = question.pref_type;
    updated = question.updated;
    prev = question.prev_pref;
  } else if (pref) {
    prefType = PUBLISHED_PREF_TYPE[pref.kind];
    preference = pref.statement;
    if (session.purpose === 'update' && pref.update) {
      preference = pref.update;
      prev = pref.statement;
      updated = true;
    } else if (session.purpose === 'forget') {
      preference = forgetPreference(pref.statement);
      prefType = 'ask_to_forget';
      prev = pref.statement;
      updated = true;
    }
  } else {
    // Neither a question nor a preference names it: keep the conversation, say what little is known.
    preference = '';
    prefType = 'neutral_preferences';
  }
  const out: Record<string, unknown> = {
    preference,
    pref_type: prefType,
    who: question?.who ?? pref?.who ?? 'self',
    conversations: session.messages.map((m) => ({ role: m.role, content: m.content })),
    updated,
  };
  if (prev !== null) out.prev_pref = prev;
  out.topic_preference = question?.topic_preference ?? pref?.topic ?? session.topic;
  if (question) {
    out.user_query = question.user_query;
    out.topic_query = question.topic_query;
    out.correct_answer = question.correct_answer;
    out.incorrect_answers = question.incorrect_answers;
  }
  if (repeatIndex !== undefined) out.idx_repeat = repeatIndex;
  return out;
}

/**
 * One raw persona file: `{"<id>": {persona fields, preference lists, sensitive_information,
 * preference_updates, conversations grouped by task type}}`, in the published key order.
 */
export function rawPersonaFile(user: NativeUser, sources: readonly ElementSource[]): Record<string, unknown> {
  const persona: Record<string, unknown> = { ...personaFields(user) };
  for (const key of Object.values(LIST_OF_KIND)) persona[key] = [];
  for (const p of user.preferences) {
    const key = LIST_OF_KIND[p.kind];
    if (key) (persona[key] as string[]).push(p.statement);
  }
  persona.sensitive_information = Object.fromEntries(
    user.preferences.filter((p) => p.kind === 'sensitive_info' && p.sensitive).map((p) => [p.sensitive!.field, p.sensitive!.value]),
  );
  persona.preference_updates = Object.fromEntries(user.preferences.filter((p) => p.update).map((p) => [p.statement, p.update!]));
  const prefs = new Map(user.preferences.map((p) => [p.pref_id, p]));
  const repeats = new Map<string, number>();
  const conversations: Record<string, unknown[]> = Object.fromEntries(RAW_CONVERSATION_ORDER.map((t) => [t, []]));
  for (const src of sources) {
    let repeatIndex: number | undefined;
    if (src.session.purpose === 'repeat' && src.session.pref_id) {
      repeatIndex = (repeats.get(src.session.pref_id) ?? 0) + 1;
      repeats.set(src.session.pref_id, repeatIndex);
    }
    conversations[src.session.task_type]!.push(element(src, prefs, repeatIndex));
  }
  persona.conversations = conversations;
  return { [String(user.persona_id)]: persona };
}
