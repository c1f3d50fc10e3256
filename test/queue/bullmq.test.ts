// Tagged redis: these suites need the Redis at 127.0.0.1:6379 (one suite stops and restarts it).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter, jobId, readQueueRun, redisOptions } from '../../pipeline/queue/index.js';
import { startDashboard } from '../../pipeline/queue/dashboard.js';
import { type FakeModelServer, startFakeModelServer } from '../../scripts/fake-model-server.js';
import {
  REDIS_URL,
  type RunningCli,
  TINY_CONFIG,
  countFiles,
  datasetDigests,
  deletePrefix,
  ensureRedis,
  removeDir,
  runCli,
  startCli,
  stopRedis,
  tempDir,
  waitFor,
  workerPids,
  writeJson,
} from './helpers.js';

const PREFIX = `pgtest-${randomBytes(3).toString('hex')}`;
const connection = redisOptions(REDIS_URL);

let root: string;
/** The local executor's dataset for TINY_CONFIG: what the three-worker run must reproduce byte for byte. */
let baseline: Record<string, string>;
/**
 * The same run with filler conversations from a model server taking 400 ms a call, so that workers
 * hold jobs long enough to be killed, or to lose Redis, in the middle of a run; and its local dataset.
 */
let fillerServer: FakeModelServer;
let slowBaseline: Record<string, string>;
let slowCacheFiles: number;
const config = { fast: '', slow: '' };

/** A filler conversation as a model would write it (the same one for every filler call). */
const FILLER_ANSWER = JSON.stringify({
  messages: [
    { role: 'user', content: 'Why do bread recipes tell you to let the dough rest after kneading it?' },
    {
      role: 'assistant',
      content:
        'Kneading tightens the gluten network, so the dough springs back when you shape it. A rest of ten to twenty minutes lets those strands relax, which makes the dough easier to roll out and helps it hold its shape in the oven.',
    },
  ],
});

/** A directory to run `generate` in; every run writes to its `data` (the same relative --out every time). */
async function cwdFor(name: string): Promise<string> {
  const cwd = join(root, name);
  await mkdir(cwd, { recursive: true });
  return cwd;
}

const queued = (workers: number) => ['--executor', 'bullmq', '--workers', String(workers), '--redis', REDIS_URL, '--queue-prefix', PREFIX];
const generate = (which: keyof typeof config, ...extra: string[]) => [
  'generate',
  '--config',
  config[which],
  '--out',
  'data',
  '--no-progress',
  ...extra,
];

/** Waits until the run in `dir` is under way (some, not all, filler conversations made), failing fast if it ended. */
async function midRun(dir: string, run: RunningCli, check: () => Promise<boolean> | boolean = () => true): Promise<void> {
  let over = false;
  void run.exited.then(() => (over = true));
  await waitFor(
    'the run to be under way',
    async () => {
      if (over) throw new Error(`the run ended too soon:\n${run.stderr()}`);
      const fillers = await countFiles(join(dir, '.run', 'filler'));
      return fillers > 0 && fillers < 85 && (await check());
    },
    120_000,
    20,
  );
}

beforeAll(async () => {
  await ensureRedis();
  root = await tempDir('queue');
  fillerServer = await startFakeModelServer({ latencyMs: 400, answer: FILLER_ANSWER });
  config.fast = join(root, 'tiny.json');
  config.slow = join(root, 'slow-filler.json');
  await writeJson(config.fast, TINY_CONFIG);
  await writeJson(config.slow, {
    ...TINY_CONFIG,
    llm: { base_url: fillerServer.url, stages: { filler: { provider: 'openai', model: 'filler-model' } } },
  });
  const [fast, slow] = [await cwdFor('local'), await cwdFor('local-slow')];
  const runs = await Promise.all([
    runCli(generate('fast', '--executor', 'local'), { cwd: fast, timeoutMs: 120_000 }),
    runCli(generate('slow', '--executor', 'local'), { cwd: slow, timeoutMs: 120_000 }),
  ]);
  for (const r of runs) expect(r.code, r.stderr).toBe(0);
  baseline = await datasetDigests(join(fast, 'data'));
  slowBaseline = await datasetDigests(join(slow, 'data'));
  slowCacheFiles = await countFiles(join(slow, 'data', '.run', 'cache'));
}, 150_000);

afterAll(async () => {
  await ensureRedis();
  await deletePrefix(PREFIX);
  await fillerServer?.close();
  await removeDir(root);
}, 60_000);

