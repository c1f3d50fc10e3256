import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSeeds } from '../../personas/index.js';
import { CATALOG_FILE, normalizeTopic, shippedCatalog } from '../../scenarios/index.js';
import { checkCatalogFile } from '../../scenarios/tools.js';
import { TASK_TYPES } from '../../pipeline/schemas/records.js';

const run = promisify(execFile);
const REFERENCE = join(import.meta.dirname, '../../../shared/reference/personamem-v2');
const CLI = join(import.meta.dirname, '../../bin/personagen.js');

/** Every topic label of the published files: raw persona elements and the debug CSV's topic columns. */
function publishedTopicLabels(): string[] {
  const labels = new Set<string>();
  for (const name of readdirSync(join(REFERENCE, 'raw_data'))) {
    const raw = JSON.parse(readFileSync(join(REFERENCE, 'raw_data', name), 'utf8')) as Record<
      string,
      { conversations: Record<string, Array<Record<string, unknown>>> }
    >;
    for (const persona of Object.values(raw)) {
      for (const elements of Object.values(persona.conversations)) {
        for (const e of elements) {
          for (const key of ['topic_preference', 'topic_query']) if (typeof e[key] === 'string') labels.add(e[key]);
        }
      }
    }
  }
  const csv = readFileSync(join(REFERENCE, 'example_debug.csv'), 'utf8').trim().split('\n');
  const header = csv[0]!.split(',');
  const cols = ['preference_topic', 'query_topic'].map((c) => header.indexOf(c));
  for (const line of csv.slice(1)) {
    // The debug CSV quotes only its list and dict columns, which come before neither topic column's
    // position from the end: split on commas outside quotes.
    const cells = line.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, ''));
    for (const i of cols) if (cells[i]) labels.add(cells[i]);
  }
  return [...labels];
}

describe('the shipped catalog', () => {
  it('validates with 300 or more scenarios and 30 or more per task type', () => {
    const check = checkCatalogFile(CATALOG_FILE, undefined, { coverage: true });
    expect(check.problems).toEqual([]);
    expect(check.scenarios).toBeGreaterThanOrEqual(300);
    for (const t of TASK_TYPES) expect(check.perTaskType[t], t).toBeGreaterThanOrEqual(30);
  });

  it('maps every topic label of the published data to a taxonomy topic', () => {
    const catalog = shippedCatalog();
    const labels = publishedTopicLabels();
    expect(labels.length).toBeGreaterThan(50);
    const unmapped = labels.filter((l) => !normalizeTopic(catalog, l));
    expect(unmapped).toEqual([]);
  });

  it('maps spelling variants of one label to one topic', () => {
    const catalog = shippedCatalog();
    const variants = ['Mental Health', 'MentalHealth', 'Mentalhealth', 'Mental_health'].map((v) => normalizeTopic(catalog, v));
    expect(new Set(variants).size).toBe(1);
    expect(normalizeTopic(catalog, 'Theatre')).toBe(normalizeTopic(catalog, 'Theater'));
    expect(normalizeTopic(catalog, ': travel')).toBe('travel');
    expect(normalizeTopic(catalog, 'qwzxv')).toBeUndefined();
  });
});

describe('scenarios add', () => {
  let dir: string;
  let catalog: string;
  const base = [
    '--id',
    'home-garden-moon-party',
    '--topic',
    'home_garden',
    '--task-types',
    'knowledge_query,chat_message',
    '--situation',
    'A user wants to host friends in the garden after dark, with white flowers, lanterns and a fire bowl.',
    '--user-goal',
    'Plan plants and lighting for an evening garden party',
    '--pref-kinds',
    'neutral',
  ];
  const existing = () => shippedCatalog().scenarios[0]!;
  const add = async (args: string[]) => {
    try {
      const { stdout } = await run('node', [CLI, 'scenarios', 'add', '--catalog', catalog, ...args]);
      return { code: 0, out: stdout, err: '' };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout, err: e.stderr };
    }
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pg-scenarios-'));
    catalog = join(dir, 'catalog.jsonl');
    copyFileSync(CATALOG_FILE, catalog);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['a duplicate title', () => ['--title', existing().title], /duplicates scenario/],
    ['the same words reordered', () => ['--title', existing().title.split(' ').reverse().join(' ')], /another order/],
    ['a typo', () => ['--title', existing().title.replace(/[aeiou]/, (v) => v + v)], /typo apart/],
  ])('refuses %s, naming the scenario, and leaves the catalog byte-identical', async (_name, title, message) => {
    const before = readFileSync(catalog);
    const result = await add([...base, ...title()]);
    expect(result.code).not.toBe(0);
    expect(result.err.trim().split('\n')).toHaveLength(1);
    expect(result.err).toMatch(message);
    expect(result.err).toContain(existing().id);
    expect(readFileSync(catalog).equals(before)).toBe(true);
  });

  it('refuses an unknown topic and suggests the closest', async () => {
    const before = readFileSync(catalog);
    const args = [...base, '--title', 'Planning A Moon Garden Party'];
    args[args.indexOf('home_garden')] = 'gardning';
    const result = await add(args);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/unknown topic `gardning`; did you mean `home_garden`/);
    expect(readFileSync(catalog).equals(before)).toBe(true);
  });

  it('refuses a missing field, naming it', async () => {
    const before = readFileSync(catalog);
    const args = [...base, '--title', 'Planning A Moon Garden Party'];
    args.splice(args.indexOf('--situation'), 2);
    const result = await add(args);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/field `situation`: is missing/);
    expect(readFileSync(catalog).equals(before)).toBe(true);
  });

  it('adds a new scenario that then validates', async () => {
    const result = await add([...base, '--title', 'Planning A Moon Garden Party']);
    expect(result.code).toBe(0);
    expect(checkCatalogFile(catalog).problems).toEqual([]);
    expect(readFileSync(catalog, 'utf8').trim().split('\n').at(-1)).toContain('home-garden-moon-party');
  });
});

describe('seed personas', () => {
  it('ships 300 or more distinct bundled seeds', () => {
    const { seeds, problems, duplicates } = readSeeds();
    expect(problems).toEqual([]);
    expect(duplicates).toBe(0);
    expect(seeds.length).toBeGreaterThanOrEqual(300);
  });

  it('reads Persona Hub JSONL, drops duplicates and reports bad lines with their numbers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-seeds-'));
    const file = join(dir, 'seeds.jsonl');
    writeFileSync(
      file,
      [
        '{"persona": "A beekeeper in Ljubljana who sells honey at the Saturday market"}',
        '{"input persona": "A night-shift baker in Montreal"}',
        'not json',
        '{"persona": "A beekeeper in Ljubljana who sells honey at the Saturday market"}',
        '{"name": "x"}',
        '',
      ].join('\n'),
    );
    const result = readSeeds(file);
    rmSync(dir, { recursive: true, force: true });
    expect(result.seeds).toHaveLength(2);
    expect(result.duplicates).toBe(1);
    expect(result.problems.map((p) => p.line)).toEqual([3, 5]);
  });
});
