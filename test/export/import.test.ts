import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { o200k } from '../../pipeline/core/tokenizer.js';
import { validateDataset } from '../../pipeline/dataset/validate.js';
import { exportDataset, fromCsv, importDataset, parsePythonLiteral, toCsv } from '../../pipeline/export/index.js';
import type { PublishedRow } from '../../pipeline/export/index.js';
import { REFERENCE, runChecker, smallDataset } from './fixture.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'personagen-import-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Asked {
  persona_id: number;
  user_query: string;
  correct_answer: string;
  incorrect_answers: string[];
  preference: string;
}

/** Every question of the published raw files, read straight from them (null distractors aside). */
async function publishedQuestions(): Promise<Asked[]> {
  const out: Asked[] = [];
  const dir = join(REFERENCE, 'raw_data');
  for (const name of (await readdir(dir)).sort()) {
    const json = JSON.parse(await readFile(join(dir, name), 'utf8')) as Record<
      string,
      { conversations: Record<string, Array<Record<string, unknown>>> }
    >;
    for (const [pid, persona] of Object.entries(json)) {
      for (const el of Object.values(persona.conversations).flat()) {
        if (typeof el.user_query !== 'string') continue;
        out.push({
          persona_id: Number(pid),
          user_query: el.user_query,
          correct_answer: el.correct_answer as string,
          incorrect_answers: (el.incorrect_answers as Array<string | null>).filter((x): x is string => x !== null),
          preference: el.preference as string,
        });
      }
    }
  }
  return out;
}

async function exportedQuestions(out: string): Promise<Asked[]> {
  const asked: Asked[] = [];
  for (const split of ['benchmark', 'train', 'val']) {
    for (const row of fromCsv(await readFile(join(out, `benchmark/text/${split}.csv`), 'utf8')).rows) {
      asked.push({
        persona_id: Number(row.persona_id),
        user_query: (parsePythonLiteral(row.user_query!) as { content: string }).content,
        correct_answer: row.correct_answer!,
        incorrect_answers: JSON.parse(row.incorrect_answers!) as string[],
        preference: row.preference!,
      });
    }
  }
  return asked;
}

const key = (q: Asked) => JSON.stringify(q);

