import { throttled, within } from '../core/time.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlowProducer, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { type Config, type Env, readEnv } from '../config/index.js';
import { PersonagenError } from '../core/errors.js';
import type { Runtime } from '../engine/runtime.js';
import { fillerPoolSize, targetsFor } from '../engine/units.js';
import {
  JOB_KINDS,
  type JobKind,
  type QueueRun,
  bullmqSettings,
  deadLetterPath,
  jobId,
  jobOptions,
  openQueueRun,
  queueName,
  redisOptions,
  redisUrlFor,
  runKey,
  shownRedisUrl,
  userFlow,
} from '../queue/index.js';
import { PlanOutput } from '../stages/plan.js';
import { keys } from '../store/run-store.js';
import type { Progress } from './local.js';

export interface BullmqRunOptions {
  signal?: AbortSignal | undefined;
  onProgress?: ((p: Progress) => void) | undefined;
  log?: ((line: string) => void) | undefined;
  env?: Env | undefined;
}

/** The config as stored in the run (DIR/.run/config.json): everything but the Redis URL, which may hold a password. */
export function storableConfig(config: Config): Config {
  if (!config.bullmq?.redis) return config;
  const { redis: _secret, ...bullmq } = config.bullmq;
  return { ...config, bullmq };
}

/** The config without its scheduling fields (executor, queue settings, rate limits), as the manifest records it. */
export function withoutScheduling(config: Config): Config {
  const { executor: _e, bullmq: _b, rate_limits: _r, ...data } = config;
  return data;
}

/** A run that ended with units no retry could finish; finished work is kept. */
export class RunIncompleteError extends PersonagenError {
  constructor(message: string) {
    super('llm_error', message);
    this.name = 'RunIncompleteError';
  }
}

/** Users whose flows are in Redis at once: bounds Redis memory however many users a run has. */
const OPEN_USERS = 128;
const POLL_MS = 250;

/**
 * The `bullmq` executor's coordinator: enqueues the run as BullMQ flows (a parent job per user),
 * starts `bullmq.workers` worker processes on this machine, and waits by polling job states and
 * the run store (never QueueEvents, which are trimmed and lossy). Jobs that vanish (a Redis
 * restart without persistence) are enqueued again; their finished artifacts make them no-ops.
 * Ends with an account: throws RunIncompleteError naming what failed, and why.
 */
export async function runBullmq(rt: Runtime, options: BullmqRunOptions = {}): Promise<void> {
  const env = options.env ?? readEnv();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const settings = bullmqSettings(rt.config);
  const url = redisUrlFor(undefined, rt.config, env);
  const connection = redisOptions(url);
  await checkRedis(url);
  const run = await openQueueRun(rt.dir, rt.config);
  const prefix = run.bullmq.queue_prefix;

  const redis = new Redis(connection);
  const errors = throttled(log);
  redis.on('error', (e: Error) => errors(`redis ${shownRedisUrl(url)}: ${e.message} (retrying)`));
  const queues = Object.fromEntries(JOB_KINDS.map((k) => [k, new Queue(queueName(run.run_id, k), { connection, prefix })])) as Record<
    JobKind,
    Queue
  >;
  for (const q of Object.values(queues)) q.on('error', (e: Error) => errors(`queue ${q.name}: ${e.message}`));
  const flows = new FlowProducer({ connection, prefix });
  flows.on('error', (e: Error) => errors(`flows: ${e.message}`));

  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping; finished work is kept (\`personagen resume ${rt.dir}\` continues the run)`);
    stop.abort(
      new PersonagenError('aborted', `stopped by ${sig}; finished work is kept: \`personagen resume ${rt.dir}\` continues the run`),
    );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;

  let local: LocalWorkers | undefined;
  let succeeded = false;
  const stats = statsReader(redis, runKey(run, 'stats'), rt);
  try {
    await redis.del(runKey(run, 'status'));
    await stats.start();
    await prepareQueues(queues, redis, log);
    local = new LocalWorkers(settings.workers, rt.dir, url, rt.config.concurrency, log);
    local.start();
    log(
      `bullmq run ${run.run_id} on ${shownRedisUrl(url)} (prefix ${prefix}): ${settings.workers} local worker(s)` +
        (settings.workers === 0 ? `; start workers with \`personagen worker --dir ${rt.dir}\`` : ''),
    );
    const account = await coordinate(rt, run, queues, flows, { signal, log, local, stats, onProgress: options.onProgress });
    if (account.failures.length > 0) {
      const shown = account.failures.slice(0, 20).map((f) => `  ${f}`);
      throw new RunIncompleteError(
        [
          `run ${run.run_id}: ${account.usersDone} of ${rt.config.users} users done, ${account.usersFailed} failed; ` +
            `${account.fillersDone} of ${account.fillers} filler conversations done, ${account.fillersFailed} failed:`,
          ...shown,
          ...(account.failures.length > shown.length ? [`  ... and ${account.failures.length - shown.length} more`] : []),
          `Each failed unit, with its error and the model's raw answer, is in ${deadLetterPath(rt.dir)}.`,
          `Finished work is kept: \`personagen resume ${rt.dir}\` retries what failed.`,
        ].join('\n'),
      );
    }
    succeeded = true;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await local?.stop(run.bullmq.drain_ms + 15_000);
    await stats.poll().catch(() => undefined);
    if (succeeded) {
      await redis.set(runKey(run, 'status'), 'done', 'EX', 24 * 3600).catch(() => undefined);
      // The run store holds the finished work; the run's queues are no longer needed.
      for (const q of Object.values(queues)) await q.obliterate({ force: true }).catch(() => undefined);
      // A worker that was still closing can recreate a queue's rate-limit key after obliterate.
      await deleteRunKeys(redis, `${prefix}:${run.run_id}-*`).catch(() => undefined);
    }
    await Promise.allSettled([...Object.values(queues).map((q) => q.close()), flows.close()]);
    await redis.quit().catch(() => undefined);
    redis.disconnect();
  }
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new PersonagenError('aborted', 'the run was stopped');
}

