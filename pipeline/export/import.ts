import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { type Catalog, normalizeTopic, shippedCatalog } from '../../scenarios/index.js';
import { sizeTokens } from '../config/index.js';
import { PersonagenError } from '../core/errors.js';
import { writeFileAtomic } from '../core/files.js';
import { sha256 } from '../core/hash.js';
import { toJsonl } from '../core/jsonl.js';
import { Rng } from '../core/rng.js';
import { type Tokenizer, o200k } from '../core/tokenizer.js';
import { GENERATOR, evidenceHash } from '../dataset/write.js';
import {
  AgeBand,
  type ChatMessage,
  Demographics,
  FilterName,
  type HistoryFile,
  PUBLISHED_PREF_TYPE,
  Preference,
  type PrefKind,
  PrefType,
  Profile,
  Question,
  Session,
  type SessionPurpose,
  TaskType,
  User,
} from '../schemas/records.js';
import { writeDatasetCard } from './card.js';
import { PUBLISHED_COLUMNS, PublishedHistoryFile, RAW_SECTION_KEYS, RawElement, RawPersona, fromCsv } from './layout.js';
import { NATIVE_FILES, type NativeUser } from './native.js';
import { parseJsonOrPython } from './python.js';
import { abandonStaging, finishStaging, startStaging } from './staging.js';

/** A directory written by a previous import (its manifest names a source). */
async function previousImport(dir: string): Promise<boolean> {
  try {
    return Boolean((JSON.parse(await readFile(join(dir, NATIVE_FILES.manifest), 'utf8')) as { source?: unknown }).source);
  } catch {
    return false;
  }
}

export interface ImportOptions {
  /** A directory in the published layout, a raw_data/ folder, or one raw persona file. */
  path: string;
  /** Native dataset directory to write; replaced only if it holds a previous import. */
  out: string;
  tokenizer?: Tokenizer;
  catalog?: Catalog;
}

/** Something the import could not map as it was: where (file, and line or element) and what it did. */
export interface ImportProblem {
  file: string;
  where?: string;
  message: string;
}

export interface ImportResult {
  out: string;
  users: number;
  questions: number;
  sessions: number;
  histories: number;
  /** Values that could not be read or mapped, each with file and line or element. */
  problems: ImportProblem[];
  /** Native fields the published files do not have, and what the import put there. */
  filled: string[];
}

/** The published dataset's license, assumed when the files carry no card of their own. */
const PUBLISHED_LICENSE = 'cc-by-4.0';
const ATTRIBUTION =
  'Data from the published PersonaMem-v2 dataset is released by its authors under CC-BY-4.0 (GitHub: bowen-upenn/PersonaMem-v2); credit them and link the repository when you use or share it or data derived from it.';

/** The `license` field of a dataset card (README.md with a YAML header) beside the files, if any. */
async function cardLicense(root: string): Promise<string | undefined> {
  const text = await readFile(join(root, 'README.md'), 'utf8').catch(() => undefined);
  const m = text ? /^---\n([\s\S]*?)\n---\n/.exec(text) : null;
  if (!m) return undefined;
  try {
    const license = (parseYaml(m[1]!) as { license?: unknown } | null)?.license;
    return typeof license === 'string' ? license : undefined;
  } catch {
    return undefined;
  }
}

/** Fields every imported question gets because the published files do not record them. */
const IMPORTED_FILTERS = Object.fromEntries(
  FilterName.options.map((f) => [
    f,
    { passed: true, attempts: 1, judge: 'imported', reason: 'imported from published files; personagen filters did not run on it' },
  ]),
);

/** The preference kind of each published `pref_type` name (the inverse of PUBLISHED_PREF_TYPE). */
const KIND_OF_PREF_TYPE: Record<string, PrefKind> = Object.fromEntries(
  Object.entries(PUBLISHED_PREF_TYPE).map(([kind, prefType]) => [prefType, kind as PrefKind]),
);
const KIND_OF_LIST: Record<string, PrefKind> = {
  stereotypical_preferences: 'stereotypical',
  anti_stereotypical_preferences: 'anti_stereotypical',
  neutral_preferences: 'neutral',
  therapy_background: 'therapy_background',
  health_and_medical_conditions: 'health_and_medical',
};
/** Topic used when neither the label nor the preference's words map to the taxonomy (reported). */
const FALLBACK_TOPIC: Record<PrefKind, string> = {
  stereotypical: 'social_life',
  anti_stereotypical: 'social_life',
  neutral: 'social_life',
  therapy_background: 'mental_health',
  health_and_medical: 'medical_conditions',
  sensitive_info: 'privacy_security',
};

const FORGET = /^Do not remember '([\s\S]*)' in memory$/;

interface Problems {
  list: ImportProblem[];
  filled: string[];
  add(file: string, where: string | undefined, message: string): void;
}

function problems(): Problems {
  const list: ImportProblem[] = [];
  return {
    list,
    filled: [],
    add(file, where, message) {
      list.push(where === undefined ? { file, message } : { file, where, message });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reading loose published values

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() || undefined;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(text).filter(Boolean).join(', ') || undefined;
  if (v && typeof v === 'object') return Object.values(v).map(text).filter(Boolean).join('; ') || undefined;
  return undefined;
}

function list(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.flatMap(list);
  if (typeof v === 'object') return Object.values(v).flatMap(list);
  const t = text(v);
  return t ? [t] : [];
}

function messageText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .join(' ');
  }
  return undefined;
}

function ageBand(age: number): z.infer<typeof AgeBand> {
  if (age < 30) return '18-29';
  if (age < 45) return '30-44';
  if (age < 65) return '45-64';
  return '65+';
}

// ---------------------------------------------------------------------------------------------
// Users and preferences from a raw persona

interface ImportedPersona {
  pid: number;
  file: string;
  user: NativeUser;
  /** Statement → preference, for linking elements. */
  byStatement: Map<string, Preference>;
  sessions: Session[];
  /** Questions drafted from raw elements (used when no CSV is given). */
  elementQuestions: DraftQuestion[];
}

interface DraftQuestion {
  file: string;
  where: string;
  persona_id: number;
  user_query: string;
  correct_answer: string;
  incorrect_answers: string[];
  preference: string;
  pref_type: z.infer<typeof PrefType>;
  who: 'self' | 'others';
  updated: boolean;
  prev_pref: string | null;
  sensitive_info: boolean;
  conversation_scenario: z.infer<typeof TaskType>;
  topic_preference: string;
  topic_query: string;
  /** The evidence session: an imported session id, or messages to find or add. */
  session_id?: string;
  snippet?: Array<{ role: 'user' | 'assistant'; content: string }>;
}

