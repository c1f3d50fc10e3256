import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sizeTokens } from '../config/index.js';
import { InputError, PersonagenError } from '../core/errors.js';
import { writeFileAtomic } from '../core/files.js';
import type { HistoryFile, Question, Session } from '../schemas/records.js';
import { DEFAULT_LICENSE, type QuestionSlice, exportCard } from './card.js';
import { PUBLISHED_COLUMNS, type PublishedRow, SLOTS, SPLITS, type Slot, type SplitName, paths, toCsv } from './layout.js';
import { NATIVE_FILES, type NativeUser, readHistory, readNativeDataset, readSessions } from './native.js';
import { parquetBytes } from './parquet.js';
import { pythonBool, pythonUserQuery } from './python.js';
import { type ElementSource, personaFields, rawPersonaFile } from './raw.js';
import { splitQuestions } from './split.js';
import { abandonStaging, finishStaging, startStaging } from './staging.js';

export const EXPORT_FORMATS = ['personamem-v2'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  /** Native dataset directory (written by `generate` or `import`). */
  dir: string;
  /** Output directory; replaced only if it holds a previous export. */
  out: string;
  /** @default "personamem-v2" */
  format?: ExportFormat;
  /** Questions in the benchmark split (all when fewer). @default 5000 */
  benchmarkSize?: number;
  /** Shares of the rest for train and val. @default [0.9, 0.1] */
  ratios?: readonly [number, number];
  /** Split seed. @default the dataset's seed, else "1" */
  seed?: string | undefined;
  /** Also write benchmark/parquet/{split}.parquet. @default false */
  parquet?: boolean;
  /** Native size for each published slot; `null` leaves the 128k slot empty. @default closest sizes */
  slots?: { '32k'?: string | undefined; '128k'?: string | null | undefined };
  /** License field of the card. @default the dataset's, else cc-by-4.0 */
  license?: string | undefined;
}

export interface ExportResult {
  out: string;
  rows: Record<SplitName, number>;
  personas: number;
  slots: { '32k': string; '128k': string | null };
  /** What the export had to decide or leave out; also in the card. */
  notes: string[];
  files: number;
}

/**
 * Picks the native size that fills each published slot: the same label when the dataset has it,
 * else the largest size under the slot's limit (the smallest size at all for 32k), else nothing
 * for 128k. Every substitution is said in a note.
 */
export function chooseSlots(
  available: readonly string[],
  wanted: ExportOptions['slots'] = {},
): { slots: { '32k': string; '128k': string | null }; notes: string[] } {
  const notes: string[] = [];
  if (available.length === 0) throw new PersonagenError('bad_input', 'the dataset has no histories/ to export');
  const sorted = [...available].sort((a, b) => sizeTokens(a) - sizeTokens(b));
  const need = (label: string, slot: Slot) => {
    if (!sorted.includes(label))
      throw new PersonagenError('bad_input', `--size-${slot} ${label}: the dataset has only ${sorted.join(', ')}`);
    return label;
  };
  let s32: string;
  if (wanted['32k']) s32 = need(wanted['32k'], '32k');
  else if (sorted.includes('32k')) s32 = '32k';
  else {
    const under = sorted.filter((s) => sizeTokens(s) <= 32_000);
    s32 = under[under.length - 1] ?? sorted[0]!;
    notes.push(
      `The dataset has no 32k histories: the 32k columns and chat_history_32k/ hold its ${s32} histories${
        sizeTokens(s32) > 32_000 ? ', which are longer than 32,000 tokens' : ''
      }.`,
    );
  }
  let s128: string | null;
  if (wanted['128k'] === null) s128 = null;
  else if (wanted['128k']) s128 = need(wanted['128k'], '128k');
  else if (sorted.includes('128k')) s128 = '128k';
  else {
    const between = sorted.filter((s) => sizeTokens(s) > sizeTokens(s32) && sizeTokens(s) <= 128_000);
    s128 = between[between.length - 1] ?? null;
    notes.push(
      s128
        ? `The dataset has no 128k histories: the 128k columns and chat_history_128k/ hold its ${s128} histories.`
        : 'The dataset has no history size for the 128k slot: its columns are empty, as the published layout allows.',
    );
  }
  if (s128 === s32) s128 = null;
  return { slots: { '32k': s32, '128k': s128 }, notes };
}

