import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InputError } from '../../pipeline/core/errors.js';
import { parseJsonlStrict } from '../../pipeline/core/jsonl.js';

const here = dirname(fileURLToPath(import.meta.url));

const words = (min: number, max: number) =>
  z.string().refine((s) => {
    const n = s.trim().split(/\s+/).length;
    return n >= min && n <= max;
  }, `expected ${min}-${max} words`);

/** One preference of the offline bank, with what the simulation needs to reveal and test it. */
export const BankEntry = z.object({
  id: z.string().min(3),
  topic: z.string().min(2),
  kind: z.enum(['general', 'therapy_background', 'health_and_medical']),
  associations: z.object({
    gender: z.array(z.enum(['female', 'male', 'nonbinary'])).optional(),
    age_band: z.array(z.enum(['18-29', '30-44', '45-64', '65+'])).optional(),
  }),
  statement: z.string().min(5),
  cues: z.array(z.string().min(10)).min(3),
  others_cues: z.array(z.string().includes('{person}')).min(1),
  opposite: z.object({ statement: z.string().min(5), cues: z.array(z.string().min(10)).min(1) }),
  query: z.string().min(10),
  answer: words(15, 60),
  opposite_answer: words(15, 60),
  generic_answer: words(15, 60),
  others_query: z.string().includes('{person}'),
  others_answer: words(15, 60),
  others_generic_answer: words(15, 60),
  /** A reply to `query` fitting a different plausible taste (neither this one nor its opposite). */
  alt_answer: words(15, 60).optional(),
  /** Replies to `others_query` fitting the opposite, and a different plausible taste. */
  others_opposite_answer: words(15, 60).optional(),
  others_alt_answer: words(15, 60).optional(),
});
export type BankEntry = z.infer<typeof BankEntry>;

const TopicTexts = z.record(z.string(), z.object({ label: z.string(), paragraphs: z.array(z.string().min(40)).min(2) }));

const TaskTemplates = z.object({
  label: z.string(),
  openers: z.array(z.string()).min(1),
  acks: z.array(z.string()).min(1),
  content_intros: z.array(z.string()).min(1),
  wrappers: z.array(z.object({ head: z.string(), tail: z.string() })).min(1),
  recipients: z.array(z.string()).min(1),
  reply_intros: z.array(z.string()).min(1),
  reply_outros: z.array(z.string()).min(1),
  follow_ups: z.array(z.object({ user: z.string(), assistant: z.string() })).min(1),
  languages: z.array(z.string()).optional(),
  phrasebook: z.record(z.string(), z.array(z.object({ src: z.string(), en: z.string() })).min(3)).optional(),
  image_frames: z.array(z.string().includes('{image}')).optional(),
});
export type TaskTemplates = z.infer<typeof TaskTemplates>;

export const FillerItem = z.object({
  id: z.string(),
  topic: z.string(),
  question: z.string().min(5),
  answer: z.string().min(40),
  follow_up: z.object({ user: z.string().min(3), assistant: z.string().min(10) }).optional(),
});
export type FillerItem = z.infer<typeof FillerItem>;

export interface OfflineBank {
  entries: BankEntry[];
  /** Entry by statement (its own or its opposite's), for recognising a preference. */
  byStatement: Map<string, { entry: BankEntry; opposite: boolean }>;
  byTopic: Map<string, BankEntry[]>;
  topics: Map<string, { label: string; paragraphs: string[] }>;
  tasks: Record<string, TaskTemplates>;
  filler: FillerItem[];
}

let loaded: OfflineBank | undefined;

export function statementKey(statement: string): string {
  return statement
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** Loads the bundled bank once; a malformed line is an error naming file, line and field. */
export function offlineBank(): OfflineBank {
  if (loaded) return loaded;
  const bankDir = join(here, 'bank');
  const entries: BankEntry[] = [];
  const topics = new Map<string, { label: string; paragraphs: string[] }>();
  for (const name of readdirSync(bankDir).sort()) {
    const file = join(bankDir, name);
    if (name.endsWith('.jsonl')) {
      entries.push(...parseJsonlStrict(file, readFileSync(file, 'utf8'), BankEntry));
    } else if (name.endsWith('.topics.json')) {
      const parsed = TopicTexts.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      if (!parsed.success)
        throw new InputError({ file, field: parsed.error.issues[0]?.path.join('.') }, parsed.error.issues[0]?.message ?? 'invalid');
      for (const [id, t] of Object.entries(parsed.data)) topics.set(id, t);
    }
  }
  const tasksFile = join(here, 'tasks.json');
  const tasksParsed = z.record(z.string(), TaskTemplates).safeParse(JSON.parse(readFileSync(tasksFile, 'utf8')));
  if (!tasksParsed.success) {
    throw new InputError(
      { file: tasksFile, field: tasksParsed.error.issues[0]?.path.join('.') },
      tasksParsed.error.issues[0]?.message ?? 'invalid',
    );
  }
  const fillerFile = join(here, 'filler.jsonl');
  const filler = parseJsonlStrict(fillerFile, readFileSync(fillerFile, 'utf8'), FillerItem);
  const byStatement = new Map<string, { entry: BankEntry; opposite: boolean }>();
  const byTopic = new Map<string, BankEntry[]>();
  for (const entry of entries) {
    byStatement.set(statementKey(entry.statement), { entry, opposite: false });
    if (!byStatement.has(statementKey(entry.opposite.statement))) {
      byStatement.set(statementKey(entry.opposite.statement), { entry, opposite: true });
    }
    const list = byTopic.get(entry.topic) ?? [];
    list.push(entry);
    byTopic.set(entry.topic, list);
  }
  loaded = { entries, byStatement, byTopic, topics, tasks: tasksParsed.data, filler };
  return loaded;
}