function personaProfile(
  pid: number,
  p: Record<string, unknown>,
  file: string,
  out: Problems,
): { profile: Profile; demographics: Demographics } {
  const filled: string[] = [];
  const fill = <T>(field: string, value: T | undefined, fallback: T): T => {
    if (value !== undefined) return value;
    filled.push(field);
    return fallback;
  };
  const personality = (p.personality && typeof p.personality === 'object' ? p.personality : {}) as Record<string, unknown>;
  const name = fill('name', text(p.name), `Persona ${pid}`);
  const rawAge = typeof p.age === 'number' ? Math.round(p.age) : Number.parseInt(String(p.age ?? ''), 10);
  const age = fill('age', Number.isFinite(rawAge) && rawAge >= 18 && rawAge <= 100 ? rawAge : undefined, 35);
  const work = (p.work && typeof p.work === 'object' ? p.work : {}) as Record<string, unknown>;
  const occupationObj = (p.occupation && typeof p.occupation === 'object' ? p.occupation : {}) as Record<string, unknown>;
  const occupation = fill(
    'occupation',
    typeof p.occupation === 'string'
      ? text(p.occupation)
      : (text(occupationObj.current_position ?? occupationObj.title ?? occupationObj.occupation) ??
          (text(work.occupation) ? `${text(work.occupation)}${text(work.organization) ? `, ${text(work.organization)}` : ''}` : undefined)),
    'not stated',
  );
  const location = fill('current_location', text(p.current_location ?? p.current_residence ?? p.location ?? p.birthplace), 'not stated');
  const educationObj = (p.education && typeof p.education === 'object' ? p.education : undefined) as Record<string, unknown> | undefined;
  const education = fill(
    'education',
    typeof p.education === 'string'
      ? text(p.education)
      : educationObj
        ? [text(educationObj.degree), text(educationObj.institution)].filter(Boolean).join(', ') || text(educationObj)
        : [text(p.degree), text(p.school)].filter(Boolean).join(', ') || undefined,
    'not stated',
  );
  const atLeast = (field: string, values: string[], min: number, max: number) => {
    const out = values.slice(0, max);
    if (out.length < min) filled.push(field);
    while (out.length < min) out.push('not stated');
    return out;
  };
  const traits = atLeast(
    'personality.traits',
    list(personality.traits).length ? list(personality.traits) : [...list(p.strengths), ...list(p.flaws), ...list(p.traits)],
    2,
    8,
  );
  const hobbies = atLeast(
    'personality.hobbies',
    list(personality.hobbies).length ? list(personality.hobbies) : list(p.hobbies_and_interests ?? p.hobbies ?? p.tech_interests),
    1,
    8,
  );
  const values = atLeast(
    'personality.values',
    list(personality.values).length ? list(personality.values) : list(p.motivations ?? p.values),
    1,
    8,
  );
  const languages = atLeast('language_proficiency', list(p.language_proficiency ?? p.languages_spoken ?? p.languages), 1, 6);
  let speaking = text(p.speaking_style ?? p.speaking_style_to_chatbot);
  if (speaking !== undefined && speaking.length < 5) speaking = undefined;
  const speakingStyle = fill('speaking_style', speaking, 'Not stated in the published persona.');
  let bio = text(p.bio);
  if (bio !== undefined && bio.length < 20) bio = undefined;
  const biography = fill('bio', bio, `${name}, ${age}, ${occupation}; lives in ${location}.`.padEnd(20, ' '));
  const profile = Profile.parse({
    name: name.length >= 2 ? name : `Persona ${pid}`,
    age,
    gender: fill('gender', text(p.gender), 'not stated'),
    sexual_orientation: fill('sexual_orientation', text(p.sexual_orientation), 'not stated'),
    race: fill('race', text(p.race ?? p.race_ethnicity ?? p.ethnicity), 'not stated'),
    nationality: fill('nationality', text(p.nationality), 'not stated'),
    current_location: location.length >= 2 ? location : 'not stated',
    personality: { traits, hobbies, values },
    education: education.length >= 2 ? education : 'not stated',
    occupation: occupation.length >= 2 ? occupation : 'not stated',
    language_proficiency: languages,
    speaking_style: speakingStyle,
    bio: biography,
  });
  const g = profile.gender.toLowerCase();
  const gender = /non|enby|queer|fluid|agender/.test(g)
    ? 'nonbinary'
    : /^(f|wom|girl)/.test(g)
      ? 'female'
      : /^(m|man|boy)/.test(g)
        ? 'male'
        : undefined;
  if (!gender) filled.push('demographics.gender');
  const demographics = Demographics.parse({
    gender: gender ?? 'nonbinary',
    age_band: ageBand(profile.age),
    sexual_orientation: profile.sexual_orientation,
    ethnicity: profile.race,
  });
  if (filled.length) {
    out.add(file, `persona ${pid}`, `fields not in the raw persona, filled so our profile schema holds: ${filled.join(', ')}`);
  }
  return { profile, demographics };
}

function topicOf(catalog: Catalog, labels: ReadonlyArray<string | undefined>): string | undefined {
  for (const l of labels) {
    if (!l) continue;
    const t = normalizeTopic(catalog, l);
    if (t) return t;
  }
  return undefined;
}

