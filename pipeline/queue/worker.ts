import { throttled, within } from '../core/time.js';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ALL_PROMPTS } from '../../prompts/index.js';
import { type ConfigInput, type Env, LLM_STAGES, loadConfig, readEnv, stageProvider } from '../config/index.js';
import { PersonagenError } from '../core/errors.js';
import { readIfExists } from '../core/files.js';
import { tokenizerFor } from '../core/tokenizer.js';
import { STORE_DIR, type Runtime, createRuntime } from '../engine/runtime.js';
import { createAnthropicProvider } from '../llm/anthropic.js';
import { createOfflineProvider } from '../llm/offline.js';
import { createOpenAIProvider } from '../llm/openai.js';
import type { Provider, ProviderName } from '../llm/types.js';
import { RateLimiter, limitProvider } from './limiter.js';
import { type ProcessorContext, processorFor } from './processors.js';
import {
  JOB_KINDS,
  type JobKind,
  type QueueRun,
  lockMs,
  queueName,
  readQueueRun,
  redisOptions,
  runKey,
  shownRedisUrl,
} from './settings.js';

export interface StartWorkerOptions {
  /** The run's directory (its run store is DIR/.run), on a file system every worker shares. */
  dir: string;
  redisUrl: string;
  /** Jobs in flight per queue in this process; defaults to the run's `concurrency`. */
  concurrency?: number | undefined;
  /** Queues to serve; all of them by default. */
  queues?: readonly JobKind[] | undefined;
  /** Stop by itself once the run's coordinator has marked the run done. */
  exitWhenDone?: boolean | undefined;
  env?: Env | undefined;
  log?: ((line: string) => void) | undefined;
  /** Replace providers before they are rate limited (tests point them at a local server). */
  providers?: Partial<Record<ProviderName, Provider>> | undefined;
}

export interface WorkerHandle {
  runId: string;
  /** Jobs this process finished (completed or failed for good). */
  readonly processed: number;
  /** Drains (bounded by `bullmq.drain_ms`), then closes every connection; safe to call twice. */
  close(): Promise<void>;
  /** Settles when the worker has closed, whoever closed it. */
  closed: Promise<void>;
}

/** Providers for workers: no retries inside the SDKs, the queue retries (and parks on 429) instead. */
function baseProviders(
  config: Runtime['config'],
  env: Env,
  given: StartWorkerOptions['providers'],
): Partial<Record<ProviderName, Provider>> {
  const tokenizer = tokenizerFor(config.tokenizer);
  const needed = new Set(LLM_STAGES.map((s) => stageProvider(config, s)));
  const out: Partial<Record<ProviderName, Provider>> = { ...given };
  out.offline ??= createOfflineProvider({ prompts: ALL_PROMPTS, tokenizer });
  if (needed.has('anthropic') && !out.anthropic) {
    out.anthropic = createAnthropicProvider({
      apiKey: env.ANTHROPIC_API_KEY ?? '',
      ...(env.ANTHROPIC_BASE_URL ? { baseURL: env.ANTHROPIC_BASE_URL } : {}),
      maxRetries: 0,
      timeoutMs: config.llm.timeout_ms,
    });
  }
  if (needed.has('openai') && !out.openai) {
    const baseURL = config.llm.base_url ?? env.OPENAI_BASE_URL;
    out.openai = createOpenAIProvider({
      ...(env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY } : {}),
      ...(baseURL ? { baseURL } : {}),
      maxRetries: 0,
      timeoutMs: config.llm.timeout_ms,
    });
  }
  return out;
}

/** Loads the run's config (DIR/.run/config.json) with the scheduling settings of its coordinator. */
export async function loadRunConfig(dir: string, env: Env): Promise<{ config: Runtime['config']; run: QueueRun }> {
  const text = await readIfExists(join(dir, STORE_DIR, 'config.json'));
  if (text === undefined)
    throw new PersonagenError('not_found', `${dir} holds no run (no ${STORE_DIR}/config.json); start it with \`personagen generate\``);
  const run = await readQueueRun(dir);
  if (!run) {
    throw new PersonagenError(
      'not_found',
      `${dir} holds no queued run (no ${STORE_DIR}/queue.json); start it with \`personagen generate --executor bullmq\``,
    );
  }
  const stored = JSON.parse(text) as ConfigInput;
  const { config } = await loadConfig({
    overrides: { ...stored, executor: 'bullmq', bullmq: run.bullmq, rate_limits: run.rate_limits, concurrency: run.concurrency, out: dir },
    env,
  });
  return { config, run };
}

/**
 * A worker process's work: one BullMQ Worker per queue of the run, processing units against the
 * shared run store; model calls go through the shared rate limiter.
 */
