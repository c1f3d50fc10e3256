import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { sizeTokens } from '../config/index.js';
import { InputError } from '../core/errors.js';
import { parseJsonl } from '../core/jsonl.js';
import { HistoryFile, Preference, Question, Session, SizeLabel, User } from '../schemas/records.js';
import { STORE_DIR } from '../engine/runtime.js';
import { PlanOutput } from '../stages/plan.js';
import { RunStore, keys } from '../store/run-store.js';

/**
 * A line of users.jsonl: the user, their preferences and, for imported datasets, the published
 * persona fields as they were (their keys vary between personas, so they are kept verbatim).
 */
export const NativeUser = User.extend({
  preferences: z.array(Preference),
  source_persona: z.record(z.string(), z.unknown()).optional(),
});
export type NativeUser = z.infer<typeof NativeUser>;

/** Native file names, relative to a dataset directory. */
export const NATIVE_FILES = {
  manifest: 'manifest.json',
  questions: 'questions.jsonl',
  users: 'users.jsonl',
  /** Written by `import` only: generated datasets keep their sessions in the run store. */
  sessions: 'sessions.jsonl',
  card: 'README.md',
  history: (size: string, pid: number) => `histories/${size}/${pid}.json`,
};

export interface NativeDataset {
  dir: string;
  manifest: Record<string, unknown>;
  users: Map<number, NativeUser>;
  questions: Question[];
  /** History sizes present under histories/, smallest first. */
  sizes: string[];
}

async function readJsonl<S extends z.ZodType>(dir: string, name: string, schema: S): Promise<Array<z.infer<S>>> {
  const path = join(dir, name);
  if (!existsSync(path)) throw new InputError({ file: path }, 'missing: is this a dataset directory written by `generate` or `import`?');
  const { records, problems } = parseJsonl(await readFile(path, 'utf8'), schema);
  const first = problems[0];
  if (first) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more bad lines)` : '';
    throw new InputError({ file: path, line: first.line, field: first.field }, first.message + more);
  }
  return records.map((r) => r.value);
}

/** Reads a native dataset's manifest, users and questions; histories are read one at a time later. */
export async function readNativeDataset(dir: string): Promise<NativeDataset> {
  const manifestPath = join(dir, NATIVE_FILES.manifest);
  let manifest: Record<string, unknown> = {};
  if (existsSync(manifestPath)) {
    try {
      manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new InputError({ file: manifestPath }, `not valid JSON (${(error as Error).message})`);
    }
  }
  const users = new Map<number, NativeUser>();
  for (const u of await readJsonl(dir, NATIVE_FILES.users, NativeUser)) users.set(u.persona_id, u);
  const questions = await readJsonl(dir, NATIVE_FILES.questions, Question);
  const historyRoot = join(dir, 'histories');
  const sizes = existsSync(historyRoot)
    ? (await readdir(historyRoot, { withFileTypes: true }))
        .filter((d) => d.isDirectory() && SizeLabel.safeParse(d.name).success)
        .map((d) => d.name)
        .sort((a, b) => sizeTokens(a) - sizeTokens(b))
    : [];
  return { dir, manifest, users, questions, sizes };
}

export async function readHistory(dir: string, rel: string): Promise<HistoryFile> {
  const path = join(dir, rel);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new InputError({ file: path }, `cannot read the history (${(error as Error).message})`);
  }
  const parsed = HistoryFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError({ file: path, field: issue?.path.join('.') }, issue?.message ?? 'invalid history file');
  }
  return parsed.data;
}

/**
 * The user's sessions, in the order they were planned: sessions.jsonl (imported datasets), else the
 * run store of a generated one. Undefined when neither is there (a dataset copied without `.run`).
 */
export async function readSessions(ds: NativeDataset): Promise<Map<number, Session[]> | undefined> {
  const sessionsPath = join(ds.dir, NATIVE_FILES.sessions);
  if (existsSync(sessionsPath)) {
    const out = new Map<number, Session[]>();
    for (const s of await readJsonl(ds.dir, NATIVE_FILES.sessions, Session)) out.set(s.persona_id, [...(out.get(s.persona_id) ?? []), s]);
    return out;
  }
  const storeDir = join(ds.dir, STORE_DIR);
  if (!existsSync(storeDir)) return undefined;
  const store = new RunStore(storeDir);
  const out = new Map<number, Session[]>();
  for (const pid of [...ds.users.keys()].sort((a, b) => a - b)) {
    const plan = await store.get(keys.plan(pid), PlanOutput);
    if (!plan) return undefined;
    const sessions: Session[] = [];
    for (const p of plan.output.sessions) {
      const s = await store.get(keys.session(pid, p.session_id), Session);
      if (!s) return undefined;
      sessions.push(s.output);
    }
    out.set(pid, sessions);
  }
  return out;
}
