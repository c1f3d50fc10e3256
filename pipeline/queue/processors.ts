import { type Job, type Queue, UnrecoverableError, WaitingChildrenError, WaitingError, Worker } from 'bullmq';
import { ZodError } from 'zod';
import { PersonagenError } from '../core/errors.js';
import type { Runtime } from '../engine/runtime.js';
import { fillerUnit, planUnit, preferencesUnit, profileUnit, questionUnit, sessionUnit, targetsFor } from '../engine/units.js';
import { LlmError } from '../llm/types.js';
import { PlanOutput } from '../stages/plan.js';
import { keys } from '../store/run-store.js';
import { appendDeadLetter } from './dead-letter.js';
import { CHILD_OPTIONS, JobData, type JobDataOf, jobId, jobOptions } from './jobs.js';
import { retryAfterMs } from './limiter.js';
import type { JobKind, QueueRun } from './settings.js';

/** What processors of one worker process share. */
export interface ProcessorContext {
  rt: Runtime;
  run: QueueRun;
  /** The run's queues, to add children and to park a queue after a 429. */
  queues: Record<JobKind, Queue>;
  /** True once the worker drains: a job cut short then goes back to its queue instead of failing. */
  draining: () => boolean;
  log: (line: string) => void;
  /** Pause after a 429 that names no delay. */
  fallbackBlockMs: number;
}

/** BullMQ passes the abort signal only to processors that declare three parameters. */
export type UnitProcessor = (job: Job, token: string | undefined, signal: AbortSignal | undefined) => Promise<string>;

/** A unit whose inputs are missing because an earlier unit failed: no retry can help. */
class BlockedError extends Error {
  override readonly name = 'BlockedError';
}

type Verdict = { kind: 'rate_limited'; ms: number } | { kind: 'aborted' } | { kind: 'transient' } | { kind: 'permanent' };

/** Sorts a failure: a 429 parks the queue, transient ones are retried with backoff, the rest are final. */
export function classify(error: unknown, fallbackBlockMs: number): Verdict {
  if (error instanceof LlmError) {
    if (error.llmCode === 'rate_limited') return { kind: 'rate_limited', ms: retryAfterMs(error, fallbackBlockMs) };
    if (error.llmCode === 'aborted') return { kind: 'aborted' };
    // Content failures (invalid_output, truncated, refused) were already re-asked inside LlmClient.
    return error.retryable ? { kind: 'transient' } : { kind: 'permanent' };
  }
  if (error instanceof BlockedError || error instanceof ZodError || error instanceof PersonagenError) return { kind: 'permanent' };
  // File system and network trouble (ENOSPC, EIO, ECONNRESET, ...) and the unexpected: a bounded
  // number of attempts, then the dead-letter file.
  return { kind: 'transient' };
}

function oneLine(text: string, max = 500): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** Fails the job as blocked when an input artifact is missing, naming the failure upstream when known. */
async function requireInputs(rt: Runtime, job: Job, inputs: string[]): Promise<void> {
  const missing: string[] = [];
  for (const key of inputs) if (!(await rt.store.has(key))) missing.push(key);
  if (missing.length === 0) return;
  const upstream = Object.values(await job.getIgnoredChildrenFailures().catch(() => ({}) as Record<string, string>));
  throw new BlockedError(`blocked: ${missing.join(', ')} missing${upstream[0] ? ` (${upstream[0]})` : ''}`);
}

/**
 * Makes sure every unit of a layer (a user's sessions, or questions) has its artifact: adds the
 * missing ones as children of the user's job and waits for them (WaitingChildrenError), then
 * returns the failures among them. Children are looked up first: adding a failed child again would
 * leave the parent waiting for it forever.
 */
async function ensureLayer<K extends 'sessions' | 'questions'>(
  ctx: ProcessorContext,
  parent: Job,
  token: string | undefined,
  kind: K,
  units: Array<JobDataOf<K>>,
  pass = 0,
): Promise<string[]> {
  const { rt, queues } = ctx;
  const queue = queues[kind];
  const missing: Array<JobDataOf<K>> = [];
  for (const u of units) if (!(await rt.store.has(jobId(kind, u)))) missing.push(u);
  if (missing.length === 0) return [];
  const failures: string[] = [];
  const toAdd: Array<JobDataOf<K>> = [];
  for (const u of missing) {
    const id = jobId(kind, u);
    const state = await queue.getJobState(id);
    if (state === 'failed') {
      const failed = await queue.getJob(id);
      failures.push(`${id}: ${failed?.failedReason ?? 'failed'}`);
    } else if (pass > 0 && state === 'completed') {
      failures.push(`${id}: completed without its artifact (was the run store changed by hand?)`);
    } else {
      toAdd.push(u);
    }
  }
  if (toAdd.length === 0) return failures;
  if (!token || !parent.id) throw new Error(`job ${parent.id ?? '?'} has no lock token`);
  const opts = jobOptions(rt.config, ctx.run);
  await queue.addBulk(
    toAdd.map((u) => ({
      name: kind,
      data: u,
      opts: { ...opts, ...CHILD_OPTIONS, jobId: jobId(kind, u), parent: { id: parent.id!, queue: parent.queueQualifiedName } },
    })),
  );
  if (await parent.moveToWaitingChildren(token)) throw new WaitingChildrenError();
  // Nothing pending: they finished between adding and now. One more look tells which failed.
  if (pass > 0) return failures;
  return ensureLayer(ctx, parent, token, kind, units, pass + 1);
}

