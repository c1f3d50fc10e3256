import { sessionPrompt } from '../../prompts/index.js';
import { Preference, Session, User } from '../schemas/records.js';
import type { StageContext } from './context.js';
import type { PlannedSession } from './plan.js';
import { personaBrief } from './profile.js';

/** Writes one planned session with the model; the preference shows only implicitly. */
export async function sessionStage(
  input: { user: User; preference: Preference; plan: PlannedSession },
  ctx: StageContext,
): Promise<Session> {
  const user = User.parse(input.user);
  const p = Preference.parse(input.preference);
  const plan = input.plan;
  const scenario = ctx.catalog.scenarios.find((s) => s.id === plan.scenario_id);
  if (!scenario) throw new Error(`scenario ${plan.scenario_id} is not in the catalog`);
  const isUpdate = plan.purpose === 'update';
  const out = await ctx.llm.run(
    sessionPrompt,
    {
      persona: personaBrief(user),
      purpose: plan.purpose,
      preference: isUpdate && p.update ? p.update : p.statement,
      previous: isUpdate ? p.statement : null,
      who: p.who,
      person: p.person,
      sensitive: p.sensitive,
      topic: p.topic,
      topic_label: ctx.catalog.topics.get(p.topic)?.label ?? p.topic,
      task_type: plan.task_type,
      scenario: { title: scenario.title, user_goal: scenario.user_goal },
      follow_up: plan.follow_up,
    },
    { stage: 'sessions', ledger: ctx.ledger, signal: ctx.signal },
  );
  const tokens = out.messages.reduce((n, m) => n + ctx.tokenizer.count(m.content), 0);
  return Session.parse({
    session_id: plan.session_id,
    persona_id: user.persona_id,
    pref_id: p.pref_id,
    purpose: plan.purpose,
    scenario_id: plan.scenario_id,
    task_type: plan.task_type,
    topic: p.topic,
    messages: out.messages,
    tokens,
  });
}