/** Reads one raw persona file into a user, preferences and sessions. */
function readRawPersona(
  file: string,
  json: unknown,
  ctx: { catalog: Catalog; tokenizer: Tokenizer; out: Problems },
): ImportedPersona | undefined {
  const { catalog, tokenizer, out } = ctx;
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    out.add(file, undefined, 'not a raw persona file: expected {"<persona id>": {...}}');
    return undefined;
  }
  const entries = Object.entries(json as Record<string, unknown>);
  if (entries.length !== 1 || !/^\d+$/.test(entries[0]![0])) {
    out.add(file, undefined, 'not a raw persona file: expected one key, the persona id');
    return undefined;
  }
  const [key, body] = entries[0]!;
  const pid = Number(key);
  const parsed = RawPersona.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    out.add(file, `${key}.${issue?.path.join('.')}`, issue?.message ?? 'invalid raw persona');
    return undefined;
  }
  const p = parsed.data;
  const sourcePersona = Object.fromEntries(Object.entries(p).filter(([k]) => !(RAW_SECTION_KEYS as readonly string[]).includes(k)));
  const { profile, demographics } = personaProfile(pid, p, file, out);
  const shortPersona = text(p.short_persona) ?? profile.bio;
  if (!text(p.short_persona)) out.add(file, `persona ${pid}`, 'no short_persona; the bio stands in for it');

  // Elements first: their topics name the preferences' topics.
  type Parsed = { type: z.infer<typeof TaskType>; index: number; where: string; el: RawElement; messages: Session['messages'] };
  const elements: Parsed[] = [];
  for (const [type, items] of Object.entries(p.conversations ?? {})) {
    const task = TaskType.safeParse(type);
    if (!task.success) {
      out.add(file, `conversations.${type}`, `unknown conversation type; its ${items.length} elements are skipped`);
      continue;
    }
    items.forEach((item, index) => {
      const where = `conversations.${type}[${index}]`;
      const el = RawElement.safeParse(item);
      if (!el.success) {
        const issue = el.error.issues[0];
        out.add(file, `${where}.${issue?.path.join('.')}`, `${issue?.message ?? 'invalid element'}; element skipped`);
        return;
      }
      const messages: Session['messages'] = [];
      el.data.conversations.forEach((m, mi) => {
        const content = messageText(m.content);
        const extra = Object.keys(m).filter((k) => k !== 'role' && k !== 'content');
        if (extra.length) out.add(file, `${where}.conversations[${mi}]`, `extra keys dropped: ${extra.join(', ')}`);
        if ((m.role === 'user' || m.role === 'assistant') && content !== undefined) messages.push({ role: m.role, content });
        else out.add(file, `${where}.conversations[${mi}]`, `message with role ${JSON.stringify(m.role)} and non-text content dropped`);
      });
      if (messages.length === 0) {
        out.add(file, where, 'element has no user or assistant message; skipped');
        return;
      }
      elements.push({ type: task.data, index, where, el: el.data, messages });
    });
  }

  // Preferences: the published lists, then sensitive information.
  const preferences: Preference[] = [];
  const byStatement = new Map<string, Preference>();
  const labelsOf = (statement: string) =>
    elements
      .filter((e) => e.el.preference === statement || e.el.prev_pref === statement)
      .flatMap((e) => [e.el.topic_preference, e.el.topic_query]);
  const add = (kind: PrefKind, statement: string, where: string, sensitive: Preference['sensitive']) => {
    if (byStatement.has(statement)) return byStatement.get(statement)!;
    // Sensitive items are about privacy whatever the value is.
    let topic = kind === 'sensitive_info' ? FALLBACK_TOPIC.sensitive_info : topicOf(catalog, [...labelsOf(statement), statement]);
    if (!topic) {
      topic = FALLBACK_TOPIC[kind];
      out.add(file, where, `no topic of the taxonomy matches ${JSON.stringify(labelsOf(statement)[0] ?? statement)}; stored as ${topic}`);
    }
    const update = p.preference_updates?.[statement];
    const pref = Preference.parse({
      pref_id: `p${String(preferences.length).padStart(3, '0')}`,
      persona_id: pid,
      kind,
      statement: statement.length >= 3 ? statement : `${statement}   `,
      topic,
      who: 'self',
      person: null,
      update: typeof update === 'string' && update.length >= 3 ? update : null,
      forget: false,
      repeats: 0,
      sensitive,
    });
    preferences.push(pref);
    byStatement.set(statement, pref);
    return pref;
  };
  for (const [listKey, kind] of Object.entries(KIND_OF_LIST)) {
    const items = (p as Record<string, unknown>)[listKey];
    if (items === undefined) {
      out.add(file, listKey, 'list missing; no preferences of this kind');
      continue;
    }
    (items as string[]).forEach((s, i) => add(kind, s, `${listKey}[${i}]`, null));
  }
  for (const [field, value] of Object.entries(p.sensitive_information ?? {})) {
    const v = text(value);
    if (!v) continue;
    add('sensitive_info', `Shared their ${field} (${v}) and expects it kept private`, `sensitive_information.${field}`, {
      field,
      value: v,
    });
  }

  // Sessions, one per element, linked to their preference.
  const sessions: Session[] = [];
  const elementQuestions: DraftQuestion[] = [];
  const revealed = new Set<string>();
  // A repeated element (idx_repeat) is a repeat when a plain element reveals the same preference.
  const plain = new Set(
    elements
      .filter((e) => e.el.idx_repeat === undefined && !e.el.updated && e.el.pref_type !== 'ask_to_forget')
      .map((e) => e.el.preference),
  );
  for (const e of elements) {
    const forgetMatch = FORGET.exec(e.el.preference);
    const isForget = e.el.pref_type === 'ask_to_forget';
    const original = isForget ? (e.el.prev_pref ?? forgetMatch?.[1]) : e.el.updated && e.el.prev_pref ? e.el.prev_pref : e.el.preference;
    let pref = original ? byStatement.get(original) : undefined;
    if (!pref) {
      const kind = KIND_OF_PREF_TYPE[e.el.pref_type] ?? 'neutral';
      out.add(
        file,
        e.where,
        `preference ${JSON.stringify(original ?? e.el.preference)} is in no preference list; added as a ${kind} preference`,
      );
      pref = add(kind, original ?? e.el.preference, e.where, null);
    }
    if (e.el.who === 'others' && pref.who !== 'others') pref.who = 'others';
    let purpose: SessionPurpose;
    if (isForget) {
      purpose = 'forget';
      pref.forget = true;
    } else if (e.el.updated && e.el.prev_pref) {
      purpose = 'update';
      if (!pref.update && e.el.preference.length >= 3) pref.update = e.el.preference;
    } else if (revealed.has(pref.pref_id) || (e.el.idx_repeat !== undefined && plain.has(pref.statement))) {
      purpose = 'repeat';
      pref.repeats++;
    } else {
      purpose = 'reveal';
      revealed.add(pref.pref_id);
    }
    const topic = topicOf(catalog, [e.el.topic_preference]) ?? pref.topic;
    const session = Session.parse({
      session_id: `u${pid}-${e.type}-${String(e.index).padStart(3, '0')}`,
      persona_id: pid,
      pref_id: pref.pref_id,
      purpose,
      scenario_id: `published:${e.type}`,
      task_type: e.type,
      topic,
      messages: e.messages,
      tokens: Math.max(
        1,
        e.messages.reduce((n, m) => n + tokenizer.count(m.content), 0),
      ),
    });
    sessions.push(session);
    if (e.el.user_query !== undefined) {
      const draft = elementQuestion(file, e.where, pid, e.type, e.el, session, pref, catalog, out);
      if (draft) elementQuestions.push(draft);
    }
  }
  const user: NativeUser = {
    ...User.parse({ persona_id: pid, short_persona: shortPersona, demographics, profile }),
    preferences: preferences.map((x) => Preference.parse(x)),
    source_persona: sourcePersona,
  };
  return { pid, file, user, byStatement, sessions, elementQuestions };
}