describe('import of the published PersonaMem-v2 files', () => {
  it('keeps every question, with the same user_query, correct_answer, incorrect_answers and preference, through import and export', async () => {
    const imported = join(root, 'reference');
    const result = await importDataset({ path: REFERENCE, out: imported });
    const expected = await publishedQuestions();
    expect(result.questions).toBe(expected.length);
    const out = join(root, 'reference-export');
    await exportDataset({ dir: imported, out });
    const got = await exportedQuestions(out);
    expect(got.map(key).sort()).toEqual(expected.map(key).sort());
  });

  it('gives a dataset that validates and exports to a layout the checker reads (32k slot; no 128k history is published here)', async () => {
    const imported = join(root, 'reference-valid');
    await importDataset({ path: REFERENCE, out: imported });
    const report = await validateDataset(imported, o200k);
    expect(report.problems).toEqual([]);
    const out = join(root, 'reference-valid-export');
    const exported = await exportDataset({ dir: imported, out });
    expect(exported.slots['128k']).toBeNull();
    const check = runChecker(out, '32k');
    expect(check.output).toContain('problems=0');
    expect(check.status).toBe(0);
    // The published persona 3 history is carried over as it is.
    const published = JSON.parse(await readFile(join(REFERENCE, 'chat_history_32k/chat_history_250901_001242_persona3.json'), 'utf8')) as {
      chat_history: unknown[];
      metadata: { final_token_count: number };
    };
    const ours = JSON.parse(await readFile(join(out, 'chat_history_32k/chat_history_persona3.json'), 'utf8')) as typeof published;
    expect(ours.chat_history).toEqual(published.chat_history);
    expect(ours.metadata.final_token_count).toBe(published.metadata.final_token_count);
  });

  it('reports the quirks of the published files with file and element', async () => {
    const result = await importDataset({ path: REFERENCE, out: join(root, 'quirks') });
    const persona1 = 'raw_data/raw_data_250815_143643_persona1.json';
    expect(result.problems).toContainEqual({
      file: persona1,
      where: 'conversations.professional_email[1].incorrect_answers',
      message: '1 empty or null entries dropped',
    });
    expect(result.problems).toContainEqual({
      file: persona1,
      where: 'conversations.personal_email[0].conversations[1]',
      message: 'extra keys dropped: version',
    });
    expect(result.problems.find((p) => p.file === persona1 && p.where === 'persona 1')?.message).toMatch(/bio/);
    expect(result.problems.find((p) => p.file === 'example_debug.csv')?.message).toMatch(/columns missing/);
    const users = (await readFile(join(root, 'quirks', 'users.jsonl'), 'utf8')).trim().split('\n');
    const p3 = JSON.parse(users[1]!) as { source_persona: Record<string, unknown>; preferences: unknown[] };
    expect(Object.keys(p3.source_persona)).toContain('tech_interests');
    expect(p3.preferences.length).toBeGreaterThan(90);
  });

  it('imports one raw persona file alone, rebuilding its history from its conversations and saying so', async () => {
    const out = join(root, 'one-file');
    const result = await importDataset({ path: join(REFERENCE, 'raw_data/raw_data_250815_143643_persona1.json'), out });
    expect(result.users).toBe(1);
    expect(result.questions).toBe(40);
    expect(result.filled.join('\n')).toMatch(/persona 1: no chat history given; a 32k history \(\d+ tokens\) was rebuilt/);
    expect((await validateDataset(out, o200k)).problems).toEqual([]);
  });

  it('names the file, line and column of a CSV row it cannot read, and imports the others', async () => {
    const { dir, cleanup } = await smallDataset();
    try {
      const exported = join(root, 'csv-source');
      await exportDataset({ dir, out: exported, benchmarkSize: 12 });
      const csvPath = join(exported, 'benchmark/text/benchmark.csv');
      const rows = fromCsv(await readFile(csvPath, 'utf8')).rows as PublishedRow[];
      rows[1]!.user_query = "{'role': 'user', 'content': 'unterminated";
      await writeFile(csvPath, toCsv(rows));
      const result = await importDataset({ path: exported, out: join(root, 'csv-broken') });
      expect(result.problems).toContainEqual({
        file: 'benchmark/text/benchmark.csv',
        where: 'line 3 column user_query',
        message: 'neither a JSON nor a Python dict with content; row skipped',
      });
      const others = ['train', 'val'].map(
        async (s) => fromCsv(await readFile(join(exported, `benchmark/text/${s}.csv`), 'utf8')).rows.length,
      );
      expect(result.questions).toBe(rows.length - 1 + (await Promise.all(others)).reduce((a, b) => a + b, 0));
    } finally {
      await cleanup();
    }
  });

  // Import does not keep which split a row was in (export splits again), so the round trip puts every row in the benchmark split.
  it('reads its own export back: export → import → export gives the same CSVs, histories and raw files', async () => {
    const { dir, cleanup } = await smallDataset();
    try {
      const first = join(root, 'round-1');
      await exportDataset({ dir, out: first, seed: '7' });
      const imported = join(root, 'round-imported');
      const result = await importDataset({ path: first, out: imported });
      expect(result.problems).toEqual([]);
      expect((await validateDataset(imported, o200k)).problems).toEqual([]);
      const second = join(root, 'round-2');
      await exportDataset({ dir: imported, out: second, seed: '7' });
      for (const sub of ['benchmark/text', 'chat_history_32k', 'chat_history_128k', 'raw_data']) {
        const names = (await readdir(join(first, sub))).sort();
        expect((await readdir(join(second, sub))).sort()).toEqual(names);
        for (const n of names)
          expect((await readFile(join(second, sub, n))).equals(await readFile(join(first, sub, n))), `${sub}/${n}`).toBe(true);
      }
    } finally {
      await cleanup();
    }
  });

  it('refuses a path with nothing to import', async () => {
    const empty = join(root, 'empty');
    await mkdir(empty, { recursive: true });
    await expect(importDataset({ path: empty, out: join(root, 'never') })).rejects.toThrow(/no question CSV and no raw persona file/);
  });
});
