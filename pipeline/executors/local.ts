import pLimit from 'p-limit';
import {
  fillerUnit,
  fillerPoolSize,
  planUnit,
  preferencesUnit,
  profileUnit,
  questionUnit,
  sessionUnit,
  targetsFor,
} from '../engine/units.js';
import type { Runtime } from '../engine/runtime.js';

export interface Progress {
  phase: string;
  done: number;
  total: number;
}

/**
 * The local executor: runs the stage graph in this process with bounded concurrency. Each unit
 * stores its artifact as soon as it is done, so a rerun skips everything already made.
 */
export async function runLocal(
  rt: Runtime,
  options: { signal?: AbortSignal | undefined; onProgress?: (p: Progress) => void } = {},
): Promise<void> {
  const { config } = rt;
  const limit = pLimit(config.concurrency);
  const signal = options.signal;
  let done = 0;
  const total = config.users;
  const report = () => options.onProgress?.({ phase: 'users', done, total });

  const fillers = Array.from({ length: fillerPoolSize(rt) }, (_, i) => limit(() => fillerUnit(rt, i, signal)));

  // Users in flight are bounded too, so memory stays flat however many users there are.
  const userLimit = pLimit(Math.max(1, Math.ceil(config.concurrency / 2)));
  const users = Array.from({ length: config.users }, (_, pid) =>
    userLimit(async () => {
      await limit(() => profileUnit(rt, pid, signal));
      await limit(() => preferencesUnit(rt, pid, signal));
      const plan = await planUnit(rt, pid);
      await Promise.all(plan.sessions.map((s) => limit(() => sessionUnit(rt, pid, s, signal))));
      const targets = await targetsFor(rt, pid);
      await Promise.all(targets.map((t) => limit(() => questionUnit(rt, pid, t, signal))));
      done++;
      report();
    }),
  );
  report();
  await Promise.all([...fillers, ...users]);
}
