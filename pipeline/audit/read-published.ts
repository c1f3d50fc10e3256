import { createReadStream, existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { parse } from 'csv-parse';
import { InputError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { PUBLISHED_COLUMNS, RAW_LIST_KEYS, SPLITS } from '../export/layout.js';
import { parseJsonOrPython } from '../export/python.js';
import type { AuditDataset, AuditHistory, AuditItem, AuditMessage, AuditPreference, AuditUser } from './schema.js';
import { foreignSegments, messagesOf, textOf } from './segments.js';

/** Columns without which a row cannot be a question. */
const REQUIRED_COLUMNS = ['persona_id', 'user_query', 'correct_answer', 'incorrect_answers', 'preference'] as const;

export interface PublishedFiles {
  csvs: Array<{ split: string; file: string }>;
  raw: string[];
  histories: string[];
  /** Files seen but not read, with why. */
  ignored: Array<{ ref: string; reason: string }>;
}

const SKIP_DIRS = new Set(['node_modules', '.git', '.run']);

async function walk(dir: string, depth: number, out: string[]): Promise<void> {
  if (depth < 0) return;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || SKIP_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, depth - 1, out);
    else if (entry.isFile()) out.push(path);
  }
}

/** Finds the published files under a directory (or takes one CSV or raw persona file as given). */
export async function findPublishedFiles(path: string): Promise<PublishedFiles> {
  const found: PublishedFiles = { csvs: [], raw: [], histories: [], ignored: [] };
  const all: string[] = [];
  if (statSync(path).isFile()) all.push(path);
  else await walk(path, 4, all);
  const root = statSync(path).isFile() ? dirname(path) : path;
  const rel = (p: string) => relative(root, p).split(sep).join('/');
  for (const file of all.sort()) {
    const name = basename(file);
    const r = rel(file);
    if (name.endsWith('.csv')) {
      const split = name.slice(0, -4);
      if ((SPLITS as readonly string[]).includes(split)) found.csvs.push({ split, file });
      else found.ignored.push({ ref: r, reason: 'not a published question table (benchmark.csv, train.csv or val.csv)' });
    } else if (name.endsWith('.json')) {
      if (/chat_history/i.test(r)) found.histories.push(file);
      else if (/raw_data|persona/i.test(r)) found.raw.push(file);
    }
  }
  return found;
}

export function looksPublished(files: PublishedFiles): boolean {
  return files.csvs.length > 0 || files.raw.length > 0;
}

interface RawPersona {
  pid: string;
  file: string;
  persona: Record<string, unknown>;
}

/**
 * The options in a seeded order, as the evaluation code shows them: the published files list the
 * gold first, and a model judge must not be able to lean on that.
 */
function shownOrder(id: string, correct: string, wrong: readonly string[]): string[] {
  return Rng.derive('audit-options', id).shuffle([correct, ...wrong]);
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v : null;
}

function bool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  return typeof v === 'string' && /^(true|1|yes)$/i.test(v.trim());
}

/** A distractor list with its quirks (a null entry, a 4th entry) cleaned and noted. */
function distractors(value: unknown, notes: string[]): string[] {
  let list: unknown = value;
  if (typeof value === 'string') {
    try {
      list = parseJsonOrPython(value);
    } catch {
      notes.push('incorrect_answers is neither a JSON list nor a Python list');
      return [];
    }
  }
  if (!Array.isArray(list)) {
    notes.push('incorrect_answers is not a list');
    return [];
  }
  const kept = list.filter((x): x is string => typeof x === 'string' && x.trim() !== '');
  if (kept.length !== list.length)
    notes.push(`incorrect_answers had ${list.length} entries; ${list.length - kept.length} null or empty dropped`);
  if (kept.length !== 3) notes.push(`${kept.length} distractors instead of 3`);
  return kept;
}

