import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { sortSizes } from '../config/index.js';
import { InputError } from '../core/errors.js';
import { parseJsonl } from '../core/jsonl.js';
import { STORE_DIR } from '../engine/runtime.js';
import { FillerConversation } from '../stages/histories.js';
import { ChatMessage, Preference, Question, Session } from '../schemas/records.js';
import { RunStore } from '../store/run-store.js';
import type { AuditDataset, AuditHistory, AuditItem, AuditMessage, AuditUser } from './schema.js';
import { type KnownConversation, foreignSegments } from './segments.js';

/** The fields of a question the audit needs; the rest of a line may be of any version. */
const NativeQuestion = Question.pick({
  question_id: true,
  persona_id: true,
  user_query: true,
  correct_answer: true,
  incorrect_answers: true,
  preference: true,
  who: true,
  updated: true,
  prev_pref: true,
  sensitive_info: true,
}).extend({
  options: z.array(z.string().min(1)).min(2).optional(),
  pref_type: z.string().min(1),
  conversation_scenario: z.string().min(1),
  topic_preference: z.string().nullable().optional(),
  topic_query: z.string().nullable().optional(),
  histories: z.record(z.string(), z.string()).optional(),
  evidence: z.object({ session_id: z.string(), messages: z.record(z.string(), z.tuple([z.number().int(), z.number().int()])) }).optional(),
});

const NativeUser = z.object({ persona_id: z.number().int().min(0), preferences: z.array(Preference) });

const NativeHistory = z.object({ chat_history: z.array(ChatMessage).min(1) });

/**
 * Reads one of our dataset directories: questions.jsonl, users.jsonl, the history files the
 * questions point at and, when it is still there, the run store (which tells the user's own
 * sessions from filler, for the filler-conflict rule).
 */
