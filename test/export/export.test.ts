import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { PersonagenError } from '../../pipeline/core/errors.js';
import { o200k } from '../../pipeline/core/tokenizer.js';
import { validateDataset } from '../../pipeline/dataset/validate.js';
import {
  PUBLISHED_COLUMNS,
  chooseSlots,
  exportDataset,
  fromCsv,
  missingCoverage,
  parsePythonLiteral,
  writeDatasetCard,
} from '../../pipeline/export/index.js';
import { runChecker, smallDataset } from './fixture.js';

let dir: string;
let root: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, root, cleanup } = await smallDataset());
});
afterAll(async () => {
  await cleanup();
});

async function listFiles(base: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(base, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(base, join(e.parentPath, e.name)));
  }
  return out.sort();
}

function yamlHeader(card: string): Record<string, unknown> {
  const m = /^---\n([\s\S]*?)\n---\n/.exec(card);
  if (!m) throw new Error('no YAML header');
  return parseYaml(m[1]!) as Record<string, unknown>;
}

describe('export --format personamem-v2', () => {
  it('writes a layout the PersonaMem-v2 checker reads without a problem', async () => {
    const out = join(root, 'exported');
    const result = await exportDataset({ dir, out, benchmarkSize: 12 });
    expect(result.rows.benchmark).toBe(12);
    expect(result.rows.train + result.rows.val).toBeGreaterThan(0);
    expect(result.slots).toEqual({ '32k': '32k', '128k': '128k' });
    const check = runChecker(out);
    expect(check.output).toContain('problems=0');
    expect(check.status).toBe(0);
  });

  it('writes the 27 published columns, Python dict queries, True/False flags and JSON lists of 3 distractors', async () => {
    const out = join(root, 'columns');
    await exportDataset({ dir, out, benchmarkSize: 12 });
    const { header, rows } = fromCsv(await readFile(join(out, 'benchmark/text/benchmark.csv'), 'utf8'));
    expect(header).toEqual([...PUBLISHED_COLUMNS]);
    for (const row of rows) {
      expect(parsePythonLiteral(row.user_query!)).toMatchObject({ role: 'user' });
      expect(row.user_query!.startsWith("{'role': 'user', 'content': ")).toBe(true);
      expect(JSON.parse(row.incorrect_answers!)).toHaveLength(3);
      expect(['True', 'False']).toContain(row.updated);
      expect(['True', 'False']).toContain(row.sensitive_info);
      const snippet = JSON.parse(row.related_conversation_snippet!) as Array<{ role: string; content: string }>;
      expect(snippet.length).toBeGreaterThan(0);
      expect(Object.keys(snippet[0]!)).toEqual(['role', 'content']);
      expect(Number(row.distance_from_related_snippet_to_query_128k)).toBeGreaterThanOrEqual(
        Number(row.distance_from_related_snippet_to_query_32k),
      );
      expect(existsSync(join(out, row.raw_persona_file!))).toBe(true);
    }
    const pid = rows[0]!.persona_id;
    const h32 = JSON.parse(await readFile(join(out, rows[0]!.chat_history_32k_link!), 'utf8')) as {
      metadata: object;
      chat_history: unknown[];
    };
    const h128 = JSON.parse(await readFile(join(out, rows[0]!.chat_history_128k_link!), 'utf8')) as { metadata: object };
    expect(Object.keys(h32)).toEqual(['metadata', 'chat_history']);
    expect(Object.keys(h32.metadata)).toEqual(['total_messages', 'final_token_count', 'persona_id', 'input_filename']);
    expect(Object.keys(h128.metadata)).toEqual([
      'total_messages',
      'final_token_count',
      'persona_id',
      'input_filename',
      'num_relevant_tokens',
      'num_irrelevant_tokens',
    ]);
    const raw = JSON.parse(await readFile(join(out, rows[0]!.raw_persona_file!), 'utf8')) as Record<string, Record<string, unknown>>;
    const persona = raw[pid!]!;
    const keys = Object.keys(persona);
    expect(keys.slice(0, 2)).toEqual(['short_persona', 'name']);
    expect(keys.slice(-8)).toEqual([
      'stereotypical_preferences',
      'anti_stereotypical_preferences',
      'neutral_preferences',
      'therapy_background',
      'health_and_medical_conditions',
      'sensitive_information',
      'preference_updates',
      'conversations',
    ]);
    const elements = Object.values(persona.conversations as Record<string, Array<Record<string, unknown>>>).flat();
    const withQuery = elements.filter((e) => 'user_query' in e);
    expect(withQuery.length).toBe(rows.filter((r) => r.persona_id === pid).length + (await otherSplitRows(out, pid!)));
    expect(elements.length).toBeGreaterThan(withQuery.length);
  });

  it('gives byte-identical files for the same seed, and another split for another seed', async () => {
    const a = join(root, 'same-a');
    const b = join(root, 'same-b');
    await exportDataset({ dir, out: a, benchmarkSize: 12, seed: '11' });
    await exportDataset({ dir, out: b, benchmarkSize: 12, seed: '11' });
    const files = await listFiles(a);
    expect(await listFiles(b)).toEqual(files);
    for (const f of files) expect((await readFile(join(b, f))).equals(await readFile(join(a, f))), f).toBe(true);
    const c = join(root, 'other-seed');
    await exportDataset({ dir, out: c, benchmarkSize: 12, seed: '12' });
    expect(await readFile(join(c, 'benchmark/text/benchmark.csv'), 'utf8')).not.toBe(
      await readFile(join(a, 'benchmark/text/benchmark.csv'), 'utf8'),
    );
  });

  it('keeps every coverage value in the benchmark split of the written CSV', async () => {
    const out = join(root, 'coverage');
    await exportDataset({ dir, out, benchmarkSize: 12, seed: '5' });
    const read = async (s: string) =>
      fromCsv(await readFile(join(out, `benchmark/text/${s}.csv`), 'utf8')).rows.map((r, i) => ({
        id: `${s}-${i}`,
        persona_id: Number(r.persona_id),
        conversation_scenario: r.conversation_scenario!,
        pref_type: r.pref_type!,
        who: r.who!,
        updated: r.updated === 'True',
        sensitive_info: r.sensitive_info === 'True',
      }));
    const bench = await read('benchmark');
    const all = [...bench, ...(await read('train')), ...(await read('val'))];
    expect(missingCoverage(all, bench)).toEqual([]);
  });

  it('writes Parquet files whose rows equal the CSV rows', async () => {
    const out = join(root, 'parquet');
    await exportDataset({ dir, out, benchmarkSize: 12, parquet: true });
    for (const split of ['benchmark', 'train', 'val']) {
      const csv = fromCsv(await readFile(join(out, `benchmark/text/${split}.csv`), 'utf8')).rows;
      const bytes = await readFile(join(out, `benchmark/parquet/${split}.parquet`));
      const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      const rows = await parquetReadObjects({ file });
      expect(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? '' : String(v)])))).toEqual(csv);
    }
    const card = await readFile(join(out, 'README.md'), 'utf8');
    const configs = yamlHeader(card).configs as Array<{ config_name: string; data_files: Array<{ path: string }> }>;
    expect(configs.map((c) => c.config_name)).toEqual(['text', 'parquet']);
    for (const c of configs) for (const f of c.data_files) expect(existsSync(join(out, f.path)), f.path).toBe(true);
  });

  it('gives the native dataset a deterministic card with a datasets-readable header, outside the checksummed files', async () => {
    const card = await readFile(join(dir, 'README.md'), 'utf8');
    const head = yamlHeader(card);
    expect(head.license).toBe('cc-by-4.0');
    const configs = head.configs as Array<{ config_name: string; data_files: Array<{ split: string; path: string }> }>;
    for (const c of configs) for (const f of c.data_files) expect(existsSync(join(dir, f.path)), f.path).toBe(true);
    for (const section of [
      '## Counts',
      '## Token lengths',
      '## How it was made',
      '## How to load',
      '## License',
      'offline-sim-1',
      'personagen 0.1.0',
    ]) {
      expect(card).toContain(section);
    }
    expect(await writeDatasetCard(dir)).toBe(card);
    const report = await validateDataset(dir, o200k);
    expect(report.problems).toEqual([]);
  });

  it('maps the closest sizes into the 32k and 128k slots and says so', () => {
    expect(chooseSlots(['8k', '16k', '64k']).slots).toEqual({ '32k': '16k', '128k': '64k' });
    expect(chooseSlots(['8k', '16k', '64k']).notes.join(' ')).toMatch(/16k histories.*64k histories/);
    const only = chooseSlots(['32k']);
    expect(only.slots).toEqual({ '32k': '32k', '128k': null });
    expect(only.notes[0]).toMatch(/columns are empty/);
    expect(chooseSlots(['64k']).notes[0]).toMatch(/longer than 32,000 tokens/);
    expect(chooseSlots(['32k', '128k'], { '128k': null }).slots['128k']).toBeNull();
    expect(() => chooseSlots(['32k'], { '32k': '16k' })).toThrow(PersonagenError);
  });

  it('refuses to write over a directory that holds other files, and leaves them as they were', async () => {
    const out = join(root, 'occupied');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'notes.txt'), 'keep me');
    await expect(exportDataset({ dir, out })).rejects.toThrow(/holds no previous export/);
    expect(await readFile(join(out, 'notes.txt'), 'utf8')).toBe('keep me');
  });
});

async function otherSplitRows(out: string, pid: string): Promise<number> {
  let n = 0;
  for (const s of ['train', 'val'])
    n += fromCsv(await readFile(join(out, `benchmark/text/${s}.csv`), 'utf8')).rows.filter((r) => r.persona_id === pid).length;
  return n;
}