export async function startWorker(options: StartWorkerOptions): Promise<WorkerHandle> {
  const env = options.env ?? readEnv();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { config, run } = await loadRunConfig(options.dir, env);
  const concurrency = options.concurrency ?? run.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new PersonagenError('bad_config', `Expected \`concurrency\` to be an integer >= 1, got ${concurrency}`);
  const kinds = options.queues ?? JOB_KINDS;
  const connection = redisOptions(options.redisUrl);
  const prefix = run.bullmq.queue_prefix;
  const lock = lockMs(config);
  const fallbackBlockMs = run.bullmq.backoff_ms;

  const limiterRedis = new Redis({ ...connection, lazyConnect: false });
  const errors = throttled(log);
  limiterRedis.on('error', (e: Error) => errors(`redis ${shownRedisUrl(options.redisUrl)}: ${e.message}`));
  const limiter = new RateLimiter(limiterRedis, prefix, run.rate_limits);
  const tokenizer = tokenizerFor(config.tokenizer);
  const providers: Partial<Record<ProviderName, Provider>> = {};
  for (const [name, provider] of Object.entries(baseProviders(config, env, options.providers)) as Array<[ProviderName, Provider]>) {
    providers[name] = limitProvider(provider, {
      limiter,
      tokenizer,
      concurrency: run.bullmq.provider_concurrency[name] ?? concurrency,
      fallbackBlockMs,
    });
  }
  const rt = createRuntime(config, options.dir, { env, providers });

  const queues = Object.fromEntries(JOB_KINDS.map((k) => [k, new Queue(queueName(run.run_id, k), { connection, prefix })])) as Record<
    JobKind,
    Queue
  >;
  for (const q of Object.values(queues)) q.on('error', (e: Error) => errors(`queue ${q.name}: ${e.message}`));
  let draining = false;
  const ctx: ProcessorContext = { rt, run, queues, draining: () => draining, log, fallbackBlockMs };

  let processed = 0;
  const stats = usagePusher(limiterRedis, runKey(run, 'stats'), rt);
  const name = `${hostname()}:${process.pid}`;
  const workers = kinds.map((kind) => {
    const w = new Worker(queueName(run.run_id, kind), processorFor(kind, ctx), {
      connection,
      prefix,
      name,
      concurrency,
      lockDuration: lock,
      // Checks for stalled jobs (a dead worker's) as often as a lock can expire, at most every 30 s.
      stalledInterval: Math.min(30_000, lock),
      // A worker killed twice under the same job is no reason to give the job up.
      maxStalledCount: 3,
      // queue.rateLimit() parks a queue only where a limiter is set; this one never limits by itself.
      limiter: { max: 1_000_000, duration: 1000 },
    });
    w.on('error', (e: Error) => errors(`worker ${kind}: ${e.message}`));
    w.on('completed', () => {
      processed++;
      stats.soon();
    });
    w.on('failed', (_job, _e, _prev) => {
      stats.soon();
    });
    return w;
  });

  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));

  const doneWatch = new AbortController();
  const watchDone = () => {
    void (async () => {
      while (!doneWatch.signal.aborted) {
        const status = await limiterRedis.get(runKey(run, 'status')).catch(() => null);
        if (status === 'done') {
          log(`run ${run.run_id} is done; worker stops`);
          void handle.close();
          return;
        }
        await sleep(2000, undefined, { signal: doneWatch.signal }).catch(() => undefined);
      }
    })();
  };

  // Ordered cleanups, each guarded: stop taking jobs and let running ones finish (bounded), hand
  // back what is still running, then close the connections, last of all the limiter's.
  async function shutdown(): Promise<void> {
    draining = true;
    doneWatch.abort();
    const allClosed = Promise.allSettled(workers.map((w) => w.close()));
    const finished = await within(allClosed, run.bullmq.drain_ms);
    if (!finished) {
      log(`drain: jobs still running after ${run.bullmq.drain_ms} ms; handing them back to the queue`);
      for (const w of workers) guard(() => w.cancelAllJobs('shutdown'), log);
      if (!(await within(allClosed, 10_000))) log('drain: some jobs did not stop; their locks expire and another worker takes them');
    }
    await guardAsync(() => stats.flush(), log);
    for (const q of Object.values(queues)) await guardAsync(() => within(q.close(), 5000), log);
    await guardAsync(() => within(limiterRedis.quit(), 5000), log);
    limiterRedis.disconnect();
  }

  const handle: WorkerHandle = {
    runId: run.run_id,
    get processed() {
      return processed;
    },
    close() {
      closing ??= shutdown().finally(resolveClosed);
      return closing;
    },
    closed,
  };
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  if (options.exitWhenDone) watchDone();
  return handle;
}

function guard(fn: () => void, log: (line: string) => void): void {
  try {
    fn();
  } catch (error) {
    log(`cleanup: ${(error as Error).message}`);
  }
}

async function guardAsync(fn: () => Promise<unknown>, log: (line: string) => void): Promise<void> {
  try {
    await fn();
  } catch (error) {
    log(`cleanup: ${(error as Error).message}`);
  }
}

/**
 * Adds this process's model calls and cache hits to the run's counters in Redis (read by the
 * coordinator for its summary), at most once a second.
 */
function usagePusher(redis: Redis, key: string, rt: Runtime): { soon(): void; flush(): Promise<void> } {
  let pushed = { calls: 0, hits: 0 };
  let timer: NodeJS.Timeout | undefined;
  async function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const rows = rt.session.snapshot();
    const now = { calls: rows.reduce((n, r) => n + r.calls, 0), hits: rows.reduce((n, r) => n + r.cacheHits, 0) };
    const delta = { calls: now.calls - pushed.calls, hits: now.hits - pushed.hits };
    if (delta.calls === 0 && delta.hits === 0) return;
    await redis
      .multi()
      .hincrby(key, 'model_calls', delta.calls)
      .hincrby(key, 'cache_hits', delta.hits)
      .expire(key, 7 * 24 * 3600)
      .exec();
    pushed = now;
  }
  return {
    soon() {
      timer ??= setTimeout(() => void flush().catch(() => undefined), 1000);
    },
    flush,
  };
}