/** Deletes the keys matching a pattern, scanning in bounded batches. */
async function deleteRunKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  for (let round = 0; round < 10_000; round++) {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    if (found.length > 0) await redis.del(...found);
    cursor = next;
    if (cursor === '0') return;
  }
}

async function checkRedis(url: string): Promise<void> {
  const probe = new Redis({
    ...redisOptions(url),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 5000,
  });
  let cause: Error | undefined; // the socket's own error ("connect ECONNREFUSED ...") says more than the rejection
  probe.on('error', (e: Error) => (cause ??= e));
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    throw new PersonagenError(
      'not_found',
      `cannot reach Redis at ${shownRedisUrl(url)} (${(cause ?? (error as Error)).message}); start one, or pass --redis URL (or set REDIS_URL)`,
    );
  } finally {
    probe.disconnect();
  }
}

/**
 * Before enqueuing: failed jobs of an earlier attempt are removed so they run again, and when no
 * worker is connected, jobs left active by dead workers are unlocked so the next stalled check
 * hands them back without waiting out a long lock.
 */
async function prepareQueues(queues: Record<JobKind, Queue>, redis: Redis, log: (line: string) => void): Promise<void> {
  let failed = 0;
  for (const q of Object.values(queues)) failed += (await q.clean(0, 1_000_000, 'failed')).length;
  if (failed > 0) log(`retrying ${failed} job(s) that failed in an earlier attempt`);
  const connected = await Promise.all(Object.values(queues).map((q) => q.getWorkersCount()));
  if (connected.some((n) => n > 0)) return;
  let orphans = 0;
  for (const q of Object.values(queues)) {
    for (const job of await q.getActive()) {
      if (job.id) orphans += await redis.del(q.toKey(`${job.id}:lock`));
    }
  }
  if (orphans > 0) log(`${orphans} job(s) were left active by workers that stopped; they go back to the queue`);
}

/** The first missing artifact of a user (profile, preferences, plan, sessions, questions); undefined when all exist. */
async function firstMissing(rt: Runtime, pid: number): Promise<string | undefined> {
  for (const key of [keys.user(pid), keys.preferences(pid), keys.plan(pid)]) if (!(await rt.store.has(key))) return key;
  const plan = await rt.store.get(keys.plan(pid), PlanOutput);
  if (!plan) return keys.plan(pid);
  for (const s of plan.output.sessions) if (!(await rt.store.has(keys.session(pid, s.session_id)))) return keys.session(pid, s.session_id);
  const targets = await targetsFor(rt, pid);
  for (const t of targets) if (!(await rt.store.has(keys.question(pid, t.pref_id)))) return keys.question(pid, t.pref_id);
  return undefined;
}

interface Account {
  usersDone: number;
  usersFailed: number;
  fillers: number;
  fillersDone: number;
  fillersFailed: number;
  failures: string[];
}

