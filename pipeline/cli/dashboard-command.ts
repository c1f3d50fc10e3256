import { resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { readEnv } from '../config/index.js';
import { PersonagenError } from '../core/errors.js';
import { readQueueRun, redisUrlFor } from '../queue/index.js';

const port = (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) > 65535)
    throw new InvalidArgumentError(`Expected \`port\` to be an integer from 0 to 65535, got ${value}`);
  return Number(value);
};

export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('Serve bull-board over the queues of runs on Redis (jobs, failures, retries)')
    .option('--redis <url>', 'Redis URL (default: REDIS_URL, else redis://127.0.0.1:6379)')
    .option('--port <n>', 'port to listen on', port, 3000)
    .option('--host <address>', 'address to bind; anything but 127.0.0.1 exposes the queues to the network', '127.0.0.1')
    .option('--queue-prefix <prefix>', 'key prefix of the queues', 'personagen')
    .option('-d, --dir <dir>', 'show only the queues of the run in this directory')
    .action(async (o: { redis?: string; port: number; host: string; queuePrefix: string; dir?: string }) => {
      let runId: string | undefined;
      let queuePrefix = o.queuePrefix;
      if (o.dir) {
        const dir = resolve(process.cwd(), o.dir);
        const run = await readQueueRun(dir);
        if (!run) throw new PersonagenError('not_found', `${dir} holds no queued run (no .run/queue.json)`);
        runId = run.run_id;
        queuePrefix = run.bullmq.queue_prefix;
      }
      // Loaded here, not at the top: express and bull-board would slow every other command's start.
      const { startDashboard } = await import('../queue/dashboard.js');
      const board = await startDashboard({
        redisUrl: redisUrlFor(o.redis, undefined, readEnv()),
        queuePrefix,
        runId,
        host: o.host,
        port: o.port,
      });
      process.stdout.write(`dashboard on ${board.url} (${board.queues().length} queues under ${queuePrefix}; Ctrl-C stops it)\n`);
      await new Promise<void>((r) => {
        process.once('SIGINT', () => r());
        process.once('SIGTERM', () => r());
      });
      await board.close();
    });
}