function queryText(v: unknown): string | undefined {
  if (typeof v === 'string') {
    const t = v.trim();
    if (t.startsWith('{')) {
      try {
        return queryText(parseJsonOrPython(t));
      } catch {
        return v;
      }
    }
    return v;
  }
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/** The three distractors: strings kept, nulls and blanks dropped (and reported), never more than 3. */
function distractors(raw: readonly unknown[], file: string, where: string, out: Problems): string[] | undefined {
  const kept = raw.filter((x): x is string => typeof x === 'string' && x.trim() !== '');
  if (kept.length !== raw.length) out.add(file, `${where}.incorrect_answers`, `${raw.length - kept.length} empty or null entries dropped`);
  if (kept.length < 3) {
    out.add(file, `${where}.incorrect_answers`, `only ${kept.length} usable distractors; question skipped`);
    return undefined;
  }
  if (kept.length > 3) out.add(file, `${where}.incorrect_answers`, `${kept.length} distractors; the first 3 kept`);
  return kept.slice(0, 3);
}

function elementQuestion(
  file: string,
  where: string,
  pid: number,
  type: z.infer<typeof TaskType>,
  el: RawElement,
  session: Session,
  pref: Preference,
  catalog: Catalog,
  out: Problems,
): DraftQuestion | undefined {
  const query = queryText(el.user_query);
  if (!query?.trim()) {
    out.add(file, `${where}.user_query`, 'not a text query; question skipped');
    return undefined;
  }
  if (!el.correct_answer?.trim()) {
    out.add(file, `${where}.correct_answer`, 'missing; question skipped');
    return undefined;
  }
  const wrong = distractors(el.incorrect_answers ?? [], file, where, out);
  if (!wrong) return undefined;
  const prefType = PrefType.safeParse(el.pref_type);
  if (!prefType.success) {
    out.add(file, `${where}.pref_type`, `unknown pref_type ${JSON.stringify(el.pref_type)}; question skipped`);
    return undefined;
  }
  const topicPreference = topicOf(catalog, [el.topic_preference]) ?? pref.topic;
  if (el.topic_preference && !topicOf(catalog, [el.topic_preference])) {
    out.add(
      file,
      `${where}.topic_preference`,
      `no topic of the taxonomy matches ${JSON.stringify(el.topic_preference)}; stored as ${pref.topic}`,
    );
  }
  let topicQuery = topicOf(catalog, [el.topic_query]);
  if (el.topic_query && !topicQuery) {
    out.add(
      file,
      `${where}.topic_query`,
      `no topic of the taxonomy matches ${JSON.stringify(el.topic_query)}; stored as ${topicPreference}`,
    );
  }
  topicQuery ??= topicPreference;
  return {
    file,
    where,
    persona_id: pid,
    user_query: query,
    correct_answer: el.correct_answer,
    incorrect_answers: wrong,
    preference: el.preference,
    pref_type: prefType.data,
    who: el.who === 'others' ? 'others' : 'self',
    updated: el.updated ?? false,
    prev_pref: el.prev_pref ?? null,
    sensitive_info: prefType.data === 'sensitive_info',
    conversation_scenario: type,
    topic_preference: topicPreference,
    topic_query: topicQuery,
    session_id: session.session_id,
  };
}

// ---------------------------------------------------------------------------------------------
// CSV rows

function csvQuestion(
  file: string,
  line: number,
  row: Record<string, string>,
  catalog: Catalog,
  out: Problems,
): { draft: DraftQuestion; links: Record<string, string> } | undefined {
  const where = `line ${line}`;
  const skip = (field: string, message: string) => {
    out.add(file, `${where} column ${field}`, `${message}; row skipped`);
    return undefined;
  };
  if (!/^\d+$/.test(row.persona_id ?? '')) return skip('persona_id', `not an integer: ${JSON.stringify(row.persona_id)}`);
  let query: string | undefined;
  try {
    query = queryText(parseJsonOrPython(row.user_query ?? ''));
  } catch {
    query = undefined;
  }
  if (!query?.trim()) return skip('user_query', 'neither a JSON nor a Python dict with content');
  let wrongRaw: unknown;
  try {
    wrongRaw = parseJsonOrPython(row.incorrect_answers ?? '');
  } catch {
    return skip('incorrect_answers', 'neither a JSON nor a Python list');
  }
  if (!Array.isArray(wrongRaw)) return skip('incorrect_answers', 'not a list');
  const wrong = distractors(wrongRaw, file, where, out);
  if (!wrong) return undefined;
  if (!row.correct_answer?.trim()) return skip('correct_answer', 'empty');
  const prefType = PrefType.safeParse(row.pref_type);
  if (!prefType.success) return skip('pref_type', `unknown value ${JSON.stringify(row.pref_type)}`);
  const scenario = TaskType.safeParse(row.conversation_scenario);
  if (!scenario.success) return skip('conversation_scenario', `unknown value ${JSON.stringify(row.conversation_scenario)}`);
  const bool = (field: 'updated' | 'sensitive_info') => {
    const v = (row[field] ?? '').trim().toLowerCase();
    if (v !== 'true' && v !== 'false')
      out.add(file, `${where} column ${field}`, `expected True or False, got ${JSON.stringify(row[field])}; read as False`);
    return v === 'true';
  };
  let snippet: DraftQuestion['snippet'];
  try {
    const parsed = parseJsonOrPython(row.related_conversation_snippet ?? '');
    if (Array.isArray(parsed)) {
      snippet = parsed
        .map((m) => m as { role?: unknown; content?: unknown })
        .filter((m) => (m.role === 'user' || m.role === 'assistant') && messageText(m.content) !== undefined)
        .map((m) => ({ role: m.role as 'user' | 'assistant', content: messageText(m.content)! }));
    }
  } catch {
    snippet = undefined;
  }
  if (!snippet?.length)
    out.add(file, `${where} column related_conversation_snippet`, 'not a list of messages; the evidence is looked up by preference');
  let topicPreference = topicOf(catalog, [row.topic_preference, row.preference]);
  if (!topicPreference) {
    topicPreference = FALLBACK_TOPIC[KIND_OF_PREF_TYPE[row.pref_type ?? ''] ?? 'neutral'];
    out.add(
      file,
      `${where} column topic_preference`,
      `no topic of the taxonomy matches ${JSON.stringify(row.topic_preference)}; stored as ${topicPreference}`,
    );
  }
  const topicQuery = topicOf(catalog, [row.topic_query]) ?? topicPreference;
  if (row.topic_query && !topicOf(catalog, [row.topic_query])) {
    out.add(
      file,
      `${where} column topic_query`,
      `no topic of the taxonomy matches ${JSON.stringify(row.topic_query)}; stored as ${topicQuery}`,
    );
  }
  const who = row.who === 'others' ? 'others' : 'self';
  if (row.who !== 'self' && row.who !== 'others')
    out.add(file, `${where} column who`, `expected self or others, got ${JSON.stringify(row.who)}; read as self`);
  const links: Record<string, string> = {};
  for (const col of Object.keys(row)) {
    const m = /^chat_history_(\w+)_link$/.exec(col);
    if (m && row[col]) links[m[1]!] = row[col]!;
  }
  return {
    draft: {
      file,
      where,
      persona_id: Number(row.persona_id),
      user_query: query,
      correct_answer: row.correct_answer!,
      incorrect_answers: wrong,
      preference: row.preference ?? '',
      pref_type: prefType.data,
      who,
      updated: bool('updated'),
      prev_pref: row.prev_pref ? row.prev_pref : null,
      sensitive_info: bool('sensitive_info'),
      conversation_scenario: scenario.data,
      topic_preference: topicPreference,
      topic_query: topicQuery,
      ...(snippet?.length ? { snippet } : {}),
    },
    links,
  };
}

// ---------------------------------------------------------------------------------------------
// Histories

interface LoadedHistory {
  pid: number;
  size: string;
  file: string;
  messages: ChatMessage[];
  counts: number[];
  meta: { num_relevant_tokens?: number | undefined; num_irrelevant_tokens?: number | undefined; recorded: number };
}

async function readHistoryFile(
  file: string,
  size: string,
  ctx: { tokenizer: Tokenizer; out: Problems },
): Promise<LoadedHistory | undefined> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    ctx.out.add(file, undefined, `unreadable (${(error as Error).message}); skipped`);
    return undefined;
  }
  const parsed = PublishedHistoryFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    ctx.out.add(file, issue?.path.join('.'), `${issue?.message ?? 'not a chat history'}; skipped`);
    return undefined;
  }
  const pid = Number(parsed.data.metadata.persona_id);
  if (!Number.isInteger(pid) || pid < 0) {
    ctx.out.add(file, 'metadata.persona_id', 'not an integer; skipped');
    return undefined;
  }
  const messages: ChatMessage[] = [];
  parsed.data.chat_history.forEach((m, i) => {
    const content = messageText(m.content);
    if ((m.role === 'system' || m.role === 'user' || m.role === 'assistant') && content !== undefined)
      messages.push({ role: m.role, content });
    else ctx.out.add(file, `chat_history[${i}]`, 'message with an unknown role or non-text content dropped');
  });
  const counts = messages.map((m) => ctx.tokenizer.count(m.content));
  const total = counts.reduce((a, b) => a + b, 0);
  const recorded = parsed.data.metadata.final_token_count;
  if (total !== recorded)
    ctx.out.add(file, 'metadata.final_token_count', `${recorded} recorded, ${total} on recount; the recount is stored`);
  return {
    pid,
    size,
    file,
    messages,
    counts,
    meta: {
      num_relevant_tokens: parsed.data.metadata.num_relevant_tokens,
      num_irrelevant_tokens: parsed.data.metadata.num_irrelevant_tokens,
      recorded,
    },
  };
}

