import { z } from 'zod';
import { type Catalog, type Scenario } from '../../scenarios/index.js';
import type { Rng } from '../core/rng.js';
import { Preference, SessionPurpose, TaskType, type TaskType as TaskTypeT } from '../schemas/records.js';
import type { StageContext } from './context.js';

export const PlannedSession = z.object({
  session_id: z.string(),
  pref_id: z.string(),
  purpose: SessionPurpose,
  scenario_id: z.string(),
  task_type: TaskType,
  topic: z.string(),
  follow_up: z.boolean(),
});
export type PlannedSession = z.infer<typeof PlannedSession>;

export const PlanOutput = z.object({ sessions: z.array(PlannedSession) });
export type PlanOutput = z.infer<typeof PlanOutput>;

/** Scenarios a preference of this kind and topic can appear in: same topic, else same domain, else any. */
function candidates(catalog: Catalog, topic: string, kind: string): Scenario[] {
  const fits = (s: Scenario) => s.pref_kinds.includes(kind as Scenario['pref_kinds'][number]);
  // Sensitive data comes up wherever forms and accounts do (banks, landlords, clinics, HR), not
  // only under one topic: spread those sessions over every scenario that suits them.
  if (kind === 'sensitive_info') {
    const suited = catalog.scenarios.filter(fits);
    if (suited.length > 0) return suited;
  }
  const same = catalog.scenarios.filter((s) => s.topic === topic);
  const sameKind = same.filter(fits);
  if (sameKind.length > 0) return sameKind;
  if (same.length > 0) return same;
  const domain = catalog.topics.get(topic)?.domain;
  const near = catalog.scenarios.filter((s) => catalog.topics.get(s.topic)?.domain === domain && fits(s));
  if (near.length > 0) return near;
  return catalog.scenarios.filter(fits).length > 0 ? catalog.scenarios.filter(fits) : catalog.scenarios;
}

/**
 * Plans the sessions of one user: a reveal per preference, an update after it, a forget request,
 * repeats. Scenarios are drawn stratified: each topic's candidates in a run-wide shuffled order,
 * entered at a per-user random offset and walked in turn, so that use evens out across a run.
 */
export function planSessions(
  input: { persona_id: number; preferences: Preference[] },
  ctx: Pick<StageContext, 'catalog' | 'rng' | 'config'>,
): PlanOutput {
  const { persona_id, preferences } = input;
  const walk = new Map<string, { list: Scenario[]; next: number }>();
  const taskUse = new Map<TaskTypeT, number>();
  const draw = (topic: string, kind: string, rng: Rng, want?: TaskTypeT): { scenario: Scenario; task: TaskTypeT } => {
    const key = `${topic}\u0000${kind}`;
    let w = walk.get(key);
    if (!w) {
      const list = ctx.rng('scenarios', key).shuffle(candidates(ctx.catalog, topic, kind));
      w = { list, next: ctx.rng('user', persona_id, 'scenario-offset', key).int(list.length) };
      walk.set(key, w);
    }
    let scenario = w.list[w.next % w.list.length]!;
    if (want) {
      // Prefer the next scenario in turn that suits the wanted task type.
      for (let k = 0; k < w.list.length; k++) {
        const s = w.list[(w.next + k) % w.list.length]!;
        if (s.task_types.includes(want)) {
          scenario = s;
          break;
        }
      }
    }
    w.next++;
    // Among the scenario's task types, the one this user has used least (ties broken at random).
    const options = want && scenario.task_types.includes(want) ? [want] : scenario.task_types;
    const least = Math.min(...options.map((t) => taskUse.get(t) ?? 0));
    const task = rng.pick(options.filter((t) => (taskUse.get(t) ?? 0) === least));
    taskUse.set(task, (taskUse.get(task) ?? 0) + 1);
    return { scenario, task };
  };

  const sessions: PlannedSession[] = [];
  const follow = ctx.config.branches.follow_up;
  for (const p of preferences) {
    const add = (purpose: PlannedSession['purpose'], suffix: string, want?: TaskTypeT) => {
      const rng = ctx.rng('user', persona_id, 'plan', p.pref_id, suffix);
      const { scenario, task } = draw(p.topic, p.kind, rng, want);
      sessions.push({
        session_id: `u${persona_id}-${p.pref_id}-${suffix}`,
        pref_id: p.pref_id,
        purpose,
        scenario_id: scenario.id,
        task_type: task,
        topic: p.topic,
        follow_up: purpose !== 'forget' && rng.chance(follow),
      });
    };
    add('reveal', 'reveal');
    if (p.update) add('update', 'update');
    if (p.forget) add('forget', 'forget', 'chat_message');
    for (let r = 0; r < p.repeats; r++) add('repeat', `repeat${r}`, 'knowledge_query');
  }
  return PlanOutput.parse({ sessions });
}