function publishedHistory(file: HistoryFile, pid: number, slot: Slot): Record<string, unknown> {
  const meta = file.metadata;
  const metadata: Record<string, unknown> = {
    total_messages: meta.total_messages,
    final_token_count: meta.final_token_count,
    persona_id: pid,
    input_filename: paths.raw(pid),
  };
  if (slot === '128k') {
    metadata.num_relevant_tokens = meta.num_relevant_tokens;
    metadata.num_irrelevant_tokens = meta.num_irrelevant_tokens;
  }
  return { metadata, chat_history: file.chat_history.map((m) => ({ role: m.role, content: m.content })) };
}

const sliceOf = (q: Question): QuestionSlice => ({
  persona_id: q.persona_id,
  pref_type: q.pref_type,
  conversation_scenario: q.conversation_scenario,
  who: q.who,
  updated: q.updated,
  sensitive_info: q.sensitive_info,
});

/** Writes a native dataset in the published PersonaMem-v2 layout. */
export async function exportDataset(options: ExportOptions): Promise<ExportResult> {
  const format = options.format ?? 'personamem-v2';
  if (!EXPORT_FORMATS.includes(format)) throw new PersonagenError('bad_input', `unknown export format ${format}; supported: personamem-v2`);
  const dir = resolve(options.dir);
  const out = resolve(options.out);
  const ds = await readNativeDataset(dir);
  const { slots, notes } = chooseSlots(ds.sizes, options.slots);
  const seed = options.seed ?? (typeof ds.manifest.seed === 'string' ? ds.manifest.seed : '1');
  const benchmarkSize = options.benchmarkSize ?? 5000;
  const ratios = options.ratios ?? ([0.9, 0.1] as const);

  const exported = ds.questions.filter((q) => q.histories[slots['32k']]);
  if (exported.length < ds.questions.length) {
    notes.push(
      `${ds.questions.length - exported.length} questions have no ${slots['32k']} history holding their evidence and are left out.`,
    );
  }
  if (exported.length === 0) throw new PersonagenError('bad_input', `no question of ${dir} has a ${slots['32k']} history to export`);
  const { splits } = splitQuestions(
    exported.map((q) => ({ id: q.question_id, ...sliceOf(q) })),
    { benchmarkSize, ratios, seed },
  );
  const splitOf = new Map<string, SplitName>();
  for (const s of SPLITS) for (const id of splits[s]) splitOf.set(id, s);

  const sessions = await readSessions(ds);
  if (!sessions) {
    notes.push(
      'The dataset carries no sessions (no run store, no sessions.jsonl): raw_data/ holds only the evidence sessions of its questions.',
    );
  }
  if (resolve(out) === resolve(dir)) throw new PersonagenError('bad_input', 'the export must go to another directory than the dataset');
  const staging = await startStaging(out, async (d) => existsSync(join(d, 'benchmark', 'text')), 'export');
  try {
    const rows: Record<SplitName, PublishedRow[]> = { benchmark: [], train: [], val: [] };
    const historyTokens: Record<Slot, number[]> = { '32k': [], '128k': [] };
    const distances: Record<Slot, number[]> = { '32k': [], '128k': [] };
    let files = 0;
    const byUser = new Map<number, Question[]>();
    for (const q of exported) byUser.set(q.persona_id, [...(byUser.get(q.persona_id) ?? []), q]);

    for (const pid of [...byUser.keys()].sort((a, b) => a - b)) {
      const user = ds.users.get(pid);
      if (!user)
        throw new InputError({ file: join(dir, NATIVE_FILES.users) }, `no user with persona_id ${pid}, which questions.jsonl refers to`);
      const questions = byUser.get(pid)!;
      const histories: Partial<Record<Slot, HistoryFile>> = {};
      for (const slot of SLOTS) {
        const size = slots[slot];
        if (!size) continue;
        const rel = questions.find((q) => q.histories[size])?.histories[size];
        if (!rel) continue;
        const file = await readHistory(dir, rel);
        histories[slot] = file;
        historyTokens[slot].push(file.metadata.final_token_count);
        await writeFileAtomic(join(staging, paths.history(slot, pid)), JSON.stringify(publishedHistory(file, pid, slot), null, 2));
        files++;
      }
      const rowsOf = userRows(user, questions, slots, histories, distances);
      for (const [q, row] of rowsOf) rows[splitOf.get(q.question_id)!].push(row);
      const raw = rawPersonaFile(user, elementSources(user, questions, sessions?.get(pid), slots, histories));
      await writeFileAtomic(join(staging, paths.raw(pid)), JSON.stringify(raw, null, 2));
      files++;
    }

    // CSV rows in questions.jsonl order within each split.
    const position = new Map(exported.map((q, i) => [q.question_id, i]));
    const order = (r: PublishedRow & { _id?: string }) => position.get(r._id!) ?? 0;
    for (const s of SPLITS) {
      rows[s].sort((a, b) => order(a) - order(b));
      const clean = rows[s].map((r) => Object.fromEntries(PUBLISHED_COLUMNS.map((c) => [c, r[c]])) as PublishedRow);
      await writeFileAtomic(join(staging, paths.csv(s)), toCsv(clean));
      files++;
      if (options.parquet) {
        await writeFileAtomic(join(staging, paths.parquet(s)), parquetBytes(clean));
        files++;
      }
    }

    const license = options.license ?? (ds.manifest.license as string | undefined) ?? sourceLicense(ds.manifest) ?? DEFAULT_LICENSE;
    const bySplit = (s: SplitName) => exported.filter((q) => splitOf.get(q.question_id) === s).map(sliceOf);
    const card = exportCard({
      manifest: ds.manifest,
      license,
      seed,
      benchmarkSize,
      ratios,
      parquet: Boolean(options.parquet),
      slots,
      notes,
      splits: { benchmark: bySplit('benchmark'), train: bySplit('train'), val: bySplit('val') },
      historyTokens,
      distances,
    });
    await writeFileAtomic(join(staging, 'README.md'), card);
    files++;
    await finishStaging(staging, out);
    return {
      out,
      rows: { benchmark: rows.benchmark.length, train: rows.train.length, val: rows.val.length },
      personas: byUser.size,
      slots,
      notes,
      files,
    };
  } catch (error) {
    await abandonStaging(staging);
    throw error;
  }
}