function queryText(value: string): string {
  const trimmed = value.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return trimmed;
  try {
    const parsed = parseJsonOrPython(trimmed);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return textOf((parsed as { content?: unknown }).content).trim();
    if (Array.isArray(parsed)) {
      const user = messagesOf(parsed).filter((m) => m.role === 'user');
      return (user[user.length - 1]?.content ?? '').trim();
    }
  } catch {
    // Not a literal after all: the text is the query.
  }
  return trimmed;
}

function rawUser(p: RawPersona, rel: string): AuditUser {
  const prefs = new Map<string, AuditPreference>();
  const add = (statement: unknown, topic: string | null) => {
    const s = str(statement);
    if (s && !prefs.has(s)) prefs.set(s, { statement: s, topic, update: null });
  };
  for (const list of RAW_LIST_KEYS) {
    const v = p.persona[list];
    if (Array.isArray(v)) for (const s of v) add(typeof s === 'object' && s ? (s as { preference?: unknown }).preference : s, null);
  }
  const updates = p.persona.preference_updates;
  if (updates && typeof updates === 'object' && !Array.isArray(updates)) {
    for (const [old, next] of Object.entries(updates)) {
      add(old, null);
      const pref = prefs.get(old);
      if (pref && str(next)) pref.update = next as string;
    }
  }
  for (const el of rawElements(p)) {
    const pref = str(el.element.preference);
    if (pref && !/^do not remember/i.test(pref)) add(pref, str(el.element.topic_preference));
  }
  const sensitive: AuditUser['sensitive'] = [];
  const si = p.persona.sensitive_information;
  if (si && typeof si === 'object' && !Array.isArray(si)) {
    for (const [field, value] of Object.entries(si)) {
      if (value === null || value === undefined || typeof value === 'object') continue;
      sensitive.push({ field, value: String(value), ref: `${rel}#sensitive_information.${field}` });
    }
  }
  return { persona_id: p.pid, ref: rel, preferences: [...prefs.values()], sensitive };
}

function rawElements(p: RawPersona): Array<{ path: string; type: string; element: Record<string, unknown> }> {
  const conv = p.persona.conversations;
  const out: Array<{ path: string; type: string; element: Record<string, unknown> }> = [];
  if (!conv || typeof conv !== 'object') return out;
  for (const [type, list] of Object.entries(conv)) {
    if (!Array.isArray(list)) continue;
    list.forEach((element, i) => {
      if (element && typeof element === 'object')
        out.push({ path: `conversations.${type}[${i}]`, type, element: element as Record<string, unknown> });
    });
  }
  return out;
}

/**
 * Reads the published layout: the question tables (benchmark/text/{benchmark,train,val}.csv) when
 * present, else the questions inside the raw persona files (elements with a `user_query`); the raw
 * persona files for each user's preferences, sensitive values and own sessions; the chat history
 * files for what else they hold.
 */