async function coordinate(
  rt: Runtime,
  run: QueueRun,
  queues: Record<JobKind, Queue>,
  flows: FlowProducer,
  io: {
    signal: AbortSignal;
    log: (line: string) => void;
    local: LocalWorkers;
    stats: ReturnType<typeof statsReader>;
    onProgress?: ((p: Progress) => void) | undefined;
  },
): Promise<Account> {
  const { config } = rt;
  const total = config.users;
  const opts = jobOptions(config, run);
  const failures: string[] = [];
  const state = new Array<'pending' | 'open' | 'done' | 'failed'>(total).fill('pending');
  const repairs = new Map<number, number>();
  let next = 0;
  const open = new Set<number>();

  const userJob = (pid: number) => jobId('users', { pid });
  async function enqueueUser(pid: number): Promise<void> {
    const id = userJob(pid);
    const found = await queues.users.getJob(id);
    if (found) {
      const s = await found.getState();
      if (s !== 'completed' && s !== 'failed') return; // in progress, from an earlier coordinator
      await found.remove({ removeChildren: true });
    }
    await flows.add(userFlow(config, run, pid));
  }

  const fillers = fillerPoolSize(rt);
  const fillerPending = new Set<number>();
  for (let i = 0; i < fillers; i++) if (!(await rt.store.has(keys.filler(i)))) fillerPending.add(i);
  const fillerJob = (index: number) => ({ name: 'filler', data: { index }, opts: { ...opts, jobId: jobId('filler', { index }) } });
  const addFillers = async (indices: number[]) => {
    for (let i = 0; i < indices.length; i += 500) await queues.filler.addBulk(indices.slice(i, i + 500).map(fillerJob));
  };
  await addFillers([...fillerPending]);
  let fillersFailed = 0;

  const counts = () => ({
    done: state.filter((s) => s === 'done').length,
    failed: state.filter((s) => s === 'failed').length,
  });
  let lastHint = Date.now();
  for (let tick = 0; ; tick++) {
    if (io.signal.aborted) throw io.signal.reason;
    while (open.size < OPEN_USERS && next < total) {
      const pid = next++;
      if ((await firstMissing(rt, pid)) === undefined) {
        state[pid] = 'done';
        continue;
      }
      await enqueueUser(pid);
      state[pid] = 'open';
      open.add(pid);
    }

    const polled = await Promise.all([...open].map(async (pid) => [pid, await queues.users.getJobState(userJob(pid))] as const));
    for (const [pid, s] of polled) {
      if (s === 'completed' || s === 'unknown') {
        const missing = await firstMissing(rt, pid);
        if (missing === undefined) {
          state[pid] = 'done';
          open.delete(pid);
          continue;
        }
        // Completed without its artifacts, or lost (Redis restarted without persistence): again.
        const n = (repairs.get(pid) ?? 0) + 1;
        repairs.set(pid, n);
        if (s === 'completed' && n > 3) {
          state[pid] = 'failed';
          open.delete(pid);
          failures.push(
            `user ${pid}: its job completed ${n} times, yet ${missing} is missing (do the coordinator and every worker run the same version of personagen?)`,
          );
          continue;
        }
        if (s === 'unknown') io.log(`user ${pid}: its jobs are gone from Redis; enqueuing them again`);
        await enqueueUser(pid);
      } else if (s === 'failed') {
        const job = await queues.users.getJob(userJob(pid));
        state[pid] = 'failed';
        open.delete(pid);
        failures.push(`user ${pid}: ${job?.failedReason ?? 'failed'}`);
      }
    }

    if (fillerPending.size > 0) {
      for (const i of [...fillerPending].slice(0, 2000)) if (await rt.store.has(keys.filler(i))) fillerPending.delete(i);
      if (tick % 8 === 0) {
        const lost: number[] = [];
        for (const i of [...fillerPending].slice(0, 2000)) {
          const s = await queues.filler.getJobState(jobId('filler', { index: i }));
          if (s === 'failed') {
            const job = await queues.filler.getJob(jobId('filler', { index: i }));
            fillerPending.delete(i);
            fillersFailed++;
            failures.push(`filler ${i}: ${job?.failedReason ?? 'failed'}`);
          } else if (s === 'unknown' || s === 'completed') {
            if (!(await rt.store.has(keys.filler(i)))) lost.push(i);
          }
        }
        if (lost.length > 0) {
          io.log(`${lost.length} filler job(s) are gone from Redis; enqueuing them again`);
          await addFillers(lost);
        }
      }
    }

    if (tick % 4 === 0) await io.stats.poll().catch(() => undefined);
    const c = counts();
    io.onProgress?.({ phase: 'users', done: c.done + c.failed, total });
    if (c.done + c.failed === total && fillerPending.size === 0) {
      return { usersDone: c.done, usersFailed: c.failed, fillers, fillersDone: fillers - fillersFailed, fillersFailed, failures };
    }

    io.local.check();
    if (Date.now() - lastHint > 30_000) {
      lastHint = Date.now();
      if (io.local.alive === 0 && (await queues.users.getWorkersCount()) === 0 && (await queues.sessions.getWorkersCount()) === 0) {
        io.log(`no worker is connected to run ${run.run_id}; start one with \`personagen worker --dir ${rt.dir}\``);
      }
    }
    await sleep(POLL_MS, undefined, { signal: io.signal }).catch(() => undefined);
  }
}

