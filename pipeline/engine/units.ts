import { z } from 'zod';
import { fillerPrompt } from '../../prompts/index.js';
import { sizeTokens } from '../config/index.js';
import { PersonagenError } from '../core/errors.js';
import { Preference, Session, User } from '../schemas/records.js';
import { FillerConversation, systemMessage } from '../stages/histories.js';
import { PlanOutput, type PlannedSession, planSessions } from '../stages/plan.js';
import { PreferencesStageOutput, preferencesStage } from '../stages/preferences.js';
import { profileStage } from '../stages/profile.js';
import { QuestionStageOutput, type Target, questionStage, selectTargets } from '../stages/questions.js';
import { sessionStage } from '../stages/sessions.js';
import { type Artifact, keys } from '../store/run-store.js';
import { type Runtime, seedFor, stageContext } from './runtime.js';

/**
 * Units of work: each reads its inputs from the run store, runs one stage function, and stores its
 * output under a key derived from what it is. Executors decide only when each unit runs.
 */

async function need<S extends z.ZodType>(rt: Runtime, key: string, schema: S): Promise<z.infer<S>> {
  const a = await rt.store.get(key, schema);
  if (!a) throw new PersonagenError('internal', `artifact ${key} is missing: its unit must run first`);
  return a.output;
}

async function produce<S extends z.ZodType>(
  rt: Runtime,
  key: string,
  schema: S,
  signal: AbortSignal | undefined,
  work: (ctx: ReturnType<typeof stageContext>) => Promise<z.infer<S>>,
): Promise<Artifact<z.infer<S>>> {
  return rt.store.memo(key, schema, async () => {
    const ctx = stageContext(rt, signal);
    const output = await work(ctx);
    const usage = ctx.ledger.snapshot();
    rt.session.merge(usage);
    return { output, usage };
  });
}

/** Filler pool size: enough distinct conversations for the largest history. */
export function fillerPoolSize(rt: Runtime): number {
  const largest = Math.max(...rt.config.sizes.map(sizeTokens));
  return Math.min(20_000, Math.max(64, Math.ceil(largest / 180)));
}

export function fillerTopics(rt: Runtime): string[] {
  const topics = [...rt.catalog.topics.values()].filter((t) => t.domain === 'reference_knowledge').map((t) => t.id);
  return topics.length > 0 ? topics.sort() : ['science'];
}

export async function fillerUnit(rt: Runtime, index: number, signal?: AbortSignal): Promise<FillerConversation> {
  const a = await produce(rt, keys.filler(index), FillerConversation, signal, async (ctx) => {
    const topics = fillerTopics(rt);
    const topic = topics[index % topics.length]!;
    const out = await ctx.llm.run(
      fillerPrompt,
      { topic, index: Math.floor(index / topics.length) },
      { stage: 'filler', ledger: ctx.ledger, signal },
    );
    const tokens = out.messages.reduce((n, m) => n + ctx.tokenizer.count(m.content), 0);
    return { filler_id: `f${index}`, topic, messages: out.messages, tokens };
  });
  return a.output;
}

export async function profileUnit(rt: Runtime, pid: number, signal?: AbortSignal): Promise<User> {
  return (await produce(rt, keys.user(pid), User, signal, (ctx) => profileStage({ persona_id: pid, short_persona: seedFor(rt, pid) }, ctx)))
    .output;
}

export async function preferencesUnit(rt: Runtime, pid: number, signal?: AbortSignal): Promise<PreferencesStageOutput> {
  const user = await need(rt, keys.user(pid), User);
  return (await produce(rt, keys.preferences(pid), PreferencesStageOutput, signal, (ctx) => preferencesStage({ user }, ctx))).output;
}

export async function planUnit(rt: Runtime, pid: number): Promise<PlanOutput> {
  const prefs = await need(rt, keys.preferences(pid), PreferencesStageOutput);
  return (
    await produce(rt, keys.plan(pid), PlanOutput, undefined, (ctx) =>
      Promise.resolve(planSessions({ persona_id: pid, preferences: prefs.preferences }, ctx)),
    )
  ).output;
}

export async function sessionUnit(rt: Runtime, pid: number, plan: PlannedSession, signal?: AbortSignal): Promise<Session> {
  const user = await need(rt, keys.user(pid), User);
  const prefs = await need(rt, keys.preferences(pid), PreferencesStageOutput);
  const preference = prefs.preferences.find((p) => p.pref_id === plan.pref_id);
  if (!preference) throw new PersonagenError('internal', `preference ${plan.pref_id} of user ${pid} is missing`);
  return (await produce(rt, keys.session(pid, plan.session_id), Session, signal, (ctx) => sessionStage({ user, preference, plan }, ctx)))
    .output;
}

/** Targets depend on every session of the user (their token counts), so they are chosen after all sessions. */
export async function targetsFor(rt: Runtime, pid: number): Promise<Target[]> {
  const user = await need(rt, keys.user(pid), User);
  const prefs = await need(rt, keys.preferences(pid), PreferencesStageOutput);
  const plan = await need(rt, keys.plan(pid), PlanOutput);
  const sessions = await Promise.all(plan.sessions.map((s) => need(rt, keys.session(pid, s.session_id), Session)));
  const ctx = stageContext(rt);
  return selectTargets(
    { persona_id: pid, preferences: prefs.preferences, sessions, systemTokens: rt.tokenizer.count(systemMessage(user)) },
    ctx,
  );
}

export async function questionUnit(rt: Runtime, pid: number, target: Target, signal?: AbortSignal): Promise<QuestionStageOutput> {
  const user = await need(rt, keys.user(pid), User);
  const prefs = await need(rt, keys.preferences(pid), PreferencesStageOutput);
  const preference = prefs.preferences.find((p) => p.pref_id === target.pref_id);
  if (!preference) throw new PersonagenError('internal', `preference ${target.pref_id} of user ${pid} is missing`);
  const evidence = await need(rt, keys.session(pid, target.evidence), Session);
  return (
    await produce(rt, keys.question(pid, target.pref_id), QuestionStageOutput, signal, (ctx) =>
      questionStage({ user, preference, target, evidence }, ctx),
    )
  ).output;
}

export const UserBundle = z.object({ user: User, preferences: z.array(Preference) });