export async function readPublished(path: string, files?: PublishedFiles): Promise<AuditDataset> {
  const found = files ?? (await findPublishedFiles(path));
  const root = statSync(path).isFile() ? dirname(path) : path;
  const rel = (p: string) => relative(root, p).split(sep).join('/');
  const skipped: AuditDataset['skipped'] = [...found.ignored];
  const notes: string[] = [];
  const read: string[] = [];

  const personas: RawPersona[] = [];
  for (const file of found.raw) {
    let data: unknown;
    try {
      data = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      skipped.push({ ref: rel(file), reason: `not valid JSON (${(error as Error).message})` });
      continue;
    }
    if (!data || typeof data !== 'object' || Array.isArray(data)) {
      skipped.push({ ref: rel(file), reason: 'not a raw persona file (expected {"<persona id>": {...}})' });
      continue;
    }
    let any = false;
    for (const [pid, persona] of Object.entries(data)) {
      if (persona && typeof persona === 'object' && 'conversations' in persona) {
        personas.push({ pid, file, persona: persona as Record<string, unknown> });
        any = true;
      }
    }
    if (any) read.push(rel(file));
    else skipped.push({ ref: rel(file), reason: 'no persona with `conversations` in it' });
  }

  const items: AuditItem[] = [];
  const ownByPersona = new Map<string, Set<string>>();
  const ownOf = (pid: string) => ownByPersona.get(pid) ?? ownByPersona.set(pid, new Set()).get(pid)!;
  const historyLinks = new Map<string, string>();
  let statementElements = 0;

  for (const p of personas) {
    const own = ownOf(p.pid);
    for (const { element } of rawElements(p)) for (const m of messagesOf(element.conversations)) own.add(m.content);
  }

  if (found.csvs.length > 0) {
    for (const { split, file } of found.csvs) {
      const r = rel(file);
      read.push(r);
      const parser = createReadStream(file).pipe(parse({ columns: true, bom: true, skip_empty_lines: true, relax_column_count: true }));
      let row = 0;
      let checkedHeader = false;
      for await (const record of parser as AsyncIterable<Record<string, string>>) {
        row++;
        if (!checkedHeader) {
          checkedHeader = true;
          const cols = Object.keys(record);
          const missing = REQUIRED_COLUMNS.filter((c) => !cols.includes(c));
          if (missing.length > 0) throw new InputError({ file: r, line: 1 }, `missing column(s) ${missing.join(', ')}`);
          const absent = PUBLISHED_COLUMNS.filter((c) => !cols.includes(c));
          if (absent.length > 0)
            notes.push(
              `${r}: ${absent.length} published column(s) absent (${absent.slice(0, 4).join(', ')}${absent.length > 4 ? ', ...' : ''})`,
            );
        }
        const ref = `${r}:row ${row}`;
        const itemNotes: string[] = [];
        const query = queryText(record.user_query ?? '');
        const correct = str(record.correct_answer);
        const wrong = distractors(record.incorrect_answers ?? '', itemNotes);
        if (!query || !correct || wrong.length === 0) {
          skipped.push({ ref, reason: !query ? 'empty user_query' : !correct ? 'empty correct_answer' : 'no usable incorrect_answers' });
          continue;
        }
        const pid = String(record.persona_id ?? '').trim();
        let evidence: AuditMessage[] | null = null;
        if (str(record.related_conversation_snippet)) {
          try {
            evidence = messagesOf(parseJsonOrPython(record.related_conversation_snippet!));
            for (const m of evidence) ownOf(pid).add(m.content);
          } catch {
            itemNotes.push('related_conversation_snippet is not a list of messages');
          }
        }
        for (const col of ['chat_history_32k_link', 'chat_history_128k_link'] as const) {
          const link = str(record[col]);
          if (link) historyLinks.set(link, pid);
        }
        items.push({
          id: ref,
          source: { file: r, row },
          question_id: null,
          persona_id: pid,
          split,
          user_query: query,
          correct_answer: correct,
          incorrect_answers: wrong,
          options: shownOrder(ref, correct, wrong),
          preference: record.preference ?? '',
          prev_pref: str(record.prev_pref),
          pref_type: str(record.pref_type) ?? 'unknown',
          who: str(record.who) ?? 'unknown',
          updated: bool(record.updated),
          sensitive_info: bool(record.sensitive_info),
          conversation_scenario: str(record.conversation_scenario) ?? 'unknown',
          topic_preference: str(record.topic_preference),
          topic_query: str(record.topic_query),
          evidence: evidence && evidence.length > 0 ? evidence : null,
          evidence_ref: evidence && evidence.length > 0 ? `${ref} related_conversation_snippet` : null,
          notes: itemNotes,
        });
      }
    }
  } else {
    for (const p of personas) {
      const r = rel(p.file);
      for (const { path: elPath, type, element } of rawElements(p)) {
        const query = str(element.user_query);
        if (!query) {
          statementElements++;
          continue;
        }
        const ref = `${r}#${elPath}`;
        const itemNotes: string[] = [];
        const correct = str(element.correct_answer);
        const wrong = distractors(element.incorrect_answers, itemNotes);
        if (!correct || wrong.length === 0) {
          skipped.push({ ref, reason: !correct ? 'user_query without correct_answer' : 'no usable incorrect_answers' });
          continue;
        }
        const evidence = messagesOf(element.conversations);
        const prefType = str(element.pref_type) ?? 'unknown';
        items.push({
          id: ref,
          source: { file: r, element: elPath },
          question_id: null,
          persona_id: p.pid,
          split: 'all',
          user_query: queryText(query),
          correct_answer: correct,
          incorrect_answers: wrong,
          options: shownOrder(ref, correct, wrong),
          preference: str(element.preference) ?? '',
          prev_pref: str(element.prev_pref),
          pref_type: prefType,
          who: str(element.who) ?? 'self',
          updated: bool(element.updated),
          sensitive_info: prefType === 'sensitive_info' || bool(element.sensitive_info),
          conversation_scenario: type,
          topic_preference: str(element.topic_preference),
          topic_query: str(element.topic_query),
          evidence: evidence.length > 0 ? evidence : null,
          evidence_ref: evidence.length > 0 ? `${ref}.conversations` : null,
          notes: itemNotes,
        });
      }
    }
    if (statementElements > 0)
      notes.push(`${statementElements} raw element(s) carry no user_query (statement and forget sessions): history only, not questions`);
  }

  const users = personas.map((p) => rawUser(p, rel(p.file)));

  // Chat histories: those the tables link to, and those found beside them.
  const historyFiles = new Map<string, string | null>();
  for (const [link, pid] of historyLinks) {
    const candidates = [join(root, link), ...found.histories.filter((h) => h.endsWith(`/${basename(link)}`))];
    const hit = candidates.find((c) => existsSync(c));
    if (hit) historyFiles.set(hit, pid);
    else skipped.push({ ref: link, reason: 'chat history file not found' });
  }
  for (const h of found.histories) if (!historyFiles.has(h)) historyFiles.set(h, null);
  const histories: AuditHistory[] = [];
  const rawPids = new Set(personas.map((p) => p.pid));
  for (const [file, linked] of [...historyFiles].sort(([a], [b]) => a.localeCompare(b))) {
    const r = rel(file);
    let data: { metadata?: { persona_id?: unknown }; chat_history?: unknown };
    try {
      data = JSON.parse(await readFile(file, 'utf8')) as typeof data;
    } catch (error) {
      skipped.push({ ref: r, reason: `not valid JSON (${(error as Error).message})` });
      continue;
    }
    const chat = messagesOf(data.chat_history);
    if (chat.length === 0) {
      skipped.push({ ref: r, reason: 'no chat_history messages' });
      continue;
    }
    const fromName = /persona[_-]?(\d+)/i.exec(basename(file))?.[1];
    const pid = linked ?? (data.metadata?.persona_id !== undefined ? String(data.metadata.persona_id) : (fromName ?? null));
    if (pid === null) {
      skipped.push({ ref: r, reason: 'cannot tell whose history this is (no persona_id in metadata or name)' });
      continue;
    }
    read.push(r);
    // Only a raw persona file lists all of a user's sessions; table snippets cover just the evidence.
    const known = rawPids.has(pid);
    histories.push({
      file: r,
      persona_id: pid,
      provenance: known ? 'known' : 'unknown',
      segments: known ? foreignSegments(r, chat, ownOf(pid)) : [],
    });
  }
  if (histories.some((h) => h.provenance === 'unknown'))
    notes.push("some histories have no raw persona file beside them: their filler cannot be told from the user's own sessions");

  return {
    format: 'personamem-v2',
    layout: found.csvs.length > 0 ? 'published' : 'raw',
    root,
    files: read,
    items,
    users,
    histories,
    skipped,
    notes,
  };
}
