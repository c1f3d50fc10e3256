import { cp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, fileDigests, runCli, stackLines } from '../helpers/cli.js';
import { removeDir, tempDir } from '../helpers/offline-run.js';

const FLAGS = ['--users', '2', '--sizes', '8k,16k', '--seed', '1', '--json', '--no-progress'];

interface Summary {
  out: string;
  users: number;
  questions: number;
  model_calls: number;
  cache_hits: number;
}

let root: string;
let first: string;
let second: string;
let firstRun: CliResult;
let secondRun: CliResult;
let badFlagRun: CliResult;
let badConfigRun: CliResult;
let badConfigFile: string;

const generate = (out: string) => runCli(['generate', ...FLAGS, '--out', out], root);
const summary = (r: CliResult) => JSON.parse(r.stdout) as Summary;
/** The dataset a user reads: everything but the run store. */
const dataset = (dir: string) => fileDigests(dir, { skip: ['.run'] });

beforeAll(async () => {
  root = await tempDir('cli');
  first = join(root, 'first');
  second = join(root, 'second');
  badConfigFile = join(root, 'bad.yaml');
  await writeFile(badConfigFile, 'sizes: [8k]\nusers: many\n');
  // Independent runs start together: most of each is process start-up.
  [firstRun, secondRun, badFlagRun, badConfigRun] = await Promise.all([
    generate(first),
    generate(second),
    runCli(['generate', '--users', 'abc', '--out', join(root, 'bad-flag'), '--no-progress'], root),
    runCli(['generate', '--config', badConfigFile, '--out', join(root, 'bad-config'), '--no-progress'], root),
  ]);
}, 180_000);

afterAll(async () => {
  await removeDir(root);
});

describe('personagen generate', () => {
  it('writes a 2-user dataset at 8k and 16k that validates', async () => {
    expect(firstRun.stderr).toBe('');
    expect(firstRun.code).toBe(0);
    const s = summary(firstRun);
    expect(s.users).toBe(2);
    expect(s.questions).toBeGreaterThan(0);
    expect(s.model_calls).toBeGreaterThan(0);
    const lines = (await readFile(join(first, 'questions.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(s.questions);
    expect(Object.keys(await dataset(first))).toEqual(
      expect.arrayContaining([
        'histories/16k/0.json',
        'histories/16k/1.json',
        'histories/8k/0.json',
        'histories/8k/1.json',
        'manifest.json',
        'questions.jsonl',
        'users.jsonl',
      ]),
    );
    const check = await runCli(['validate', first], root);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(new RegExp(`^ok: ${s.questions} questions, 4 histories checked`));
  });

  it('writes byte-identical questions, users, manifest and histories into a second directory', async () => {
    expect(secondRun.code, secondRun.stderr).toBe(0);
    const a = await dataset(first);
    const b = await dataset(second);
    for (const file of [
      'questions.jsonl',
      'users.jsonl',
      'manifest.json',
      'histories/8k/0.json',
      'histories/8k/1.json',
      'histories/16k/0.json',
      'histories/16k/1.json',
    ]) {
      expect(b[file], file).toBe(a[file]);
    }
    expect(summary(secondRun).model_calls).toBe(summary(firstRun).model_calls);
  });

  it('makes no model call when rerun into the same directory, and leaves its files as they were', async () => {
    const before = await fileDigests(first, { skip: ['.run'] });
    const again = await generate(first);
    expect(again.code, again.stderr).toBe(0);
    expect(summary(again).model_calls).toBe(0);
    expect(summary(again).questions).toBe(summary(firstRun).questions);
    expect(await fileDigests(first, { skip: ['.run'] })).toEqual(before);
  });

  it('resumes a run by redoing only the deleted session artifacts, restoring identical files', async () => {
    const before = await dataset(second);
    const sessionsDir = join(second, '.run', 'users', '0', 'sessions');
    const deleted = (await readdir(sessionsDir)).sort().slice(0, 3);
    const outputs = await Promise.all(
      deleted.map(async (f) => (JSON.parse(await readFile(join(sessionsDir, f), 'utf8')) as { output: unknown }).output),
    );
    for (const f of deleted) await rm(join(sessionsDir, f));
    // With no response cache to answer from, each missing artifact costs exactly one call.
    await rm(join(second, '.run', 'cache'), { recursive: true, force: true });
    const resumed = await runCli(['resume', second, '--json', '--no-progress'], root);
    expect(resumed.code, resumed.stderr).toBe(0);
    const s = summary(resumed);
    expect(s.model_calls).toBe(deleted.length);
    expect(s.model_calls).toBeLessThan(summary(secondRun).model_calls);
    for (const [i, f] of deleted.entries()) {
      const restored = JSON.parse(await readFile(join(sessionsDir, f), 'utf8')) as { output: unknown };
      expect(restored.output, f).toEqual(outputs[i]);
    }
    expect(await dataset(second)).toEqual(before);
  });

  it('exits 2 on a bad flag with one error line naming it, no stack trace, and writes nothing', () => {
    const r = badFlagRun;
    expect(r.code).toBe(2);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('users');
    expect(errors[0]).toContain('abc');
    expect(stackLines(r.stderr)).toEqual([]);
    expect(r.stdout).toBe('');
    expect(existsSync(join(root, 'bad-flag'))).toBe(false);
  });

  it('exits 2 on a bad config file with one line naming the file, the line and the field, and writes nothing', () => {
    const r = badConfigRun;
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[0]).toContain(badConfigFile);
    expect(lines[0]).toContain('line 2');
    expect(lines[0]).toContain('users');
    expect(stackLines(r.stderr)).toEqual([]);
    expect(existsSync(join(root, 'bad-config'))).toBe(false);
  });

  it('exits 2 when the directory holds a run made with another config, leaving every file byte-identical', async () => {
    const copy = join(root, 'other-seed');
    await cp(first, copy, { recursive: true });
    const before = await fileDigests(copy);
    const r = await runCli(['generate', ...FLAGS, '--seed', '2', '--out', copy], root);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('seed');
    expect(stackLines(r.stderr)).toEqual([]);
    expect(await fileDigests(copy)).toEqual(before);
  });
});
