import { resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { readEnv } from '../config/index.js';
import { JOB_KINDS, type JobKind, type WorkerHandle, redisUrlFor, shownRedisUrl, startWorker } from '../queue/index.js';

const positiveInt = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`Expected \`${name}\` to be an integer >= 1, got ${value}`);
  return Number(value);
};

const queueList = (value: string): JobKind[] => {
  const kinds = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = kinds.find((k) => !(JOB_KINDS as readonly string[]).includes(k));
  if (bad !== undefined || kinds.length === 0) {
    throw new InvalidArgumentError(`Expected \`queues\` to list some of ${JOB_KINDS.join(', ')}, got ${bad ?? value}`);
  }
  return kinds as JobKind[];
};

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      'Process the queued jobs of a run started with `generate --executor bullmq`, on any machine sharing its Redis and directory',
    )
    .requiredOption('-d, --dir <dir>', 'the run directory (holding .run/), on a file system every worker shares')
    .option('--redis <url>', 'Redis URL (default: REDIS_URL, else redis://127.0.0.1:6379)')
    .option('--concurrency <n>', "jobs in flight per queue in this process (default: the run's concurrency)", positiveInt('concurrency'))
    .option('--queues <list>', `queues to serve, comma-separated (default: all of ${JOB_KINDS.join(',')})`, queueList)
    .option('--exit-when-done', 'stop once the run is done')
    .action(async (o: { dir: string; redis?: string; concurrency?: number; queues?: JobKind[]; exitWhenDone?: boolean }) => {
      const redisUrl = redisUrlFor(o.redis, undefined, readEnv());
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const started: { handle?: WorkerHandle } = {};
      let stopping: string | undefined;
      let signals = 0;
      const stop = (why: string) => {
        if (stopping) return;
        stopping = why;
        if (started.handle) {
          log(`worker ${process.pid}: ${why}; finishing running jobs`);
          void started.handle.close();
        }
      };
      const onSignal = (sig: NodeJS.Signals) => {
        if (++signals > 1) process.exit(130); // a second signal: stop now; the locks expire and other workers take the jobs
        stop(sig);
      };
      // Installed before the (slow) start, so a stop asked for meanwhile is not lost.
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      // Started by a coordinator: stop with it, even when it was killed, or died while this started.
      if (process.send) {
        if (!process.connected) stop('coordinator gone');
        process.channel?.unref();
        process.once('disconnect', () => stop('coordinator gone'));
      }
      const handle = await startWorker({
        dir: resolve(process.cwd(), o.dir),
        redisUrl,
        concurrency: o.concurrency,
        queues: o.queues,
        exitWhenDone: o.exitWhenDone,
        log,
      });
      started.handle = handle;
      log(`worker ${process.pid}: run ${handle.runId} on ${shownRedisUrl(redisUrl)}, queues ${(o.queues ?? JOB_KINDS).join(',')}`);
      if (stopping) {
        log(`worker ${process.pid}: ${stopping}; stopping`);
        void handle.close();
      }
      await handle.closed;
      log(`worker ${process.pid}: stopped after ${handle.processed} jobs`);
    });
}