/** Where a run of messages sits in a history: its first and last index, or undefined. */
function locate(history: LoadedHistory, index: Map<string, number[]>, messages: ReadonlyArray<{ role: string; content: string }>) {
  const first = messages[0];
  if (!first) return undefined;
  for (const start of index.get(first.content) ?? []) {
    let ok = start + messages.length <= history.messages.length;
    for (let k = 0; ok && k < messages.length; k++) {
      const h = history.messages[start + k]!;
      ok = h.role === messages[k]!.role && h.content === messages[k]!.content;
    }
    if (ok) return [start, start + messages.length - 1] as [number, number];
  }
  return undefined;
}

function sizeLabelFor(tokens: number): string {
  if (tokens <= 32_000) return '32k';
  if (tokens <= 128_000) return '128k';
  return `${Math.ceil(tokens / 1000)}k`;
}

/** The system message of a rebuilt history: the published opening, the persona as indented JSON. */
function personaSystemMessage(persona: Record<string, unknown>): string {
  return `You are an AI assistant helping a user with the following persona:\n\n${JSON.stringify(persona, null, 2)}\n\nRemember what the user shares across conversations and personalise your help accordingly.`;
}

/** Sessions in file order, except that an update, forget or repeat waits for its preference's reveal. */
function rebuildOrder(sessions: readonly Session[]): Session[] {
  const order: Session[] = [];
  const revealed = new Set<string>();
  const waiting = new Map<string, Session[]>();
  const hasReveal = new Set(sessions.filter((s) => s.purpose === 'reveal').map((s) => s.pref_id));
  for (const s of sessions) {
    if (s.purpose === 'reveal') {
      order.push(s);
      revealed.add(s.pref_id);
      order.push(...(waiting.get(s.pref_id) ?? []));
      waiting.delete(s.pref_id);
    } else if (revealed.has(s.pref_id) || !hasReveal.has(s.pref_id)) order.push(s);
    else waiting.set(s.pref_id, [...(waiting.get(s.pref_id) ?? []), s]);
  }
  for (const rest of waiting.values()) order.push(...rest);
  return order;
}

