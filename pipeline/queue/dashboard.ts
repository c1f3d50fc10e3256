import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { PersonagenError } from '../core/errors.js';
import { redisOptions, shownRedisUrl } from './settings.js';

export interface DashboardOptions {
  redisUrl: string;
  /** Key prefix whose queues are shown. @default "personagen" */
  queuePrefix?: string | undefined;
  /** Only the queues of this run id (from DIR/.run/queue.json); every run's by default. */
  runId?: string | undefined;
  /** @default "127.0.0.1" */
  host?: string | undefined;
  /** 0 picks a free port. @default 3000 */
  port?: number | undefined;
  /** How often new queues (a new run) are looked for. @default 10000 */
  refreshMs?: number | undefined;
}

export interface Dashboard {
  url: string;
  /** Names of the queues shown. */
  queues(): string[];
  close(): Promise<void>;
}

/** Queue names under a prefix, found by their meta keys (`<prefix>:<name>:meta`). */
async function findQueues(redis: Redis, prefix: string, runId: string | undefined): Promise<string[]> {
  const names = new Set<string>();
  let cursor = '0';
  for (let round = 0; round < 10_000; round++) {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*:meta`, 'COUNT', 1000);
    for (const key of found) {
      const name = key.slice(prefix.length + 1, -':meta'.length);
      if (!name.includes(':') && (!runId || name.startsWith(`${runId}-`))) names.add(name);
    }
    cursor = next;
    if (cursor === '0') break;
  }
  return [...names].sort();
}

/** bull-board over the run's queues, served on `host:port` (127.0.0.1 unless told otherwise). */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const prefix = options.queuePrefix ?? 'personagen';
  const connection = redisOptions(options.redisUrl);
  const redis = new Redis({ ...connection, lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (error) {
    throw new PersonagenError('not_found', `cannot reach Redis at ${shownRedisUrl(options.redisUrl)} (${(error as Error).message})`);
  }

  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath('/');
  const board = createBullBoard({ queues: [], serverAdapter, options: { uiConfig: { boardTitle: 'personagen' } } });
  const open = new Map<string, Queue>();
  const refresh = async () => {
    const names = await findQueues(redis, prefix, options.runId);
    for (const name of names) {
      if (open.has(name)) continue;
      const q = new Queue(name, { connection, prefix });
      q.on('error', () => undefined);
      open.set(name, q);
      board.addQueue(new BullMQAdapter(q));
    }
    for (const [name, q] of open) {
      if (names.includes(name)) continue;
      board.removeQueue(name);
      open.delete(name);
      await q.close().catch(() => undefined);
    }
  };
  await refresh();
  const timer = setInterval(() => void refresh().catch(() => undefined), options.refreshMs ?? 10_000);
  timer.unref();

  const server: Server = createServer(serverAdapter.getRouter() as Parameters<typeof createServer>[0]);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new PersonagenError('bad_config', `cannot listen on ${host}:${options.port ?? 3000} (${e.code ?? e.message})`)),
    );
    server.listen(options.port ?? 3000, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
    queues: () => [...open.keys()].sort(),
    async close() {
      clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      for (const q of open.values()) await q.close().catch(() => undefined);
      redis.disconnect();
    },
  };
}
