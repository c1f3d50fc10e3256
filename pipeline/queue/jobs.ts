import type { FlowJob, JobsOptions } from 'bullmq';
import { z } from 'zod';
import type { Config } from '../config/index.js';
import { PlannedSession } from '../stages/plan.js';
import { Target } from '../stages/questions.js';
import { keys } from '../store/run-store.js';
import { type JobKind, type QueueRun, queueName } from './settings.js';

/**
 * What a job carries: the keys of its unit and small inputs (a planned session, a question
 * target). Texts stay in the run store; a job's return value is the key of the artifact it made.
 */
export const JobData = {
  filler: z.object({ index: z.number().int().min(0) }),
  profile: z.object({ pid: z.number().int().min(0) }),
  preferences: z.object({ pid: z.number().int().min(0) }),
  plan: z.object({ pid: z.number().int().min(0) }),
  sessions: z.object({ pid: z.number().int().min(0), session: PlannedSession }),
  questions: z.object({ pid: z.number().int().min(0), target: Target }),
  /** The parent of a user's jobs: it adds the sessions, then the questions, as children. */
  users: z.object({ pid: z.number().int().min(0) }),
} satisfies Record<JobKind, z.ZodType>;

export type JobDataOf<K extends JobKind> = z.infer<(typeof JobData)[K]>;

/**
 * A job's id is the key of the artifact its unit makes (`users/3/sessions/u3-p7-reveal`), so adding
 * the same work twice is a no-op while the first job exists, and a redone job finds its artifact.
 */
export function jobId<K extends JobKind>(kind: K, data: JobDataOf<K>): string {
  const d = data as Record<string, unknown>;
  const pid = d.pid as number;
  switch (kind) {
    case 'filler':
      return keys.filler(d.index as number);
    case 'profile':
      return keys.user(pid);
    case 'preferences':
      return keys.preferences(pid);
    case 'plan':
      return keys.plan(pid);
    case 'sessions':
      return keys.session(pid, (d.session as PlannedSession).session_id);
    case 'questions':
      return keys.question(pid, (d.target as Target).pref_id);
    case 'users':
      return `users/${pid}`;
    default:
      throw new Error(`unknown job kind ${String(kind)}`);
  }
}

/** Options every job gets: attempts with exponential backoff and jitter; failed jobs are kept for the account. */
export function jobOptions(config: Config, run: QueueRun): JobsOptions {
  return {
    attempts: config.llm.max_retries + 1,
    backoff: { type: 'exponential', delay: run.bullmq.backoff_ms, jitter: 0.5 },
    // The run store is the record of finished work; Redis keeps a window of it for the dashboard.
    removeOnComplete: { age: 24 * 3600, count: 2000 },
    removeOnFail: false,
  };
}

/** A child's failure releases its parent, which then reports it, instead of leaving it waiting forever. */
export const CHILD_OPTIONS = { ignoreDependencyOnFailure: true } as const satisfies JobsOptions;

/**
 * The flow of one user: profile → preferences → plan as a chain of children (the deepest runs
 * first), under the user's parent job, which then fans out sessions and questions.
 */
export function userFlow(config: Config, run: QueueRun, pid: number): FlowJob {
  const opts = jobOptions(config, run);
  const leaf = (kind: 'profile' | 'preferences' | 'plan') => ({
    name: kind,
    queueName: queueName(run.run_id, kind),
    data: { pid },
    opts: { ...opts, ...CHILD_OPTIONS, jobId: jobId(kind, { pid }) },
  });
  return {
    name: 'users',
    queueName: queueName(run.run_id, 'users'),
    data: { pid },
    // Parents stay after they complete: one small job per user, the run's account on the dashboard.
    opts: { ...opts, removeOnComplete: false, jobId: jobId('users', { pid }) },
    children: [{ ...leaf('plan'), children: [{ ...leaf('preferences'), children: [leaf('profile')] }] }],
  };
}
