import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'personagen.js');
export const REDIS_URL = 'redis://127.0.0.1:6379';
/** How the queue tests start Redis again after stopping it (the CI's own command). */
export const REDIS_SERVER_ARGS = [
  '--daemonize',
  'yes',
  '--bind',
  '127.0.0.1',
  '-::1',
  '--port',
  '6379',
  '--save',
  '',
  '--appendonly',
  'no',
  '--dir',
  '/var/lib/redis',
];

/** The environment for CLI children: no provider keys and no REDIS_URL of the caller's. */
export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'OPENAI_BASE_URL', 'ANTHROPIC_BASE_URL', 'REDIS_URL']) delete env[key];
  return env;
}

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  proc: ChildProcess;
  pid: number;
  stderr(): string;
  exited: Promise<CliExit>;
}

/** Starts `personagen ARGS`; it is killed (SIGKILL, by its pid) if it outlives `timeoutMs`. */
export function startCli(args: readonly string[], options: { cwd: string; timeoutMs: number }): RunningCli {
  const proc = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs);
  const exited = new Promise<CliExit>((r) =>
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Let the pipes drain before reporting.
      setImmediate(() => r({ code, signal, stdout, stderr }));
    }),
  );
  return { proc, pid: proc.pid!, stderr: () => stderr, exited };
}

export function runCli(args: readonly string[], options: { cwd: string; timeoutMs: number }): Promise<CliExit> {
  return startCli(args, options).exited;
}

/** Polls `check` every `everyMs` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export async function tempDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `personagen-${name}-`));
}

/** sha256 of every file under `dir`, by relative path, leaving out the run store. */
export async function datasetDigests(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '.run') await walk(path);
      } else {
        out[relative(dir, path)] = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
      }
    }
  };
  await walk(dir);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** Number of files under `dir` (0 when it does not exist). */
export async function countFiles(dir: string): Promise<number> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).length;
  } catch {
    return 0;
  }
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, JSON.stringify(value, null, 2) + '\n');
}

/** A small run: 2 users, 8k and 16k, a few preferences of each kind; short locks so a dead worker's jobs come back fast. */
export const TINY_CONFIG = {
  users: 2,
  seed: 7,
  sizes: ['8k', '16k'],
  preferences: { stereotypical: 3, anti_stereotypical: 3, neutral: 3, therapy_background: 2, health_and_medical: 2, sensitive_info: 2 },
  questions: { per_user: 8 },
  bullmq: { lock_ms: 5000, backoff_ms: 200, drain_ms: 5000 },
};

export async function redisAnswers(): Promise<boolean> {
  const r = new Redis({
    host: '127.0.0.1',
    port: 6379,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

function exec(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(file, args, { timeout: 10_000 }, (error) => (error ? reject(error) : resolve())));
}

/** Stops Redis without saving (its data is lost, as in a crash of a server without persistence). */
export async function stopRedis(): Promise<void> {
  await exec('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'shutdown', 'nosave']).catch(() => undefined);
  await waitFor('Redis to stop', async () => !(await redisAnswers()), 10_000, 100);
}

/** Starts Redis again if it does not answer, and waits (bounded) until it does. */
export async function ensureRedis(): Promise<void> {
  if (await redisAnswers()) return;
  await exec('redis-server', REDIS_SERVER_ARGS).catch(() => undefined);
  await waitFor('Redis to answer', redisAnswers, 15_000, 100);
}

/** Deletes every key under a prefix. */
export async function deletePrefix(prefix: string): Promise<void> {
  const r = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    let cursor = '0';
    for (let round = 0; round < 10_000; round++) {
      const [next, found] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (found.length > 0) await r.del(...found);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    r.disconnect();
  }
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** Pids of the worker processes a coordinator reported starting ("[worker N] worker PID: run ..."). */
export function workerPids(stderr: string): number[] {
  return [...new Set([...stderr.matchAll(/\[worker \d+\] worker (\d+): run /g)].map((m) => Number(m[1])))];
}
