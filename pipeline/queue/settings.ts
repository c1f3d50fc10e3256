import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { type Config, ConfigSchema, type Env } from '../config/index.js';
import { InputError, PersonagenError } from '../core/errors.js';
import { readIfExists, writeFileAtomic } from '../core/files.js';
import { STORE_DIR } from '../engine/runtime.js';

/** The `bullmq` block of the config, with its defaults. */
export const BullmqSettings = ConfigSchema.shape.bullmq.unwrap();
export type BullmqSettings = z.output<typeof BullmqSettings>;
const RateLimits = ConfigSchema.shape.rate_limits.unwrap();
export type RateLimits = z.output<typeof RateLimits>;

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** The queue settings of a config, defaults filled in. */
export function bullmqSettings(config: Config): BullmqSettings {
  return config.bullmq ?? BullmqSettings.parse({});
}

/** The Redis URL to use: a flag, else the config, else REDIS_URL, else the local default. */
export function redisUrlFor(flag: string | undefined, config: Config | undefined, env: Env): string {
  return flag ?? config?.bullmq?.redis ?? env.REDIS_URL ?? DEFAULT_REDIS_URL;
}

/** Connection options of a Redis URL, for ioredis and BullMQ alike. */
export interface RedisConnection {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: Record<string, never>;
  /** null: requests wait for a reconnect instead of failing (BullMQ workers need that). */
  maxRetriesPerRequest: null;
}

/** Connection options for a URL. */
export function redisOptions(url: string): RedisConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PersonagenError('bad_config', `\`bullmq.redis\`: expected a redis:// URL, got ${shownRedisUrl(url)}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new PersonagenError('bad_config', `\`bullmq.redis\`: expected a redis:// or rediss:// URL, got ${shownRedisUrl(url)}`);
  }
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db))
    throw new PersonagenError('bad_config', `\`bullmq.redis\`: expected a database number after the host, got /${db}`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/** A Redis URL fit for a log line: the password masked. */
export function shownRedisUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)([^@/]*:)?[^@/]*@/, (_m, scheme: string, user: string | undefined) => `${scheme}${user ?? ''}***@`);
}

/**
 * How long a worker's lock on a job lasts (renewed every half of it while the worker lives):
 * above the slowest model call, so a long call is never taken for a dead worker's.
 */
export function lockMs(config: Config): number {
  return bullmqSettings(config).lock_ms ?? config.llm.timeout_ms * (config.llm.max_retries + 1);
}

/** The kinds of job, one queue each. */
export const JOB_KINDS = ['filler', 'profile', 'preferences', 'plan', 'sessions', 'questions', 'users'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Queue names carry the run id, so that runs sharing a Redis and a prefix never mix their jobs. */
export function queueName(runId: string, kind: JobKind): string {
  return `${runId}-${kind}`;
}

export const RUN_FILE = 'queue.json';

/**
 * DIR/.run/queue.json: the run's id in Redis and the scheduling settings of its latest coordinator,
 * which every worker of the run reads (the data config stays in config.json). No Redis URL in it.
 */
export const QueueRun = z.object({
  run_id: z.string().regex(/^r[0-9a-f]{8}$/),
  bullmq: BullmqSettings.omit({ redis: true }),
  rate_limits: RateLimits,
  concurrency: z.number().int().min(1),
});
export type QueueRun = z.infer<typeof QueueRun>;

function runFile(dir: string): string {
  return join(dir, STORE_DIR, RUN_FILE);
}

/** Reads DIR/.run/queue.json; undefined when absent. */
export async function readQueueRun(dir: string): Promise<QueueRun | undefined> {
  const path = runFile(dir);
  const text = await readIfExists(path);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError({ file: path }, `invalid JSON (${(error as Error).message})`);
  }
  const parsed = QueueRun.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError({ file: path, field: issue?.path.join('.') }, issue?.message ?? 'invalid');
  }
  return parsed.data;
}

/** Opens the run for a coordinator: keeps its run id (a new one for a new run) and records the current settings. */
export async function openQueueRun(dir: string, config: Config): Promise<QueueRun> {
  const previous = await readQueueRun(dir);
  const { redis: _secret, ...bullmq } = bullmqSettings(config);
  const run: QueueRun = {
    run_id: previous?.run_id ?? `r${randomBytes(4).toString('hex')}`,
    bullmq,
    rate_limits: config.rate_limits ?? {},
    concurrency: config.concurrency,
  };
  await writeFileAtomic(runFile(dir), JSON.stringify(run, null, 2) + '\n');
  return run;
}

/** Redis keys of a run outside its queues (status, counters), under the same prefix. */
export function runKey(run: QueueRun, name: 'status' | 'stats'): string {
  return `${run.bullmq.queue_prefix}:${run.run_id}:${name}`;
}