// ---------------------------------------------------------------------------------------------
// Finding the files

interface Found {
  csvs: string[];
  raws: string[];
  histories: Array<{ file: string; size: string }>;
  root: string;
}

async function listJson(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isFile() && extname(d.name) === '.json')
    .map((d) => join(dir, d.name))
    .sort();
}

async function discover(path: string): Promise<Found> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new PersonagenError('bad_input', `${path} does not exist`);
  if (info.isFile()) {
    if (extname(path) === '.csv') return { csvs: [path], raws: [], histories: [], root: dirname(path) };
    if (extname(path) === '.json') {
      const m = /chat_history_(\d+k)/i.exec(path);
      return m
        ? { csvs: [], raws: [], histories: [{ file: path, size: m[1]!.toLowerCase() }], root: dirname(path) }
        : { csvs: [], raws: [path], histories: [], root: dirname(path) };
    }
    throw new PersonagenError('bad_input', `${path}: expected a directory, a .csv or a .json file`);
  }
  const csvs = ['benchmark', 'train', 'val'].map((s) => join(path, 'benchmark', 'text', `${s}.csv`)).filter((f) => existsSync(f));
  if (csvs.length === 0) {
    for (const d of await readdir(path, { withFileTypes: true }))
      if (d.isFile() && extname(d.name) === '.csv') csvs.push(join(path, d.name));
    csvs.sort();
  }
  const raws = [...(await listJson(join(path, 'raw_data'))), ...(await listJson(path)).filter((f) => /raw/i.test(basename(f)))];
  const histories: Found['histories'] = [];
  for (const d of (await readdir(path, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .sort((a, b) => a.name.localeCompare(b.name))) {
    const m = /^chat_history_(\d+k)$/i.exec(d.name);
    if (m) for (const f of await listJson(join(path, d.name))) histories.push({ file: f, size: m[1]!.toLowerCase() });
  }
  return { csvs, raws, histories, root: path };
}

/** A link from a CSV, resolved against the CSV's root and its parents (published links start at the repository root). */
function resolveLink(root: string, link: string): string | undefined {
  let dir = root;
  for (let i = 0; i < 4; i++) {
    const candidate = resolve(dir, link);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------

/**
 * Reads PersonaMem-v2 files (the published layout, a raw_data/ folder, or one raw persona file)
 * into the native layout: users.jsonl, questions.jsonl, sessions.jsonl, histories/, manifest.json
 * and the dataset card. What cannot be mapped is reported with its file and line or element.
 */
export async function importDataset(options: ImportOptions): Promise<ImportResult> {
  const tokenizer = options.tokenizer ?? o200k;
  const catalog = options.catalog ?? shippedCatalog();
  const out = resolve(options.out);
  const found = await discover(resolve(options.path));
  const report = problems();
  const ctx = { catalog, tokenizer, out: report };
  const rel = (f: string) => relative(found.root, f) || basename(f);

  // Raw personas.
  const personas = new Map<number, ImportedPersona>();
  for (const file of found.raws) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      report.add(rel(file), undefined, `not valid JSON (${(error as Error).message}); skipped`);
      continue;
    }
    if (json && typeof json === 'object' && 'chat_history' in json) {
      report.add(rel(file), undefined, 'a chat history outside a chat_history_<size>/ folder: its size is unknown; skipped');
      continue;
    }
    const persona = readRawPersona(rel(file), json, ctx);
    if (!persona) continue;
    if (personas.has(persona.pid)) {
      report.add(rel(file), undefined, `persona ${persona.pid} was already read from ${personas.get(persona.pid)!.file}; skipped`);
      continue;
    }
    personas.set(persona.pid, persona);
  }

  // Questions: CSV rows when there are CSVs, else the raw elements that carry a query.
  const drafts: Array<{ draft: DraftQuestion; links: Record<string, string> }> = [];
  const csvPersonas = new Map<number, { short: string; expanded: string; file: string; line: number }>();
  let csvRead = 0;
  for (const file of found.csvs) {
    const { header, rows } = fromCsv(await readFile(file, 'utf8'));
    const missing = PUBLISHED_COLUMNS.filter((c) => !header.includes(c) && !c.includes('128k') && !c.startsWith('num_persona'));
    if (missing.length) {
      report.add(rel(file), 'line 1', `columns missing: ${missing.join(', ')}; file skipped`);
      continue;
    }
    csvRead++;
    rows.forEach((row, i) => {
      const got = csvQuestion(rel(file), i + 2, row, catalog, report);
      if (!got) return;
      drafts.push(got);
      if (!csvPersonas.has(got.draft.persona_id)) {
        csvPersonas.set(got.draft.persona_id, {
          short: row.short_persona ?? '',
          expanded: row.expanded_persona ?? '',
          file: rel(file),
          line: i + 2,
        });
      }
    });
  }
  if (csvRead === 0) for (const p of [...personas.values()]) for (const d of p.elementQuestions) drafts.push({ draft: d, links: {} });

  // Users known only from CSV rows: the persona columns give the profile; sessions come from snippets.
  for (const [pid, src] of csvPersonas) {
    if (personas.has(pid)) continue;
    let persona: Record<string, unknown> = {};
    try {
      persona = JSON.parse(src.expanded) as Record<string, unknown>;
    } catch {
      report.add(src.file, `line ${src.line} column expanded_persona`, 'not JSON; the profile is filled from short_persona');
    }
    if (!persona.short_persona && src.short) persona = { short_persona: src.short, ...persona };
    const made = readRawPersona(src.file, { [String(pid)]: persona }, { ...ctx, out: problems() });
    if (!made) continue;
    report.filled.push(
      `persona ${pid}: no raw persona file; profile from the CSV's expanded_persona, preferences and sessions from its rows`,
    );
    personas.set(pid, made);
  }

  // Histories: the files found, the files CSV rows link to, and rebuilt ones for personas with neither.
  const histories = new Map<string, LoadedHistory>();
  const historyKey = (pid: number, size: string) => `${pid}|${size}`;
  const addHistory = async (file: string, size: string) => {
    if ([...histories.values()].some((h) => h.file === rel(file))) return;
    const h = await readHistoryFile(file, size, ctx);
    if (!h) return;
    h.file = rel(file);
    if (histories.has(historyKey(h.pid, size))) {
      report.add(h.file, undefined, `a second ${size} history of persona ${h.pid}; skipped`);
      return;
    }
    histories.set(historyKey(h.pid, size), h);
  };
  for (const h of found.histories) await addHistory(h.file, h.size);
  for (const { draft, links } of drafts) {
    for (const [size, link] of Object.entries(links)) {
      if (histories.has(historyKey(draft.persona_id, size))) continue;
      const file = resolveLink(found.root, link);
      if (file) await addHistory(file, size);
      else report.add(draft.file, `${draft.where} column chat_history_${size}_link`, `file not found: ${link}`);
    }
  }
  for (const p of personas.values()) {
    if ([...histories.values()].some((h) => h.pid === p.pid) || p.sessions.length === 0) continue;
    const system = personaSystemMessage(p.user.source_persona ?? { short_persona: p.user.short_persona, ...p.user.profile });
    const messages: ChatMessage[] = [{ role: 'system', content: system }, ...rebuildOrder(p.sessions).flatMap((s) => s.messages)];
    const counts = messages.map((m) => tokenizer.count(m.content));
    const total = counts.reduce((a, b) => a + b, 0);
    const size = sizeLabelFor(total);
    histories.set(historyKey(p.pid, size), {
      pid: p.pid,
      size,
      file: `(rebuilt from ${p.file})`,
      messages,
      counts,
      meta: { recorded: total },
    });
    report.filled.push(
      `persona ${p.pid}: no chat history given; a ${size} history (${total} tokens) was rebuilt from the raw file's conversations in file order, updates and forget requests after their originals, with no filler. It is not the published history.`,
    );
  }

  // Evidence sessions of CSV rows: an imported session with the same messages, else a new one.
  const sessionsOf = new Map<number, Session[]>();
  for (const p of personas.values()) sessionsOf.set(p.pid, [...p.sessions]);
  const bySnippet = new Map<string, Session>();
  for (const list of sessionsOf.values()) for (const s of list) bySnippet.set(`${s.persona_id}|${evidenceHash(s.messages)}`, s);
  for (const { draft } of drafts) {
    if (draft.session_id || !draft.snippet) continue;
    const key = `${draft.persona_id}|${evidenceHash(draft.snippet)}`;
    let s = bySnippet.get(key);
    if (!s) {
      const persona = personas.get(draft.persona_id);
      const original =
        draft.pref_type === 'ask_to_forget'
          ? (draft.prev_pref ?? FORGET.exec(draft.preference)?.[1])
          : (draft.prev_pref ?? draft.preference);
      let pref = original ? persona?.byStatement.get(original) : undefined;
      if (persona && !pref) {
        const kind = KIND_OF_PREF_TYPE[draft.pref_type] ?? 'neutral';
        pref = Preference.parse({
          pref_id: `p${String(persona.user.preferences.length).padStart(3, '0')}`,
          persona_id: draft.persona_id,
          kind,
          statement: (original ?? draft.preference).padEnd(3, ' '),
          topic: draft.topic_preference,
          who: draft.who,
          person: null,
          update: draft.updated && draft.pref_type !== 'ask_to_forget' && draft.preference.length >= 3 ? draft.preference : null,
          forget: draft.pref_type === 'ask_to_forget',
          repeats: 0,
          sensitive: null,
        });
        persona.user.preferences.push(pref);
        persona.byStatement.set(pref.statement, pref);
      }
      const list = sessionsOf.get(draft.persona_id) ?? [];
      s = Session.parse({
        session_id: `u${draft.persona_id}-evidence-${String(list.length).padStart(3, '0')}`,
        persona_id: draft.persona_id,
        pref_id: pref?.pref_id ?? 'unknown',
        purpose: draft.pref_type === 'ask_to_forget' ? 'forget' : draft.updated ? 'update' : 'reveal',
        scenario_id: `published:${draft.conversation_scenario}`,
        task_type: draft.conversation_scenario,
        topic: draft.topic_preference,
        messages: draft.snippet,
        tokens: Math.max(
          1,
          draft.snippet.reduce((n, m) => n + tokenizer.count(m.content), 0),
        ),
      });
      list.push(s);
      sessionsOf.set(draft.persona_id, list);
      bySnippet.set(key, s);
    }
    draft.session_id = s.session_id;
  }

  // Questions, with their evidence located in every history of their user.
  const indexes = new Map<string, Map<string, number[]>>();
  const indexOf = (h: LoadedHistory) => {
    const key = historyKey(h.pid, h.size);
    let idx = indexes.get(key);
    if (!idx) {
      idx = new Map();
      h.messages.forEach((m, i) => idx!.set(m.content, [...(idx!.get(m.content) ?? []), i]));
      indexes.set(key, idx);
    }
    return idx;
  };
  const sessionById = new Map<string, Session>();
  for (const list of sessionsOf.values()) for (const s of list) sessionById.set(s.session_id, s);
  const questions: Question[] = [];
  const perUser = new Map<number, number>();
  for (const { draft } of drafts) {
    const session = draft.session_id ? sessionById.get(draft.session_id) : undefined;
    const evidence = session?.messages ?? draft.snippet ?? [];
    const n = perUser.get(draft.persona_id) ?? 0;
    perUser.set(draft.persona_id, n + 1);
    const questionId = `u${draft.persona_id}-q${String(n).padStart(3, '0')}`;
    const placed: Question['histories'] = {};
    const ranges: Question['evidence']['messages'] = {};
    const distance: Question['distance_tokens'] = {};
    for (const h of histories.values()) {
      if (h.pid !== draft.persona_id) continue;
      const range = evidence.length ? locate(h, indexOf(h), evidence) : undefined;
      if (!range) continue;
      placed[h.size] = NATIVE_FILES.history(h.size, h.pid);
      ranges[h.size] = range;
      distance[h.size] = h.counts.slice(range[0]).reduce((a, b) => a + b, 0);
    }
    if (Object.keys(placed).length === 0) report.add(draft.file, draft.where, 'the evidence session is in no history of this persona');
    if (draft.incorrect_answers.includes(draft.correct_answer) || new Set(draft.incorrect_answers).size < 3) {
      report.add(draft.file, draft.where, 'the four options are not distinct');
    }
    const options = Rng.derive('import', draft.persona_id, draft.user_query).shuffle([draft.correct_answer, ...draft.incorrect_answers]);
    const parsed = Question.safeParse({
      question_id: questionId,
      persona_id: draft.persona_id,
      user_query: draft.user_query,
      correct_answer: draft.correct_answer,
      incorrect_answers: draft.incorrect_answers,
      options,
      answer: 'ABCD'[options.indexOf(draft.correct_answer)],
      preference: draft.preference,
      pref_type: draft.pref_type,
      who: draft.who,
      updated: draft.updated,
      prev_pref: draft.prev_pref,
      sensitive_info: draft.sensitive_info,
      conversation_scenario: draft.conversation_scenario,
      topic_preference: draft.topic_preference,
      topic_query: draft.topic_query,
      scenario_id: session?.scenario_id ?? `published:${draft.conversation_scenario}`,
      histories: placed,
      evidence: { session_id: session?.session_id ?? `${questionId}-evidence`, sha256: evidenceHash(evidence), messages: ranges },
      distance_tokens: distance,
      filters: IMPORTED_FILTERS,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      report.add(draft.file, `${draft.where} field ${issue?.path.join('.')}`, `${issue?.message ?? 'invalid'}; question skipped`);
      continue;
    }
    questions.push(parsed.data);
  }
  if (questions.length === 0 && personas.size === 0) {
    throw new PersonagenError('bad_input', `${options.path}: found no question CSV and no raw persona file to import`);
  }

  // Write.
  const staging = await startStaging(out, previousImport, 'import');
  try {
    const files: Record<string, string> = {};
    const put = async (name: string, content: string) => {
      await writeFileAtomic(join(staging, name), content);
      files[name] = sha256(content);
    };
    const historyStats: Record<string, number[]> = {};
    const relevant = new Map<number, Set<string>>();
    for (const [pid, list] of sessionsOf) relevant.set(pid, new Set(list.flatMap((s) => s.messages.map((m) => m.content))));
    for (const h of [...histories.values()].sort((a, b) => a.pid - b.pid || sizeTokens(a.size) - sizeTokens(b.size))) {
      const total = h.counts.reduce((a, b) => a + b, 0);
      const own = relevant.get(h.pid) ?? new Set<string>();
      const rel = h.messages.reduce((n, m, i) => n + (m.role === 'system' || own.has(m.content) ? h.counts[i]! : 0), 0);
      const file: HistoryFile = {
        metadata: {
          total_messages: h.messages.length,
          final_token_count: total,
          persona_id: h.pid,
          size: h.size,
          token_target: sizeTokens(h.size),
          num_relevant_tokens: h.meta.num_relevant_tokens ?? rel,
          num_irrelevant_tokens: h.meta.num_irrelevant_tokens ?? total - rel,
          num_sessions: (sessionsOf.get(h.pid) ?? []).filter((s) => locate(h, indexOf(h), s.messages)).length,
          num_filler_sessions: 0,
          tokenizer: tokenizer.name,
        },
        chat_history: h.messages,
      };
      if (total > file.metadata.token_target) report.add(h.file, undefined, `${total} tokens, over the ${h.size} target`);
      await put(NATIVE_FILES.history(h.size, h.pid), JSON.stringify(file, null, 1));
      (historyStats[h.size] ??= []).push(total);
    }
    const users = [...personas.values()].sort((a, b) => a.pid - b.pid).map((p) => p.user);
    const sessions = [...sessionsOf.entries()].sort(([a], [b]) => a - b).flatMap(([, list]) => list);
    await put(NATIVE_FILES.questions, toJsonl(questions));
    await put(NATIVE_FILES.users, toJsonl(users));
    await put(NATIVE_FILES.sessions, toJsonl(sessions));

    const tally = (values: string[]) => {
      const t: Record<string, number> = {};
      for (const v of values.sort()) t[v] = (t[v] ?? 0) + 1;
      return t;
    };
    report.filled.push(
      'questions: options shuffled with a seeded order and lettered A-D; scenario_id is "published:<conversation_scenario>"; filters are marked "imported" (not run).',
      'sessions: one per raw element (or per CSV evidence snippet), purpose read from pref_type, updated and prev_pref; topics mapped to the taxonomy.',
      'histories: size from the folder name (chat_history_32k → 32k), token_target from the size, num_filler_sessions 0; relevant tokens are the system message and the user’s own sessions where the file does not record them.',
    );
    // Files exported by personagen carry their own card and license; others are taken to be the published data.
    const ownLicense = await cardLicense(found.root);
    const license = ownLicense ?? PUBLISHED_LICENSE;
    const manifest = {
      generator: GENERATOR,
      license,
      source: {
        format: 'personamem-v2',
        path: options.path,
        license,
        ...(ownLicense ? {} : { attribution: ATTRIBUTION }),
        notes: report.filled,
      },
      config: null,
      models: null,
      tokenizer: tokenizer.name,
      counts: {
        users: users.length,
        questions: questions.length,
        preferences: tally(users.flatMap((u) => u.preferences.map((p) => p.kind))),
        sessions_by_purpose: tally(sessions.map((s) => s.purpose)),
        sessions_by_task: tally(sessions.map((s) => s.task_type)),
        questions_by_pref_type: tally(questions.map((q) => q.pref_type)),
        questions_by_who: tally(questions.map((q) => q.who)),
        questions_by_updated: tally(questions.map((q) => String(q.updated))),
        questions_by_scenario: tally(questions.map((q) => q.conversation_scenario)),
      },
      histories: Object.fromEntries(
        Object.entries(historyStats).map(([size, t]) => [
          size,
          {
            files: t.length,
            min_tokens: Math.min(...t),
            max_tokens: Math.max(...t),
            mean_tokens: Math.round(t.reduce((a, b) => a + b, 0) / t.length),
            filler_sessions: 0,
          },
        ]),
      ),
      import: { problems: report.list.map((p) => `${p.file}${p.where ? ` ${p.where}` : ''}: ${p.message}`) },
      files: Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b))),
    };
    await writeFileAtomic(join(staging, NATIVE_FILES.manifest), JSON.stringify(manifest, null, 2) + '\n');
    await writeDatasetCard(staging);
    await finishStaging(staging, out);
    return {
      out,
      users: users.length,
      questions: questions.length,
      sessions: sessions.length,
      histories: histories.size,
      problems: report.list,
      filled: report.filled,
    };
  } catch (error) {
    await abandonStaging(staging);
    throw error;
  }
}