function sourceLicense(manifest: Record<string, unknown>): string | undefined {
  const source = manifest.source as { license?: unknown } | undefined;
  return typeof source?.license === 'string' ? source.license : undefined;
}

/** The CSV rows of one user's questions; `_id` carries the question id for ordering and is dropped before writing. */
function userRows(
  user: NativeUser,
  questions: readonly Question[],
  slots: { '32k': string; '128k': string | null },
  histories: Partial<Record<Slot, HistoryFile>>,
  distances: Record<Slot, number[]>,
): Array<[Question, PublishedRow & { _id: string }]> {
  const pid = user.persona_id;
  const expanded = JSON.stringify(personaFields(user), null, 2);
  return questions.map((q) => {
    const cols: Record<string, string> = {};
    for (const slot of SLOTS) {
      const size = slots[slot];
      const h = histories[slot];
      const has = Boolean(size && h && q.histories[size]);
      const meta = h?.metadata;
      cols[`chat_history_${slot}_link`] = has ? paths.history(slot, pid) : '';
      cols[`total_tokens_in_chat_history_${slot}`] = has ? String(meta!.final_token_count) : '';
      const distance = has ? q.distance_tokens[size!] : undefined;
      cols[`distance_from_related_snippet_to_query_${slot}`] = distance === undefined ? '' : String(distance);
      if (distance !== undefined) distances[slot].push(distance);
      cols[`num_persona_relevant_tokens_${slot}`] = has ? String(meta!.num_relevant_tokens) : '';
      cols[`num_persona_irrelevant_tokens_${slot}`] = has ? String(meta!.num_irrelevant_tokens) : '';
    }
    const row = {
      _id: q.question_id,
      persona_id: String(pid),
      chat_history_32k_link: cols.chat_history_32k_link!,
      chat_history_128k_link: cols.chat_history_128k_link!,
      raw_persona_file: paths.raw(pid),
      short_persona: user.short_persona,
      expanded_persona: expanded,
      user_query: pythonUserQuery(q.user_query),
      correct_answer: q.correct_answer,
      incorrect_answers: JSON.stringify(q.incorrect_answers),
      topic_query: q.topic_query,
      preference: q.preference,
      topic_preference: q.topic_preference,
      conversation_scenario: q.conversation_scenario,
      pref_type: q.pref_type,
      related_conversation_snippet: JSON.stringify(evidenceMessages(q, slots, histories)),
      who: q.who,
      updated: pythonBool(q.updated),
      prev_pref: q.prev_pref ?? '',
      sensitive_info: pythonBool(q.sensitive_info),
      total_tokens_in_chat_history_32k: cols.total_tokens_in_chat_history_32k!,
      total_tokens_in_chat_history_128k: cols.total_tokens_in_chat_history_128k!,
      distance_from_related_snippet_to_query_32k: cols.distance_from_related_snippet_to_query_32k!,
      distance_from_related_snippet_to_query_128k: cols.distance_from_related_snippet_to_query_128k!,
      num_persona_relevant_tokens_32k: cols.num_persona_relevant_tokens_32k!,
      num_persona_irrelevant_tokens_32k: cols.num_persona_irrelevant_tokens_32k!,
      num_persona_relevant_tokens_128k: cols.num_persona_relevant_tokens_128k!,
      num_persona_irrelevant_tokens_128k: cols.num_persona_irrelevant_tokens_128k!,
    };
    return [q, row];
  });
}