/** The user's parent job: runs after the profile → preferences → plan chain, then fans out. */
async function userStep(ctx: ProcessorContext, job: Job, token: string | undefined, pid: number): Promise<string> {
  const { rt } = ctx;
  await requireInputs(rt, job, [keys.user(pid), keys.preferences(pid), keys.plan(pid)]);
  const plan = await rt.store.get(keys.plan(pid), PlanOutput);
  if (!plan) throw new BlockedError(`blocked: ${keys.plan(pid)} is unreadable`);
  const sessionFailures = await ensureLayer(
    ctx,
    job,
    token,
    'sessions',
    plan.output.sessions.map((session) => ({ pid, session })),
  );
  if (sessionFailures.length > 0) {
    throw new BlockedError(`${sessionFailures.length} of ${plan.output.sessions.length} sessions failed; first: ${sessionFailures[0]}`);
  }
  const targets = await targetsFor(rt, pid);
  const questionFailures = await ensureLayer(
    ctx,
    job,
    token,
    'questions',
    targets.map((target) => ({ pid, target })),
  );
  if (questionFailures.length > 0) {
    throw new BlockedError(`${questionFailures.length} of ${targets.length} questions failed; first: ${questionFailures[0]}`);
  }
  return jobId('users', { pid });
}

async function runJob(
  ctx: ProcessorContext,
  kind: JobKind,
  job: Job,
  token: string | undefined,
  signal: AbortSignal | undefined,
): Promise<string> {
  const { rt } = ctx;
  switch (kind) {
    case 'filler': {
      const d = JobData.filler.parse(job.data);
      await fillerUnit(rt, d.index, signal);
      return jobId(kind, d);
    }
    case 'profile': {
      const d = JobData.profile.parse(job.data);
      await profileUnit(rt, d.pid, signal);
      return jobId(kind, d);
    }
    case 'preferences': {
      const d = JobData.preferences.parse(job.data);
      await requireInputs(rt, job, [keys.user(d.pid)]);
      await preferencesUnit(rt, d.pid, signal);
      return jobId(kind, d);
    }
    case 'plan': {
      const d = JobData.plan.parse(job.data);
      await requireInputs(rt, job, [keys.user(d.pid), keys.preferences(d.pid)]);
      await planUnit(rt, d.pid);
      return jobId(kind, d);
    }
    case 'sessions': {
      const d = JobData.sessions.parse(job.data);
      await requireInputs(rt, job, [keys.user(d.pid), keys.preferences(d.pid)]);
      await sessionUnit(rt, d.pid, d.session, signal);
      return jobId(kind, d);
    }
    case 'questions': {
      const d = JobData.questions.parse(job.data);
      await requireInputs(rt, job, [keys.user(d.pid), keys.preferences(d.pid), keys.session(d.pid, d.target.evidence)]);
      await questionUnit(rt, d.pid, d.target, signal);
      return jobId(kind, d);
    }
    case 'users':
      return userStep(ctx, job, token, JobData.users.parse(job.data).pid);
  }
}

/**
 * The processor of one kind of job. It runs the unit and applies the failure policy: a 429 parks
 * the queue for the delay the provider asked (the job goes back without using an attempt);
 * transient failures are retried with exponential backoff and jitter; what no retry can fix fails
 * at once (UnrecoverableError); a job's last failure is written to the dead-letter file.
 */
export function processorFor(kind: JobKind, ctx: ProcessorContext): UnitProcessor {
  return async (job, token, signal) => {
    try {
      return await runJob(ctx, kind, job, token, signal);
    } catch (error) {
      if (error instanceof WaitingChildrenError) throw error;
      const verdict = classify(error, ctx.fallbackBlockMs);
      if (verdict.kind === 'aborted' || signal?.aborted) {
        if (ctx.draining() && token) {
          // Cut short by a shutdown: hand the job back untouched; its finished calls are cached.
          await job.moveToWait(token);
          throw new WaitingError();
        }
        throw error;
      }
      if (verdict.kind === 'rate_limited') {
        ctx.log(`rate limited: ${kind} queue parked for ${verdict.ms} ms (${job.id})`);
        await ctx.queues[kind].rateLimit(verdict.ms);
        throw Worker.RateLimitError();
      }
      const message = oneLine(error instanceof Error ? error.message : String(error));
      const attempts = job.attemptsMade + 1;
      const final = verdict.kind === 'permanent' || attempts >= (job.opts.attempts ?? 1);
      if (!final) {
        ctx.log(`retrying ${kind} ${job.id} (attempt ${attempts} of ${job.opts.attempts ?? 1} failed): ${message}`);
        throw error;
      }
      const llm = error instanceof LlmError ? error : undefined;
      await appendDeadLetter(ctx.rt.dir, {
        at: new Date().toISOString(),
        run_id: ctx.run.run_id,
        kind,
        job_id: job.id ?? '?',
        attempts,
        reason: message,
        error: error instanceof Error ? error.name : typeof error,
        code: error instanceof PersonagenError ? error.code : ((error as NodeJS.ErrnoException | undefined)?.code ?? undefined),
        llm_code: llm?.llmCode,
        status: llm?.status,
        raw: llm?.raw,
      }).catch((e: unknown) => ctx.log(`cannot write the dead-letter file: ${(e as Error).message}`));
      ctx.log(`failed ${kind} ${job.id} after ${attempts} attempt(s): ${message}`);
      if (verdict.kind === 'permanent') throw new UnrecoverableError(message);
      throw error;
    }
  };
}
