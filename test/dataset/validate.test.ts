import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { o200k } from '../../pipeline/core/tokenizer.js';
import { validateDataset } from '../../pipeline/dataset/validate.js';
import { writeDataset } from '../../pipeline/dataset/write.js';
import { runLocal } from '../../pipeline/executors/local.js';
import type { HistoryFile, Question } from '../../pipeline/schemas/records.js';
import { type CliResult, runCli } from '../helpers/cli.js';
import { offlineRuntime, removeDir, tempDir } from '../helpers/offline-run.js';

let root: string;
let pristine: string;
let questions: Question[];
let copies = 0;
/** The validate command on a copy missing a history file, started early: it runs while the in-process checks do. */
let commandRun: Promise<{ result: CliResult; question: Question }> | undefined;

beforeAll(async () => {
  root = await tempDir('validate');
  pristine = join(root, 'pristine');
  const rt = await offlineRuntime(pristine, { users: 2, seed: 4, sizes: ['8k', '16k'] });
  await runLocal(rt);
  await writeDataset(rt);
  await rm(join(pristine, '.run'), { recursive: true, force: true });
  questions = (await readFile(join(pristine, 'questions.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Question);
  const broken = await copy();
  const question = questions[0]!;
  await rm(join(broken, question.histories['16k']!));
  commandRun = runCli(['validate', broken], root).then((result) => ({ result, question }));
}, 120_000);

afterAll(async () => {
  await commandRun?.catch(() => undefined);
  await removeDir(root);
});

/** A fresh copy of the dataset to break. */
async function copy(): Promise<string> {
  const dir = join(root, `copy-${copies++}`);
  await cp(pristine, dir, { recursive: true });
  return dir;
}

/** Rewrites one question of a copy's questions.jsonl. */
async function editQuestion(dir: string, index: number, edit: (q: Question) => void): Promise<void> {
  const path = join(dir, 'questions.jsonl');
  const lines = (await readFile(path, 'utf8')).trim().split('\n');
  const q = JSON.parse(lines[index]!) as Question;
  edit(q);
  lines[index] = JSON.stringify(q);
  await writeFile(path, lines.join('\n') + '\n');
}

const validate = (dir: string) => validateDataset(dir, o200k);
const mentioning = (problems: string[], ...parts: string[]) => problems.filter((p) => parts.every((part) => p.includes(part)));

describe('validate', () => {
  it('passes the dataset as written', async () => {
    const report = await validate(await copy());
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.questions).toBe(questions.length);
    expect(report.histories).toBe(4);
  });

  it('fails, naming the question, when a history file is deleted', async () => {
    const dir = await copy();
    const q = questions[0]!;
    const rel = q.histories['8k']!;
    await rm(join(dir, rel));
    const report = await validate(dir);
    expect(report.ok).toBe(false);
    expect(mentioning(report.problems, q.question_id, rel)).toHaveLength(1);
    expect(mentioning(report.problems, 'manifest.json', rel)).toHaveLength(1);
  });

  it('fails the validate command with a non-zero exit when a history file is deleted', async () => {
    const { result: r, question: q } = await commandRun!;
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(q.question_id);
    expect(r.stdout).toContain(q.histories['16k']);
  });

  it('fails, naming the history file and both counts, when a final_token_count is edited', async () => {
    const dir = await copy();
    const rel = questions[0]!.histories['16k']!;
    const path = join(dir, rel);
    const file = JSON.parse(await readFile(path, 'utf8')) as HistoryFile;
    const real = file.metadata.final_token_count;
    file.metadata.final_token_count = real - 7;
    await writeFile(path, JSON.stringify(file, null, 1));
    const report = await validate(dir);
    expect(report.ok).toBe(false);
    expect(mentioning(report.problems, rel, 'final_token_count', String(real - 7), String(real))).toHaveLength(1);
  });

  it('fails, naming the question, when its correct answer is put among the incorrect ones', async () => {
    const dir = await copy();
    const q = questions[1]!;
    await editQuestion(dir, 1, (x) => {
      x.incorrect_answers[0] = x.correct_answer;
    });
    const report = await validate(dir);
    expect(report.ok).toBe(false);
    expect(mentioning(report.problems, q.question_id, 'correct_answer is among incorrect_answers')).toHaveLength(1);
  });

  it('fails, naming the question, when a distractor is duplicated', async () => {
    const dir = await copy();
    const q = questions[2]!;
    await editQuestion(dir, 2, (x) => {
      x.incorrect_answers[2] = x.incorrect_answers[1]!;
    });
    const report = await validate(dir);
    expect(report.ok).toBe(false);
    expect(mentioning(report.problems, q.question_id, 'not distinct')).toHaveLength(1);
  });

  it('fails, naming the question, when its evidence message range is shifted', async () => {
    const dir = await copy();
    const index = questions.length - 1;
    const q = questions[index]!;
    const [start, end] = q.evidence.messages['8k']!;
    await editQuestion(dir, index, (x) => {
      x.evidence.messages['8k'] = [start + 1, end + 1];
    });
    const report = await validate(dir);
    expect(report.ok).toBe(false);
    expect(mentioning(report.problems, q.question_id, `messages ${start + 1}-${end + 1}`)).toHaveLength(1);
  });

  it('fails, naming the file, when a file no longer matches its checksum in the manifest', async () => {
    const dir = await copy();
    const path = join(dir, 'users.jsonl');
    const text = await readFile(path, 'utf8');
    const users = text.trim().split('\n');
    const first = JSON.parse(users[0]!) as { profile: { bio: string } };
    first.profile.bio = `${first.profile.bio} Lately also keeps bees.`;
    users[0] = JSON.stringify(first);
    await writeFile(path, users.join('\n') + '\n');
    const report = await validate(dir);
    expect(report.ok).toBe(false);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]).toMatch(/^users\.jsonl: .*checksum/);
  });
});
