/**
 * Measuring helpers for the benchmark: medians, repetitions bounded by count and time, and child
 * processes whose wall time and peak memory are recorded.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface RepeatOptions {
  /** Runs at least this many times, whatever the time. @default 1 */
  min?: number;
  /** Runs at most this many times. */
  max: number;
  /** Starts another run only if the runs so far plus one more (at the slowest pace seen) fit in this many ms. */
  budgetMs: number;
}

/** Runs `once` repeatedly, within a count and a time budget; returns every result in order. */
export async function repeat<T>(once: (index: number) => Promise<T>, options: RepeatOptions): Promise<T[]> {
  const results: T[] = [];
  const started = performance.now();
  let slowest = 0;
  for (let i = 0; i < options.max; i++) {
    const spent = performance.now() - started;
    if (i >= (options.min ?? 1) && spent + slowest > options.budgetMs) break;
    const t0 = performance.now();
    results.push(await once(i));
    slowest = Math.max(slowest, performance.now() - t0);
  }
  return results;
}

/** Times a synchronous function in ms. */
export function timeSync<T>(fn: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  wallMs: number;
  stdout: string;
  /** stderr lines with the ms (since the start) at which each arrived. */
  stderr: Array<{ atMs: number; line: string }>;
  /** Largest single process of the tree, from `/usr/bin/time -f %M` (the kernel's ru_maxrss), KB. */
  maxProcessKb: number | undefined;
  /** Sum over every process of the tree of its own peak (VmHWM in /proc/PID/status), KB: an upper bound of the tree's peak. */
  treeHwmKb: number;
  /** Largest sum of the tree's current RSS (VmRSS) seen in one sample, KB: a lower bound of the tree's peak. */
  treeRssSampledKb: number;
  /** Processes seen in the tree (the time wrapper excluded). */
  processes: number;
}

const TIME_BIN = '/usr/bin/time';
const TIME_MARK = '__bench_peak_rss_kb__';

export const hasGnuTime = (): boolean => existsSync(TIME_BIN);

async function parentOf(pid: string): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return undefined;
  }
}

async function descendants(root: number): Promise<number[]> {
  const parent = new Map<number, number>();
  const entries = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        const ppid = await parentOf(e);
        if (ppid !== undefined) parent.set(Number(e), ppid);
      }),
  );
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parent) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const out: number[] = [];
  const stack = [root];
  for (let guard = 0; stack.length > 0 && guard < 10_000; guard++) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

async function memoryOf(pid: number): Promise<{ hwm: number; rss: number } | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { hwm: field('VmHWM'), rss: field('VmRSS') };
  } catch {
    return undefined;
  }
}

export interface RunChildOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** How often /proc is sampled (peaks are the kernel's VmHWM, so a sample only has to see each process once). @default 500 */
  sampleMs?: number;
}

/**
 * Runs a command under `/usr/bin/time -f %M` (when present), sampling the memory of its whole
 * process tree from /proc until it exits. Killed (its process group) after `timeoutMs`.
 */
export async function runChild(command: string, args: readonly string[], options: RunChildOptions): Promise<ChildRun> {
  const timed = hasGnuTime();
  const [bin, argv] = timed ? [TIME_BIN, ['-f', `${TIME_MARK} %M`, command, ...args]] : [command, [...args]];
  const started = performance.now();
  const child = spawn(bin, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const rootPid = child.pid!;
  let stdout = '';
  const stderr: ChildRun['stderr'] = [];
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => {
    const atMs = performance.now() - started;
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) stderr.push({ atMs, line });
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );

  const hwm = new Map<number, number>();
  let rssPeak = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const tree = (await descendants(rootPid)).filter((pid) => !timed || pid !== rootPid);
      let rss = 0;
      for (const pid of tree) {
        const m = await memoryOf(pid);
        if (!m) continue;
        hwm.set(pid, Math.max(hwm.get(pid) ?? 0, m.hwm));
        rss += m.rss;
      }
      rssPeak = Math.max(rssPeak, rss);
      await sleep(options.sampleMs ?? 500);
    }
  })();

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-rootPid, 'SIGTERM');
    } catch {
      // already gone
    }
    setTimeout(() => {
      try {
        process.kill(-rootPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 10_000).unref();
  }, options.timeoutMs);
  const { code, signal } = await exited;
  clearTimeout(timer);
  const wallMs = performance.now() - started;
  done = true;
  await sampler;
  if (partial) stderr.push({ atMs: wallMs, line: partial });

  let maxProcessKb: number | undefined;
  if (timed) {
    const mark = stderr.findLastIndex((l) => l.line.startsWith(TIME_MARK));
    if (mark >= 0) {
      maxProcessKb = Number(stderr[mark]!.line.slice(TIME_MARK.length).trim());
      stderr.splice(mark, 1);
    }
  }
  return {
    code,
    signal,
    timedOut,
    wallMs,
    stdout,
    stderr,
    maxProcessKb,
    treeHwmKb: [...hwm.values()].reduce((a, b) => a + b, 0),
    treeRssSampledKb: rssPeak,
    processes: hwm.size,
  };
}

/** The last lines of a child's stderr, for a failure's reason. */
export function tail(run: ChildRun, lines = 3): string {
  return run.stderr
    .map((l) => l.line.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(' / ');
}