describe('generate --executor bullmq', () => {
  it('writes the same bytes as the local executor with three worker processes', async () => {
    const cwd = await cwdFor('three');
    const run = await runCli(generate('fast', ...queued(3)), { cwd, timeoutMs: 150_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(workerPids(run.stderr)).toHaveLength(3);
    expect(await datasetDigests(join(cwd, 'data'))).toEqual(baseline);
    expect(Object.keys(baseline)).toEqual(
      expect.arrayContaining(['manifest.json', 'questions.jsonl', 'users.jsonl', 'histories/8k/0.json']),
    );
    // A finished run leaves nothing in its queues.
    const queuedRun = await readQueueRun(join(cwd, 'data'));
    const r = new Redis(connection);
    expect(await r.keys(`${PREFIX}:${queuedRun!.run_id}-*`)).toEqual([]);
    r.disconnect();
  }, 180_000);

  it('finishes with the same bytes when a worker is killed with kill -9 mid-run', async () => {
    const cwd = await cwdFor('killed');
    const dir = join(cwd, 'data');
    const coordinator = startCli(generate('slow', ...queued(2)), { cwd, timeoutMs: 170_000 });
    // Kill a worker while it holds a job.
    let victim: number | undefined;
    await midRun(dir, coordinator, async () => {
      const pids = workerPids(coordinator.stderr());
      const run = await readQueueRun(dir).catch(() => undefined);
      if (!run || pids.length === 0) return false;
      const q = new Queue(`${run.run_id}-filler`, { connection, prefix: PREFIX });
      const active = await q.getActive();
      await q.close();
      victim = active.map((job) => Number(job.processedBy?.split(':').pop())).find((pid) => pids.includes(pid));
      return victim !== undefined;
    });
    process.kill(victim!, 'SIGKILL');
    const exit = await coordinator.exited;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toMatch(/exited \(SIGKILL\); starting it again/);
    expect(await datasetDigests(dir)).toEqual(slowBaseline);
    const ids = (await readFile(join(dir, 'questions.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { question_id: string }).question_id);
    expect(new Set(ids).size).toBe(ids.length);
    // Every model answer was stored once: as many cache entries as a clean run.
    expect(await countFiles(join(dir, '.run', 'cache'))).toBe(slowCacheFiles);
  }, 180_000);

  it('finishes after Redis restarts mid-run without its data (or resume finishes it)', async () => {
    const cwd = await cwdFor('restart');
    const dir = join(cwd, 'data');
    try {
      const coordinator = startCli(generate('slow', ...queued(2)), { cwd, timeoutMs: 170_000 });
      await midRun(dir, coordinator, () => workerPids(coordinator.stderr()).length > 0);
      await stopRedis();
      await sleep(500);
      await ensureRedis();
      const exit = await coordinator.exited;
      if (exit.code !== 0) {
        const resumed = await runCli(['resume', 'data', '--executor', 'bullmq', '--workers', '2', '--redis', REDIS_URL, '--no-progress'], {
          cwd,
          timeoutMs: 150_000,
        });
        expect(resumed.code, `${exit.stderr}\n--- resume ---\n${resumed.stderr}`).toBe(0);
      }
      expect(await datasetDigests(dir)).toEqual(slowBaseline);
    } finally {
      await ensureRedis();
    }
  }, 180_000);

  it('continues a run whose coordinator was killed with resume --executor local, and its workers stop', async () => {
    const cwd = await cwdFor('crashed');
    const dir = join(cwd, 'data');
    const coordinator = startCli(generate('slow', ...queued(2)), { cwd, timeoutMs: 170_000 });
    await midRun(dir, coordinator, () => workerPids(coordinator.stderr()).length > 0);
    const pids = workerPids(coordinator.stderr());
    coordinator.proc.kill('SIGKILL');
    await coordinator.exited;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // Orphaned workers see their coordinator gone and drain.
    await waitFor('the orphaned workers to stop', () => !pids.some(alive), 30_000, 100);
    const resumed = await runCli(['resume', 'data', '--executor', 'local', '--no-progress'], { cwd, timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await datasetDigests(dir)).toEqual(slowBaseline);
  }, 180_000);

  it('writes a unit no retry can fix to dead-letter.jsonl, with its raw answer, and exits non-zero', async () => {
    const answer = 'Sorry, I would rather chat about the weather than write JSON today.';
    const server = await startFakeModelServer({ latencyMs: 5, answer });
    try {
      const failing = join(root, 'failing.json');
      await writeJson(failing, {
        ...TINY_CONFIG,
        llm: { base_url: server.url, content_retries: 0, stages: { filler: { provider: 'openai', model: 'filler-model' } } },
      });
      const cwd = await cwdFor('dead-letter');
      const dir = join(cwd, 'data');
      const run = await runCli(['generate', '--config', failing, '--out', 'data', '--no-progress', ...queued(1)], {
        cwd,
        timeoutMs: 150_000,
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/2 of 2 users done, 0 failed; 0 of \d+ filler conversations done/);
      expect(run.stderr).toContain('dead-letter.jsonl');
      const lines = (await readFile(join(dir, '.run', 'dead-letter.jsonl'), 'utf8')).trim().split('\n');
      const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(entries.length).toBeGreaterThan(0);
      for (const e of entries) {
        expect(e).toMatchObject({ kind: 'filler', llm_code: 'invalid_output', attempts: 1, raw: answer });
        expect(String(e.reason)).not.toBe('');
      }
      // Finished work is kept; no dataset is written from a partial run.
      expect(existsSync(join(dir, '.run', 'users', '1', 'plan.json'))).toBe(true);
      expect(existsSync(join(dir, 'manifest.json'))).toBe(false);
    } finally {
      await server.close();
    }
  }, 180_000);

  it('lets a worker stop on SIGTERM within its drain time, handing its jobs back', async () => {
    const server = await startFakeModelServer({ latencyMs: 20_000 });
    const cwd = await cwdFor('drain');
    const dir = join(cwd, 'data');
    const slow = join(root, 'stuck-filler.json');
    await writeJson(slow, {
      ...TINY_CONFIG,
      bullmq: { ...TINY_CONFIG.bullmq, drain_ms: 1000 },
      llm: { base_url: server.url, stages: { filler: { provider: 'openai', model: 'filler-model' } } },
    });
    const coordinator = startCli(['generate', '--config', slow, '--out', 'data', '--no-progress', ...queued(0)], {
      cwd,
      timeoutMs: 120_000,
    });
    try {
      await waitFor('the run to be enqueued', () => existsSync(join(dir, '.run', 'queue.json')), 60_000);
      const worker = startCli(['worker', '--dir', dir, '--redis', REDIS_URL, '--queues', 'filler', '--concurrency', '2'], {
        cwd,
        timeoutMs: 90_000,
      });
      await waitFor('the worker to call the model', () => server.stats().accepted.length >= 2, 60_000);
      const t0 = Date.now();
      worker.proc.kill('SIGTERM');
      const exit = await worker.exited;
      expect(exit.code, exit.stderr).toBe(0);
      expect(Date.now() - t0).toBeLessThan(15_000);
      // Its jobs went back to the queue: none failed, nothing in the dead-letter file.
      const run = await readQueueRun(dir);
      const q = new Queue(`${run!.run_id}-filler`, { connection, prefix: PREFIX });
      const counts = await q.getJobCounts('failed', 'active', 'wait');
      await q.close();
      expect(counts.failed).toBe(0);
      expect(counts.active).toBe(0);
      expect(counts.wait).toBeGreaterThan(0);
      expect(existsSync(join(dir, '.run', 'dead-letter.jsonl'))).toBe(false);
    } finally {
      coordinator.proc.kill('SIGTERM');
      const stopped = await coordinator.exited;
      expect(stopped.code).toBe(1);
      expect(stopped.stderr).toContain('finished work is kept');
      await server.close();
    }
  }, 150_000);
});

describe('queue building blocks', () => {
  it('adds the same unit only once: job ids come from the artifact key', async () => {
    const q = new Queue('rtest0001-sessions', { connection, prefix: PREFIX });
    try {
      const data = {
        pid: 3,
        session: {
          session_id: 'u3-p7-reveal',
          pref_id: 'p7',
          purpose: 'reveal',
          scenario_id: 's1',
          task_type: 'personal_email',
          topic: 'cooking',
          follow_up: false,
        },
      } as const;
      const id = jobId('sessions', data);
      expect(id).toBe('users/3/sessions/u3-p7-reveal');
      await q.add('sessions', data, { jobId: id });
      await q.add('sessions', data, { jobId: id });
      expect(await q.getJobCountByTypes('wait')).toBe(1);
    } finally {
      await q.obliterate({ force: true });
      await q.close();
    }
  });

  it('paces calls to a model across limiters sharing Redis, and holds everyone after a 429', async () => {
    const a = new Redis(connection);
    const b = new Redis(connection);
    const limits = { 'openai:pace-model': { rpm: 600 } };
    const one = new RateLimiter(a, `${PREFIX}-lim`, limits);
    const two = new RateLimiter(b, `${PREFIX}-lim`, limits);
    try {
      const started: number[] = [];
      const t0 = Date.now();
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          await (i % 2 ? one : two).acquire('openai', 'pace-model', 0);
          started.push(Date.now() - t0);
        }),
      );
      started.sort((x, y) => x - y);
      // 600 rpm at 98%: one call every ~102 ms, whichever process asks.
      expect(started[9]! - started[0]!).toBeGreaterThanOrEqual(850);
      expect(started[9]! - started[0]!).toBeLessThan(2500);

      await one.block('openai', 'other-model', 400);
      const t1 = Date.now();
      await two.acquire('openai', 'other-model', 0);
      expect(Date.now() - t1).toBeGreaterThanOrEqual(300);
    } finally {
      a.disconnect();
      b.disconnect();
      await deletePrefix(`${PREFIX}-lim`);
    }
  });

  it('serves bull-board over the queues of a prefix on 127.0.0.1', async () => {
    const q = new Queue('rtest0002-questions', { connection, prefix: PREFIX });
    await q.add('questions', { pid: 0 }, { jobId: 'users/0/questions/p1' });
    const board = await startDashboard({ redisUrl: REDIS_URL, queuePrefix: PREFIX, port: 0 });
    try {
      expect(board.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(board.queues()).toContain('rtest0002-questions');
      const page = await fetch(board.url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      const api = (await (await fetch(`${board.url}api/queues`)).json()) as { queues: Array<{ name: string }> };
      expect(api.queues.map((x) => x.name)).toContain('rtest0002-questions');
    } finally {
      await board.close();
      await q.obliterate({ force: true });
      await q.close();
    }
  });
});