export async function readNative(root: string): Promise<AuditDataset> {
  const questionsPath = join(root, 'questions.jsonl');
  if (!existsSync(questionsPath)) throw new InputError({ file: questionsPath }, 'missing: a native dataset has questions.jsonl');
  const skipped: AuditDataset['skipped'] = [];
  const notes: string[] = [];
  const files = ['questions.jsonl'];
  const { records, problems } = parseJsonl(await readFile(questionsPath, 'utf8'), NativeQuestion);
  for (const p of problems)
    skipped.push({ ref: `questions.jsonl:${p.line}`, reason: `${p.field ? `field \`${p.field}\`: ` : ''}${p.message}` });

  const users: AuditUser[] = [];
  const usersPath = join(root, 'users.jsonl');
  if (existsSync(usersPath)) {
    files.push('users.jsonl');
    const parsed = parseJsonl(await readFile(usersPath, 'utf8'), NativeUser);
    for (const p of parsed.problems)
      skipped.push({ ref: `users.jsonl:${p.line}`, reason: `${p.field ? `field \`${p.field}\`: ` : ''}${p.message}` });
    for (const { line, value } of parsed.records) {
      const pid = String(value.persona_id);
      users.push({
        persona_id: pid,
        ref: `users.jsonl:${line}`,
        preferences: value.preferences
          .filter((p) => p.kind !== 'sensitive_info')
          .map((p) => ({ statement: p.statement, topic: p.topic, update: p.update })),
        sensitive: value.preferences.flatMap((p) =>
          p.sensitive ? [{ field: p.sensitive.field, value: p.sensitive.value, ref: `users.jsonl:${line} ${p.pref_id}` }] : [],
        ),
      });
    }
  } else notes.push('users.jsonl is missing: no preference lists or sensitive values to check against');

  const histories = new Map<string, AuditMessage[] | null>();
  const loadHistory = async (rel: string): Promise<AuditMessage[] | null> => {
    if (histories.has(rel)) return histories.get(rel) ?? null;
    let chat: AuditMessage[] | null = null;
    const path = join(root, rel);
    if (!existsSync(path)) skipped.push({ ref: rel, reason: 'history file not found' });
    else {
      try {
        const parsed = NativeHistory.safeParse(JSON.parse(await readFile(path, 'utf8')));
        if (parsed.success) chat = parsed.data.chat_history;
        else skipped.push({ ref: rel, reason: `field \`${parsed.error.issues[0]?.path.join('.')}\`: ${parsed.error.issues[0]?.message}` });
      } catch (error) {
        skipped.push({ ref: rel, reason: `not valid JSON (${(error as Error).message})` });
      }
    }
    histories.set(rel, chat);
    return chat;
  };

  const items: AuditItem[] = [];
  for (const { line, value: q } of records) {
    const sizes = sortSizes(Object.keys(q.histories ?? {}));
    let evidence: AuditMessage[] | null = null;
    let evidenceRef: string | null = null;
    const itemNotes: string[] = [];
    for (const size of sizes) {
      const rel = q.histories![size]!;
      const range = q.evidence?.messages[size];
      const chat = await loadHistory(rel);
      if (!chat || !range) continue;
      const [a, b] = range;
      if (a < 0 || b >= chat.length || a > b) {
        itemNotes.push(`evidence range ${a}..${b} is outside ${rel}`);
        continue;
      }
      evidence = chat.slice(a, b + 1);
      evidenceRef = `${rel}#messages[${a}..${b}]`;
      break;
    }
    const options = q.options ?? [q.correct_answer, ...q.incorrect_answers];
    items.push({
      id: `questions.jsonl:${line} (${q.question_id})`,
      source: { file: 'questions.jsonl', line },
      question_id: q.question_id,
      persona_id: String(q.persona_id),
      split: 'all',
      user_query: q.user_query,
      correct_answer: q.correct_answer,
      incorrect_answers: q.incorrect_answers,
      options,
      preference: q.preference,
      prev_pref: q.prev_pref,
      pref_type: q.pref_type,
      who: q.who,
      updated: q.updated,
      sensitive_info: q.sensitive_info,
      conversation_scenario: q.conversation_scenario,
      topic_preference: q.topic_preference ?? null,
      topic_query: q.topic_query ?? null,
      evidence,
      evidence_ref: evidenceRef,
      notes: itemNotes,
    });
  }

  // Provenance from the run store, when it was kept: the user's sessions and the filler pool.
  const storeRoot = join(root, STORE_DIR);
  const store = existsSync(storeRoot) ? new RunStore(storeRoot) : null;
  const filler = new Map<string, KnownConversation[]>();
  if (store) {
    const names = await listJson(join(storeRoot, 'filler'));
    for (const name of names) {
      const a = await store.get(`filler/${name}`, FillerConversation);
      if (!a) continue;
      const f = a.output;
      const first = f.messages[0]!.content;
      filler.set(first, [...(filler.get(first) ?? []), { ref: `filler ${f.filler_id}`, topic: f.topic, messages: f.messages }]);
    }
  } else
    notes.push(`no run store (${STORE_DIR}/): filler cannot be told from the user's own sessions, so filler conflicts are not checked`);

  const ownCache = new Map<string, Set<string>>();
  const ownMessages = async (pid: string): Promise<Set<string>> => {
    const hit = ownCache.get(pid);
    if (hit) return hit;
    const own = new Set<string>();
    for (const name of await listJson(join(storeRoot, 'users', pid, 'sessions'))) {
      const a = await store!.get(`users/${pid}/sessions/${name}`, Session);
      for (const m of a?.output.messages ?? []) own.add(m.content);
    }
    ownCache.set(pid, own);
    return own;
  };
  const auditHistories: AuditHistory[] = [];
  const historyUsers = new Map<string, string>();
  for (const { value: q } of records) for (const rel of Object.values(q.histories ?? {})) historyUsers.set(rel, String(q.persona_id));
  for (const [rel, pid] of [...historyUsers].sort(([a], [b]) => a.localeCompare(b))) {
    const chat = await loadHistory(rel);
    if (!chat) continue;
    files.push(rel);
    const own = store ? await ownMessages(pid) : new Set<string>();
    const provenance: AuditHistory['provenance'] = own.size > 0 ? 'known' : 'unknown';
    auditHistories.push({
      file: rel,
      persona_id: pid,
      provenance,
      segments: provenance === 'known' ? foreignSegments(rel, chat, own, filler) : [],
    });
  }
  return {
    format: 'native',
    layout: 'native',
    root,
    files,
    items,
    users,
    histories: auditHistories,
    skipped,
    notes,
  };
}

async function listJson(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir))
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .map((n) => n.slice(0, -'.json'.length))
    .sort();
}
