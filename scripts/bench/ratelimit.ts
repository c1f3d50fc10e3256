/**
 * Rate-limit utilization: runs scripts/ratelimit-bench.ts (the shared Redis limiter and the 429
 * policy of the bullmq workers, against scripts/fake-model-server.ts) with a window of our choice,
 * and reads its table.
 */
import { join } from 'node:path';
import { REDIS_URL } from './generate-runs.js';
import { runChild, tail } from './measure.js';
import { type Row, notAvailable, num } from './table.js';

export interface RateLimitOptions {
  root: string;
  rpm: number;
  seconds: number;
  latencyMs: number;
}

/**
 * The row is the scenario with configured limits (the shared limiter). The other scenario (no
 * configured limits: a burst, then 429s park the queue) goes to a note: in a window shorter than
 * the server's sliding minute, its requests per minute would count a minute's allowance spent in a burst.
 */
export async function benchRateLimit(options: RateLimitOptions): Promise<{ rows: Row[]; notes: string[] }> {
  const script = join(options.root, 'scripts', 'ratelimit-bench.ts');
  const args = [
    '--import',
    'tsx',
    script,
    '--rpm',
    String(options.rpm),
    '--seconds',
    String(options.seconds),
    '--latency',
    String(options.latencyMs),
  ];
  // Its two scenarios last `seconds` and max(10, seconds / 2), each plus 2 s of drain; bounded well above that.
  const timeoutMs = (options.seconds * 2 + 120) * 1000;
  const child = await runChild(process.execPath, args, { cwd: options.root, timeoutMs, env: { ...process.env, REDIS_URL } });
  const what = `${options.rpm} RPM limit, ${options.latencyMs} ms latency`;
  const fail = (reason: string) => ({ rows: [notAvailable('rate-limit utilization', what, reason)], notes: [] });
  if (child.timedOut) return fail('scripts/ratelimit-bench.ts timed out');
  if (child.code !== 0) return fail(`scripts/ratelimit-bench.ts exit ${child.code}: ${tail(child)}`);
  const header = child.stdout.split('\n').find((l) => l.startsWith('| scenario'));
  const lines = child.stdout.split('\n').filter((l) => l.startsWith('|') && l !== header && !/^\|\s*-/.test(l));
  const setup = child.stdout.split('\n')[0] ?? '';
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const line of lines) {
    const [scenario, limit, windowS, achieved, , rejected] = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    const limitN = Number(limit);
    const achievedN = Number(achieved);
    if (!scenario || !Number.isFinite(limitN) || !Number.isFinite(achievedN)) continue;
    if (!scenario.startsWith('shared limiter')) {
      const accepted = Math.round((achievedN * Number(windowS)) / 60);
      notes.push(
        `Rate limit, scenario "${scenario}": ${num(accepted)} requests accepted and ${rejected} answered 429 in a ${windowS} s window (limit ${num(limitN)} per sliding minute).`,
      );
      continue;
    }
    rows.push({
      bench: 'rate-limit utilization',
      case: `${scenario}; ${setup.replace(/, limit counted.*$/, '')}; ${windowS} s window`,
      result: `${num(achievedN, 1)} requests/min achieved, ${rejected} answered 429`,
      reference: `configured limit ${num(limitN)} RPM`,
      ratio: `${num(achievedN / limitN, 3)}`,
      runs: '1',
      figures: {
        scenario,
        configured_rpm: limitN,
        window_s: Number(windowS),
        achieved_rpm: achievedN,
        utilization: Number((achievedN / limitN).toFixed(4)),
        rejected_429: Number(rejected),
      },
    });
  }
  if (rows.length === 0) return fail('scripts/ratelimit-bench.ts printed no row for its shared-limiter scenario');
  return { rows, notes };
}