/** The evidence session's messages, cut from the first history that holds it. */
function evidenceMessages(
  q: Question,
  slots: { '32k': string; '128k': string | null },
  histories: Partial<Record<Slot, HistoryFile>>,
): Array<{ role: string; content: string }> {
  for (const slot of SLOTS) {
    const size = slots[slot];
    const h = histories[slot];
    const range = size ? q.evidence.messages[size] : undefined;
    if (h && range) return h.chat_history.slice(range[0], range[1] + 1).map((m) => ({ role: m.role, content: m.content }));
  }
  return [];
}

/**
 * The raw file's sessions: every session of the user when the dataset has them, each with the
 * question asked about it; otherwise the evidence sessions alone, cut from the histories.
 */
function elementSources(
  user: NativeUser,
  questions: readonly Question[],
  sessions: readonly Session[] | undefined,
  slots: { '32k': string; '128k': string | null },
  histories: Partial<Record<Slot, HistoryFile>>,
): ElementSource[] {
  const bySession = new Map(questions.map((q) => [q.evidence.session_id, q]));
  if (sessions) return sessions.map((s) => ({ session: s, question: bySession.get(s.session_id) }));
  return questions.map((q) => ({
    session: {
      session_id: q.evidence.session_id,
      task_type: q.conversation_scenario,
      topic: q.topic_preference,
      messages: evidenceMessages(q, slots, histories).filter(
        (m): m is { role: 'user' | 'assistant'; content: string } => m.role === 'user' || m.role === 'assistant',
      ),
    },
    question: q,
  }));
}
