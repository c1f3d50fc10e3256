/**
 * How close the shared rate limiter gets to a provider's requests-per-minute limit without being
 * refused. Against scripts/fake-model-server.ts (fixed latency, 429 + retry-after above its RPM
 * limit, counted in a sliding minute), two worker "processes" (each with its own Redis connections,
 * limiter and BullMQ Worker) drain a queue of model calls through the same code the `bullmq`
 * executor uses: limitProvider (pacing through Redis) and the processors' 429 policy (park the
 * queue for retry-after). A second, shorter scenario runs without configured limits, so only the
 * 429 parking holds the workers back.
 *
 *   node --import tsx scripts/ratelimit-bench.ts [--rpm 300] [--seconds 60] [--latency 250]
 *
 * Needs Redis at REDIS_URL or 127.0.0.1:6379; uses a key prefix of its own and removes it after.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { readEnv } from '../pipeline/config/index.js';
import { o200k } from '../pipeline/core/tokenizer.js';
import { createOpenAIProvider } from '../pipeline/llm/openai.js';
import type { LlmRequest } from '../pipeline/llm/types.js';
import { RateLimiter, classify, limitProvider, redisOptions, redisUrlFor } from '../pipeline/queue/index.js';
import { startFakeModelServer } from './fake-model-server.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const RPM = flag('rpm', 300);
const SECONDS = flag('seconds', 60);
const LATENCY_MS = flag('latency', 250);
const WORKERS = 2;
const CONCURRENCY = 8;
const MODEL = 'bench-model';

const request: LlmRequest = {
  model: MODEL,
  system: 'You rate how clearly a chat message asks for help. Answer with one JSON object.',
  messages: [{ role: 'user', content: 'Could you look over the cover letter I drafted for the library archivist opening?' }],
  output: { name: 'rating', jsonSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } },
  temperature: 0,
  maxTokens: 64,
  sample: 0,
  task: { promptId: 'bench', promptVersion: 1, input: {} },
};

interface Row {
  scenario: string;
  limit: number;
  seconds: number;
  achieved: number;
  rejected: number;
}

async function scenario(name: string, limited: boolean, seconds: number): Promise<Row> {
  const server = await startFakeModelServer({ rpm: RPM, latencyMs: LATENCY_MS });
  const connection = redisOptions(redisUrlFor(undefined, undefined, readEnv()));
  const prefix = `pgbench-${randomBytes(4).toString('hex')}`;
  const provider = createOpenAIProvider({ baseURL: server.url, maxRetries: 0, timeoutMs: 10_000 });
  const limits = limited ? { [`openai:${MODEL}`]: { rpm: RPM } } : {};
  const producer = new Queue('calls', { connection, prefix });
  // Three times what the limit lets through (and over a minute's worth): the queue never runs dry.
  const jobs = Math.max(2 * RPM, Math.ceil((RPM * seconds * 3) / 60));
  for (let i = 0; i < jobs; i += 500) {
    await producer.addBulk(Array.from({ length: Math.min(500, jobs - i) }, (_, k) => ({ name: 'call', data: { i: i + k } })));
  }

  const parts = Array.from({ length: WORKERS }, () => {
    const redis = new Redis(connection);
    const queue = new Queue('calls', { connection, prefix });
    const model = limitProvider(provider, {
      limiter: new RateLimiter(redis, prefix, limits),
      tokenizer: o200k,
      concurrency: CONCURRENCY,
      fallbackBlockMs: 1000,
    });
    const worker = new Worker(
      'calls',
      async (_job, _token, signal) => {
        try {
          await model.complete(request, { signal });
        } catch (error) {
          // The processors' policy for a 429: park the queue for retry-after, keep the attempt.
          const verdict = classify(error, 1000);
          if (verdict.kind === 'rate_limited') {
            await queue.rateLimit(verdict.ms);
            throw Worker.RateLimitError();
          }
          throw error;
        }
      },
      { connection, prefix, concurrency: CONCURRENCY, limiter: { max: 1_000_000, duration: 1000 } },
    );
    worker.on('error', () => undefined);
    return { redis, queue, worker };
  });

  await sleep(seconds * 1000 + 2000);
  for (const p of parts) p.worker.cancelAllJobs('bench over');
  await Promise.all(parts.map((p) => p.worker.close(true)));
  const stats = server.stats();
  await producer.obliterate({ force: true }).catch(() => undefined);
  const cleanup = new Redis(connection);
  for (const key of await cleanup.keys(`${prefix}:*`)) await cleanup.del(key);
  cleanup.disconnect();
  await Promise.all(parts.map((p) => p.queue.close()));
  await producer.close();
  for (const p of parts) p.redis.disconnect();
  await server.close();

  // The measured window starts at the first request and lasts `seconds`.
  const t0 = Math.min(...stats.accepted, ...stats.rejected);
  const inWindow = (t: number) => t >= t0 && t < t0 + seconds * 1000;
  return {
    scenario: name,
    limit: RPM,
    seconds,
    achieved: (stats.accepted.filter(inWindow).length * 60) / seconds,
    rejected: stats.rejected.filter(inWindow).length,
  };
}

const rows: Row[] = [];
rows.push(await scenario('shared limiter (rate_limits set)', true, SECONDS));
rows.push(await scenario('no limiter: a burst, then 429s park the queue', false, Math.max(10, Math.round(SECONDS / 2))));

const header = ['scenario', 'configured RPM', 'window (s)', 'achieved RPM', 'ratio', '429s'];
const lines = rows.map((r) => [
  r.scenario,
  String(r.limit),
  String(r.seconds),
  r.achieved.toFixed(1),
  (r.achieved / r.limit).toFixed(3),
  String(r.rejected),
]);
const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
process.stdout.write(
  [
    `${WORKERS} workers x concurrency ${CONCURRENCY}, fake server latency ${LATENCY_MS} ms, limit counted in a sliding minute`,
    fmt(header),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...lines.map(fmt),
    '',
  ].join('\n'),
);
