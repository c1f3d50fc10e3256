/**
 * End-to-end runs of the CLI (`personagen generate --json`) as child processes, offline provider:
 * wall time, peak memory of the process tree, and for the bullmq executor the jobs its workers
 * processed and how long they were at it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { type ChildRun, runChild, tail } from './measure.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';

export interface GenerateSpec {
  root: string;
  users: number;
  sizes: readonly string[];
  executor: 'local' | 'bullmq';
  /** Worker processes for bullmq. */
  workers: number;
  out: string;
  timeoutMs: number;
}

export interface GenerateRun {
  spec: GenerateSpec;
  wallMs: number;
  /** What the CLI reported as its own duration (s), from its --json summary. */
  reportedSeconds: number;
  questions: number;
  maxProcessKb: number | undefined;
  treeHwmKb: number;
  treeRssSampledKb: number;
  processes: number;
  /** bullmq only: jobs the workers processed, summed from their "stopped after N jobs" lines. */
  jobs: number | undefined;
  /** bullmq only: ms from the coordinator's start line to the workers' stop (the queue phase, without setup and dataset writing). */
  queueMs: number | undefined;
  /** sha256 of manifest.json: equal manifests mean byte-identical dataset files (it holds every file's hash). */
  manifestSha256: string;
}

export type Outcome = { ok: true; run: GenerateRun } | { ok: false; reason: string };

/** Removes every key under a prefix (bounded scan). */
export async function dropPrefix(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  let removed = 0;
  try {
    await redis.connect();
    let cursor = '0';
    for (let i = 0; i < 100_000; i++) {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (found.length > 0) removed += await redis.del(...found);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
  return removed;
}

export async function redisReachable(): Promise<string | undefined> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null, connectTimeout: 3000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return `Redis at 127.0.0.1:6379 is not reachable (${(error as Error).message})`;
  } finally {
    redis.disconnect();
  }
}

function parseSummary(stdout: string): { seconds: number; questions: number } | undefined {
  const start = stdout.indexOf('{');
  if (start < 0) return undefined;
  try {
    const parsed = JSON.parse(stdout.slice(start)) as { seconds?: unknown; questions?: unknown };
    if (typeof parsed.seconds !== 'number' || typeof parsed.questions !== 'number') return undefined;
    return { seconds: parsed.seconds, questions: parsed.questions };
  } catch {
    return undefined;
  }
}

function queuePhase(child: ChildRun): { jobs: number | undefined; queueMs: number | undefined } {
  let jobs = 0;
  let counted = false;
  for (const { line } of child.stderr) {
    const m = /stopped after (\d+) jobs/.exec(line);
    if (m) {
      jobs += Number(m[1]);
      counted = true;
    }
  }
  const start = child.stderr.find((l) => /^bullmq run \S+ on /.test(l.line));
  const stop = child.stderr.find((l) => /SIGTERM; finishing running jobs/.test(l.line));
  return { jobs: counted ? jobs : undefined, queueMs: start && stop ? stop.atMs - start.atMs : undefined };
}

/** One `personagen generate` run; bullmq runs get a key prefix of their own, removed afterwards. */
export async function generateOnce(spec: GenerateSpec): Promise<Outcome> {
  const bin = join(spec.root, 'bin', 'personagen.js');
  const args = [
    bin,
    'generate',
    '--users',
    String(spec.users),
    '--sizes',
    spec.sizes.join(','),
    '--out',
    spec.out,
    '--json',
    '--no-progress',
  ];
  const prefix = `pgbench-${randomBytes(4).toString('hex')}`;
  if (spec.executor === 'bullmq') {
    args.push('--executor', 'bullmq', '--workers', String(spec.workers), '--queue-prefix', prefix, '--redis', REDIS_URL);
  }
  let child: ChildRun;
  try {
    child = await runChild(process.execPath, args, { cwd: spec.root, timeoutMs: spec.timeoutMs, env: { ...process.env, REDIS_URL } });
  } finally {
    if (spec.executor === 'bullmq') await dropPrefix(prefix).catch(() => 0);
  }
  if (child.timedOut) return { ok: false, reason: `timed out after ${Math.round(spec.timeoutMs / 1000)} s` };
  const summary = parseSummary(child.stdout);
  if (child.code !== 0 || !summary) {
    return { ok: false, reason: `exit ${child.code ?? child.signal}${tail(child) ? `: ${tail(child)}` : ''}` };
  }
  const manifest = await readFile(join(spec.out, 'manifest.json'));
  const phase = spec.executor === 'bullmq' ? queuePhase(child) : { jobs: undefined, queueMs: undefined };
  return {
    ok: true,
    run: {
      spec,
      wallMs: child.wallMs,
      reportedSeconds: summary.seconds,
      questions: summary.questions,
      maxProcessKb: child.maxProcessKb,
      treeHwmKb: child.treeHwmKb,
      treeRssSampledKb: child.treeRssSampledKb,
      processes: child.processes,
      jobs: phase.jobs,
      queueMs: phase.queueMs,
      manifestSha256: createHash('sha256').update(manifest).digest('hex'),
    },
  };
}

/** Where two datasets' manifests differ: top-level fields, and which files (by their recorded sha256). */
export async function manifestDifferences(a: string, b: string): Promise<string[]> {
  const read = async (dir: string) => JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const [ma, mb] = await Promise.all([read(a), read(b)]);
  const out: string[] = [];
  for (const key of new Set([...Object.keys(ma), ...Object.keys(mb)])) {
    if (key === 'files' || JSON.stringify(ma[key]) === JSON.stringify(mb[key])) continue;
    out.push(key);
  }
  const fa = (ma.files ?? {}) as Record<string, string>;
  const fb = (mb.files ?? {}) as Record<string, string>;
  const files = [...new Set([...Object.keys(fa), ...Object.keys(fb)])].filter((f) => fa[f] !== fb[f]);
  if (files.length > 0) out.push(`${files.length} file(s): ${files.slice(0, 5).join(', ')}${files.length > 5 ? ', ...' : ''}`);
  return out;
}
