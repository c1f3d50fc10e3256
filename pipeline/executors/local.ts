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
import type { Session } from '../schemas/records.js';
import type { FillerConversation } from '../stages/histories.js';
import type { QuestionStageOutput } from '../stages/questions.js';

export interface Progress {
  phase: string;
  done: number;
  total: number;
}

/** What one user's units made, handed to `onUser` when the last of them is done. */
export interface UserUnits {
  sessions: Session[];
  questions: QuestionStageOutput[];
}

/**
 * Runs the filler pool and the units of the given users in this process, with bounded concurrency
 * (`config.concurrency` units at a time, half as many users in flight), and returns the filler pool.
 * Each user's units run in dependency order: profile, preferences, plan, sessions, targets, questions.
 */
export async function runUnits(
  rt: Runtime,
  pids: readonly number[],
  options: { signal?: AbortSignal | undefined; onUser?: (pid: number, made: UserUnits) => void } = {},
): Promise<FillerConversation[]> {
  const { config } = rt;
  const limit = pLimit(config.concurrency);
  const signal = options.signal;

  const fillers = Array.from({ length: fillerPoolSize(rt) }, (_, i) => limit(() => fillerUnit(rt, i, signal)));

  // Users in flight are bounded too, so memory stays flat however many users there are.
  const userLimit = pLimit(Math.max(1, Math.ceil(config.concurrency / 2)));
  const users = pids.map((pid) =>
    userLimit(async () => {
      await limit(() => profileUnit(rt, pid, signal));
      await limit(() => preferencesUnit(rt, pid, signal));
      const plan = await planUnit(rt, pid);
      const sessions = await Promise.all(plan.sessions.map((s) => limit(() => sessionUnit(rt, pid, s, signal))));
      const targets = await targetsFor(rt, pid);
      const questions = await Promise.all(targets.map((t) => limit(() => questionUnit(rt, pid, t, signal))));
      options.onUser?.(pid, { sessions, questions });
    }),
  );
  const [pool] = await Promise.all([Promise.all(fillers), Promise.all(users)]);
  return pool;
}

/**
 * The local executor: runs the stage graph in this process with bounded concurrency. Each unit
 * stores its artifact as soon as it is done, so a rerun skips everything already made.
 */
export async function runLocal(
  rt: Runtime,
  options: { signal?: AbortSignal | undefined; onProgress?: (p: Progress) => void } = {},
): Promise<void> {
  let done = 0;
  const total = rt.config.users;
  const report = () => options.onProgress?.({ phase: 'users', done, total });
  const pids = Array.from({ length: total }, (_, pid) => pid);
  const running = runUnits(rt, pids, {
    signal: options.signal,
    onUser: () => {
      done++;
      report();
    },
  });
  report();
  await running;
}
