/**
 * Queue overhead: BullMQ's bare throughput (one Queue, one Worker, jobs that do nothing) on the
 * local Redis, the reference for the jobs per second our bullmq executor achieves with the offline
 * provider (whose model calls take no time: what is left is stage work, the run store and the queue).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import { dropPrefix } from './generate-runs.js';
import { median, repeat } from './measure.js';

export interface BareThroughput {
  jobsPerSecond: number;
  runs: number;
  jobs: number;
  concurrency: number;
}

async function bareOnce(jobs: number, concurrency: number, timeoutMs: number): Promise<number> {
  const prefix = `pgbench-${randomBytes(4).toString('hex')}`;
  const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
  const queue = new Queue('bare', { connection, prefix });
  let worker: Worker | undefined;
  try {
    // The executor's options for completed jobs, so Redis does the same trimming work.
    const opts = { removeOnComplete: { age: 24 * 3600, count: 2000 }, removeOnFail: false, attempts: 1 };
    for (let i = 0; i < jobs; i += 1000) {
      await queue.addBulk(Array.from({ length: Math.min(1000, jobs - i) }, (_, k) => ({ name: 'noop', data: { i: i + k }, opts })));
    }
    let done = 0;
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((r) => (finish = r));
    const started = performance.now();
    worker = new Worker('bare', async () => undefined, { connection, prefix, concurrency });
    worker.on('error', () => undefined);
    worker.on('completed', () => {
      if (++done >= jobs) finish();
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
    await Promise.race([finished, timeout]);
    clearTimeout(timer);
    const ms = performance.now() - started;
    if (done < jobs) throw new Error(`only ${done} of ${jobs} empty jobs finished in ${Math.round(timeoutMs / 1000)} s`);
    return (jobs / ms) * 1000;
  } finally {
    await worker?.close(true).catch(() => undefined);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close().catch(() => undefined);
    await dropPrefix(prefix).catch(() => 0);
  }
}

export async function bareBullmq(options: {
  jobs: number;
  concurrency: number;
  budgetMs: number;
  maxRuns: number;
}): Promise<BareThroughput> {
  const rates = await repeat(() => bareOnce(options.jobs, options.concurrency, 60_000), {
    min: 3,
    max: options.maxRuns,
    budgetMs: options.budgetMs,
  });
  return { jobsPerSecond: median(rates), runs: rates.length, jobs: options.jobs, concurrency: options.concurrency };
}
