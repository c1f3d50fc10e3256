import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from '../core/hash.js';
import { parseJsonl } from '../core/jsonl.js';
import type { Tokenizer } from '../core/tokenizer.js';
import { HistoryFile, Question } from '../schemas/records.js';
import { evidenceHash } from './write.js';

export interface ValidationReport {
  ok: boolean;
  questions: number;
  histories: number;
  problems: string[];
}

/**
 * Re-checks a dataset directory: schemas; every question's history files exist; the evidence
 * session is in each history, unchanged; recorded token counts equal a recount; the answer options
 * are consistent; file checksums match the manifest.
 */
export async function validateDataset(dir: string, tokenizer: Tokenizer): Promise<ValidationReport> {
  const problems: string[] = [];
  const problem = (where: string, what: string) => problems.push(`${where}: ${what}`);
  const manifestPath = join(dir, 'manifest.json');
  let manifest: { files?: Record<string, string> } = {};
  if (!existsSync(manifestPath)) problem('manifest.json', 'missing');
  else {
    try {
      manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as typeof manifest;
    } catch (error) {
      problem('manifest.json', `not valid JSON (${(error as Error).message})`);
    }
  }
  const questionsPath = join(dir, 'questions.jsonl');
  if (!existsSync(questionsPath)) {
    problem('questions.jsonl', 'missing');
    return { ok: false, questions: 0, histories: 0, problems };
  }
  const { records, problems: bad } = parseJsonl(await readFile(questionsPath, 'utf8'), Question);
  for (const b of bad) problem(`questions.jsonl line ${b.line}`, `${b.field ? `field \`${b.field}\`: ` : ''}${b.message}`);

  const histories = new Map<string, { file: HistoryFile; counts: number[] } | null>();
  const loadHistory = async (rel: string, where: string) => {
    if (histories.has(rel)) return histories.get(rel) ?? null;
    const path = join(dir, rel);
    let entry: { file: HistoryFile; counts: number[] } | null = null;
    if (!existsSync(path)) problem(where, `history file not found: ${rel}`);
    else {
      try {
        const parsed = HistoryFile.safeParse(JSON.parse(await readFile(path, 'utf8')));
        if (!parsed.success) problem(rel, `field \`${parsed.error.issues[0]?.path.join('.')}\`: ${parsed.error.issues[0]?.message}`);
        else {
          const counts = parsed.data.chat_history.map((m) => tokenizer.count(m.content));
          const total = counts.reduce((a, b) => a + b, 0);
          const meta = parsed.data.metadata;
          if (total !== meta.final_token_count) problem(rel, `final_token_count is ${meta.final_token_count} but a recount gives ${total}`);
          if (meta.final_token_count > meta.token_target)
            problem(rel, `${meta.final_token_count} tokens, over the target ${meta.token_target}`);
          if (meta.total_messages !== parsed.data.chat_history.length)
            problem(rel, `total_messages is ${meta.total_messages} but the file has ${parsed.data.chat_history.length}`);
          if (parsed.data.chat_history[0]?.role !== 'system') problem(rel, 'the first message is not the system message');
          entry = { file: parsed.data, counts };
        }
      } catch (error) {
        problem(rel, `unreadable (${(error as Error).message})`);
      }
    }
    histories.set(rel, entry);
    return entry;
  };

  const ids = new Set<string>();
  for (const { line, value: q } of records) {
    const where = `questions.jsonl line ${line} (${q.question_id})`;
    if (ids.has(q.question_id)) problem(where, 'duplicate question_id');
    ids.add(q.question_id);
    if (q.incorrect_answers.includes(q.correct_answer)) problem(where, 'correct_answer is among incorrect_answers');
    if (new Set(q.incorrect_answers).size !== 3) problem(where, 'the 3 incorrect answers are not distinct');
    const all = [q.correct_answer, ...q.incorrect_answers].sort();
    if (JSON.stringify([...q.options].sort()) !== JSON.stringify(all)) problem(where, 'options are not the correct and incorrect answers');
    if (q.options['ABCD'.indexOf(q.answer)] !== q.correct_answer) problem(where, `answer ${q.answer} does not point at correct_answer`);
    if (Object.keys(q.histories).length === 0) problem(where, 'no history holds the evidence');
    for (const [size, rel] of Object.entries(q.histories)) {
      const h = await loadHistory(rel, where);
      if (!h) continue;
      const range = q.evidence.messages[size];
      if (!range) {
        problem(where, `no evidence range for ${size}`);
        continue;
      }
      const [start, end] = range;
      const slice = h.file.chat_history.slice(start, end + 1);
      if (start < 1 || end >= h.file.chat_history.length || end < start || evidenceHash(slice) !== q.evidence.sha256) {
        problem(where, `the evidence session is not at messages ${start}-${end} of ${rel}`);
        continue;
      }
      const distance = h.counts.slice(start).reduce((a, b) => a + b, 0);
      if (q.distance_tokens[size] !== distance)
        problem(where, `distance_tokens.${size} is ${q.distance_tokens[size]} but a recount gives ${distance}`);
    }
  }
  for (const [rel, digest] of Object.entries(manifest.files ?? {})) {
    const path = join(dir, rel);
    if (!existsSync(path)) problem('manifest.json', `lists ${rel}, which is missing`);
    else if (sha256(await readFile(path)) !== digest) problem(rel, 'checksum differs from the manifest');
  }
  return { ok: problems.length === 0 && records.length > 0, questions: records.length, histories: histories.size, problems };
}