/** Reads the workers' model-call counters in Redis and adds what is new to this process's ledger. */
function statsReader(redis: Redis, key: string, rt: Runtime) {
  let seen = { calls: 0, hits: 0 };
  const read = async () => {
    const h = await redis.hgetall(key);
    return { calls: Number(h.model_calls ?? 0), hits: Number(h.cache_hits ?? 0) };
  };
  return {
    async start() {
      seen = await read();
    },
    async poll() {
      const now = await read();
      const calls = Math.max(0, now.calls - seen.calls);
      const hits = Math.max(0, now.hits - seen.hits);
      seen = now;
      if (calls || hits) {
        rt.session.merge([
          {
            stage: 'all',
            provider: 'workers',
            model: 'all',
            calls,
            cacheHits: hits,
            inputTokens: 0,
            outputTokens: 0,
            cacheReadTokens: 0,
            cacheWriteTokens: 0,
          },
        ]);
      }
    },
  };
}

const BIN = fileURLToPath(new URL('../../bin/personagen.js', import.meta.url));
const MAX_RESTARTS = 3;

/**
 * Worker processes on this machine, each `personagen worker --dir DIR`. The Redis URL goes by
 * environment (never argv, which `ps` shows). One that dies is started again, a few times.
 */
class LocalWorkers {
  private readonly procs: Array<{ proc: ChildProcess | undefined; restarts: number; exited: boolean }> = [];
  private stopping = false;
  private failure: Error | undefined;

  constructor(
    private readonly count: number,
    private readonly dir: string,
    private readonly redisUrl: string,
    private readonly concurrency: number,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    for (let i = 0; i < this.count; i++) {
      this.procs.push({ proc: undefined, restarts: 0, exited: true });
      this.spawn(i);
    }
  }

  get alive(): number {
    return this.procs.filter((p) => !p.exited).length;
  }

  /** Throws when every local worker is gone for good (and there were some). */
  check(): void {
    if (this.failure) throw this.failure;
  }

  private spawn(slot: number): void {
    const entry = this.procs[slot]!;
    const proc = spawn(process.execPath, [BIN, 'worker', '--dir', this.dir, '--concurrency', String(this.concurrency)], {
      env: { ...process.env, REDIS_URL: this.redisUrl },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    entry.proc = proc;
    entry.exited = false;
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.log(`[worker ${slot + 1}] ${line}`);
    };
    proc.stdout?.on('data', forward);
    proc.stderr?.on('data', forward);
    proc.on('exit', (code, sig) => {
      entry.exited = true;
      if (this.stopping) return;
      if (entry.restarts < MAX_RESTARTS) {
        entry.restarts++;
        this.log(`[worker ${slot + 1}] exited (${sig ?? `code ${code}`}); starting it again`);
        setTimeout(() => {
          if (!this.stopping) this.spawn(slot);
        }, 500);
      } else {
        this.log(`[worker ${slot + 1}] exited (${sig ?? `code ${code}`}) ${MAX_RESTARTS + 1} times; not starting it again`);
        if (this.procs.every((p) => p.exited && p.restarts >= MAX_RESTARTS)) {
          this.failure = new PersonagenError('internal', 'every local worker exited; see the lines above, then `personagen resume DIR`');
        }
      }
    });
  }

  /** SIGTERM to each worker (they drain), then waits; a worker still there after `timeoutMs` gets SIGKILL. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const running = this.procs.filter((p) => p.proc && !p.exited).map((p) => p.proc!);
    const exits = running.map(
      (p) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r()))),
    );
    for (const p of running) p.kill('SIGTERM');
    const all = Promise.all(exits);
    if (!(await within(all, timeoutMs))) {
      for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      await within(all, 5000);
    }
  }
}
