import { z } from 'zod';
import {
  META_PATTERNS,
  alignJudgePrompt,
  blindJudgePrompt,
  contentWords,
  leakJudgePrompt,
  questionPrompt,
  wordCount,
} from '../../prompts/index.js';
import type { QuestionOutput } from '../../prompts/index.js';
import { normalizeTopic } from '../../scenarios/index.js';
import { sizeTokens } from '../config/index.js';
import type { Rng } from '../core/rng.js';
import { FilterName, FilterOutcome, Preference, PrefType, PUBLISHED_PREF_TYPE, Session, TaskType, User } from '../schemas/records.js';
import type { StageContext } from './context.js';
import { personaBrief } from './profile.js';

export const QuestionMode = z.enum(['plain', 'updated', 'forget', 'sensitive']);
export type QuestionMode = z.infer<typeof QuestionMode>;

export const Target = z.object({
  pref_id: z.string(),
  mode: QuestionMode,
  evidence: z.string(),
  /** Sessions that must be in the history with the evidence (the original of an update, ...). */
  requires: z.array(z.string()),
});
export type Target = z.infer<typeof Target>;

const LETTERS = ['A', 'B', 'C', 'D'] as const;

/**
 * Chooses which preferences get a question: stratified over kind and mode, within the share of the
 * smallest history that question evidence may take, at most `questions.per_user`.
 */
export function selectTargets(
  input: {
    persona_id: number;
    preferences: Preference[];
    sessions: Array<Pick<Session, 'session_id' | 'pref_id' | 'purpose' | 'tokens'>>;
    systemTokens: number;
  },
  ctx: Pick<StageContext, 'config' | 'rng'>,
): Target[] {
  const smallest = Math.min(...ctx.config.sizes.map(sizeTokens));
  const budget = Math.floor(smallest * ctx.config.questions.evidence_share) - input.systemTokens;
  const byPref = new Map<string, Map<string, Pick<Session, 'session_id' | 'tokens'>>>();
  for (const s of input.sessions) {
    const m = byPref.get(s.pref_id) ?? new Map();
    m.set(s.purpose, s);
    byPref.set(s.pref_id, m);
  }
  const buckets = new Map<string, Target[]>();
  for (const p of input.preferences) {
    const sess = byPref.get(p.pref_id);
    const reveal = sess?.get('reveal');
    if (!sess || !reveal) continue;
    if (p.kind === 'sensitive_info' && !ctx.config.questions.sensitive) continue;
    let t: Target;
    if (p.kind === 'sensitive_info')
      t = { pref_id: p.pref_id, mode: 'sensitive', evidence: reveal.session_id, requires: [reveal.session_id] };
    else if (p.update && sess.get('update'))
      t = {
        pref_id: p.pref_id,
        mode: 'updated',
        evidence: sess.get('update')!.session_id,
        requires: [reveal.session_id, sess.get('update')!.session_id],
      };
    else if (p.forget && sess.get('forget'))
      t = {
        pref_id: p.pref_id,
        mode: 'forget',
        evidence: sess.get('forget')!.session_id,
        requires: [reveal.session_id, sess.get('forget')!.session_id],
      };
    else t = { pref_id: p.pref_id, mode: 'plain', evidence: reveal.session_id, requires: [reveal.session_id] };
    const key = `${p.kind}/${t.mode}/${p.who}`;
    buckets.set(key, [...(buckets.get(key) ?? []), t]);
  }
  const rng = ctx.rng('user', input.persona_id, 'targets');
  const queues = rng.shuffle([...buckets.keys()].sort()).map((k) => rng.shuffle(buckets.get(k)!));
  const tokensOf = new Map(input.sessions.map((s) => [s.session_id, s.tokens]));
  const chosen: Target[] = [];
  const used = new Set<string>();
  let spent = 0;
  let progressed = true;
  while (chosen.length < ctx.config.questions.per_user && progressed) {
    progressed = false;
    for (const q of queues) {
      if (chosen.length >= ctx.config.questions.per_user) break;
      const t = q.shift();
      if (!t) continue;
      progressed = true;
      const extra = t.requires.filter((s) => !used.has(s)).reduce((n, s) => n + (tokensOf.get(s) ?? 0), 0);
      if (spent + extra > budget) continue;
      spent += extra;
      for (const s of t.requires) used.add(s);
      chosen.push(t);
    }
  }
  return chosen.sort((a, b) => a.pref_id.localeCompare(b.pref_id));
}

/** A question before it is placed in histories (histories, evidence ranges, distances come later). */
export const QuestionDraft = z.object({
  question_id: z.string(),
  persona_id: z.number().int(),
  user_query: z.string(),
  correct_answer: z.string(),
  incorrect_answers: z.array(z.string()).length(3),
  options: z.array(z.string()).length(4),
  answer: z.enum(LETTERS),
  preference: z.string(),
  pref_type: PrefType,
  who: z.enum(['self', 'others']),
  updated: z.boolean(),
  prev_pref: z.string().nullable(),
  sensitive_info: z.boolean(),
  conversation_scenario: TaskType,
  topic_preference: z.string(),
  topic_query: z.string(),
  scenario_id: z.string(),
  evidence_session: z.string(),
  requires: z.array(z.string()),
  filters: z.record(FilterName, FilterOutcome),
});
export type QuestionDraft = z.infer<typeof QuestionDraft>;

export const QuestionStageOutput = z.object({
  question: QuestionDraft.nullable(),
  /** Every draft's outcome: the first filter it failed, or null when accepted. */
  drafts: z.array(z.object({ attempt: z.number().int(), failed: FilterName.nullable(), reason: z.string().nullable() })),
});
export type QuestionStageOutput = z.infer<typeof QuestionStageOutput>;

type Check = { filter: z.infer<typeof FilterName>; passed: boolean; judge: string; reason?: string };

/** Rule checks: free, run first. */
function ruleChecks(draft: QuestionOutput, preference: string, previous: string | null): Check[] {
  const options = [draft.correct_answer, ...draft.incorrect_answers];
  const checks: Check[] = [];
  const meta = options.find((o) => META_PATTERNS.some((re) => re.test(o)));
  const distinct = new Set(options.map((o) => o.trim().toLowerCase())).size === 4;
  const counts = options.map(wordCount);
  const ratio = Math.max(...counts) / Math.max(1, Math.min(...counts));
  checks.push({
    filter: 'format',
    passed: !meta && distinct && ratio <= 1.5,
    judge: 'rules',
    ...(meta
      ? { reason: `meta-text in an option: "${meta.slice(0, 60)}"` }
      : !distinct
        ? { reason: 'options are not 4 distinct answers' }
        : ratio > 1.5
          ? { reason: `option lengths differ by ${ratio.toFixed(2)}x` }
          : {}),
  });
  const prefWords = new Set([...contentWords(preference), ...(previous ? contentWords(previous) : [])]);
  const leaked = [...new Set(contentWords(draft.user_query).filter((w) => prefWords.has(w)))];
  checks.push({
    filter: 'query_leakage',
    passed: leaked.length === 0,
    judge: 'rules',
    ...(leaked.length ? { reason: `query shares ${leaked.join(', ')}` } : {}),
  });
  // Length is the cue blind solvers exploit most (the published data's gold is the uniquely longest
  // option in 44.7% of rows): a gold clearly longer or shorter than every distractor fails. Weaker
  // signals are left to chance: rejecting every draft a heuristic happens to solve would push that
  // heuristic below chance, which leaks just as much.
  const sorted = [...counts].sort((a, b) => a - b);
  const gold = counts[0]!;
  const longest = gold === sorted[3] && gold >= 1.2 * sorted[2]!;
  const shortest = gold === sorted[0] && gold * 1.2 <= sorted[1]!;
  checks.push({
    filter: 'blind_solvability',
    passed: !longest && !shortest,
    judge: 'rules',
    ...(longest
      ? { reason: 'the gold is clearly the longest option' }
      : shortest
        ? { reason: 'the gold is clearly the shortest option' }
        : {}),
  });
  return checks;
}

/**
 * One question for one target: drafted by the model, checked by five filters (rules first, then
 * model judges), redrafted with the reason up to `questions.max_attempts` times, or dropped.
 */
export async function questionStage(
  input: { user: User; preference: Preference; target: Target; evidence: Pick<Session, 'session_id' | 'task_type' | 'scenario_id'> },
  ctx: StageContext,
): Promise<QuestionStageOutput> {
  const user = User.parse(input.user);
  const p = Preference.parse(input.preference);
  const { target, evidence } = input;
  const persona = personaBrief(user);
  const mode = target.mode;
  const tested = mode === 'updated' && p.update ? p.update : p.statement;
  const previous = mode === 'updated' ? p.statement : null;
  const topicLabel = ctx.catalog.topics.get(p.topic)?.label ?? p.topic;
  const judgeModel = (stage: string) => `${ctx.llm.modelFor(stage).provider}:${ctx.llm.modelFor(stage).model}`;
  const drafts: QuestionStageOutput['drafts'] = [];
  const attempts: Partial<Record<z.infer<typeof FilterName>, number>> = {};
  let feedback: string | null = null;
  for (let attempt = 1; attempt <= ctx.config.questions.max_attempts; attempt++) {
    const run = { stage: 'questions', sample: attempt - 1, ledger: ctx.ledger, signal: ctx.signal };
    const draft = await ctx.llm.run(
      questionPrompt,
      {
        persona,
        mode,
        preference: tested,
        previous,
        who: p.who,
        person: p.person,
        topic: p.topic,
        topic_label: topicLabel,
        sensitive: p.sensitive,
        feedback,
      },
      run,
    );
    const rng: Rng = ctx.rng('user', user.persona_id, 'options', p.pref_id, attempt);
    const options = rng.shuffle([draft.correct_answer, ...draft.incorrect_answers]);
    const gold = options.indexOf(draft.correct_answer);
    const checks = ruleChecks(draft, tested, previous);
    const frun = { stage: 'filters', sample: 0, ledger: ctx.ledger, signal: ctx.signal };
    if (checks.every((c) => c.passed)) {
      const leak = await ctx.llm.run(leakJudgePrompt, { query: draft.user_query, preference: tested }, frun);
      checks.push({
        filter: 'query_leakage',
        passed: !leak.leaks,
        judge: judgeModel('filters'),
        ...(leak.leaks ? { reason: leak.reason } : {}),
      });
    }
    if (checks.every((c) => c.passed)) {
      const blind = await ctx.llm.run(blindJudgePrompt, { query: draft.user_query, options }, frun);
      const solved = LETTERS.indexOf(blind.choice) === gold && blind.confidence >= 0.75;
      checks.push({
        filter: 'blind_solvability',
        passed: !solved,
        judge: judgeModel('filters'),
        ...(solved ? { reason: `a judge without the history picked the gold with confidence ${blind.confidence}` } : {}),
      });
    }
    if (checks.every((c) => c.passed)) {
      const align = await ctx.llm.run(
        alignJudgePrompt,
        { mode, preference: tested, previous, sensitive_value: p.sensitive?.value ?? null, query: draft.user_query, options },
        frun,
      );
      const goldFits = align.fits[gold] === true;
      const contaminated = align.fits.flatMap((f, i) => (f && i !== gold ? [LETTERS[i]] : []));
      checks.push({
        filter: 'gold_alignment',
        passed: goldFits,
        judge: judgeModel('filters'),
        ...(goldFits ? {} : { reason: 'the judge says the gold does not fit the preference' }),
      });
      checks.push({
        filter: 'distractor_contamination',
        passed: contaminated.length === 0,
        judge: judgeModel('filters'),
        ...(contaminated.length ? { reason: `distractors ${contaminated.join(', ')} also fit the preference` } : {}),
      });
    }
    const failed = checks.find((c) => !c.passed);
    for (const c of checks) attempts[c.filter] = attempt;
    drafts.push({ attempt, failed: failed?.filter ?? null, reason: failed?.reason ?? null });
    if (failed) {
      feedback = `${failed.filter}: ${failed.reason ?? 'failed'}`;
      continue;
    }
    const filters = Object.fromEntries(
      FilterName.options.map((name) => {
        const last = [...checks].reverse().find((c) => c.filter === name);
        return [name, { passed: true, attempts: attempts[name] ?? attempt, judge: last?.judge ?? 'rules' }];
      }),
    ) as QuestionDraft['filters'];
    const topicQuery = normalizeTopic(ctx.catalog, draft.topic_query) ?? p.topic;
    const question: QuestionDraft = {
      question_id: `u${user.persona_id}-${p.pref_id}`,
      persona_id: user.persona_id,
      user_query: draft.user_query,
      correct_answer: draft.correct_answer,
      incorrect_answers: draft.incorrect_answers,
      options,
      answer: LETTERS[gold]!,
      preference: mode === 'forget' ? `Do not remember '${p.statement}' in memory` : tested,
      pref_type: mode === 'forget' ? 'ask_to_forget' : PUBLISHED_PREF_TYPE[p.kind],
      who: p.who,
      updated: mode === 'updated' || mode === 'forget',
      prev_pref: mode === 'updated' || mode === 'forget' ? p.statement : null,
      sensitive_info: mode === 'sensitive',
      conversation_scenario: evidence.task_type,
      topic_preference: p.topic,
      topic_query: topicQuery,
      scenario_id: evidence.scenario_id,
      evidence_session: evidence.session_id,
      requires: target.requires,
      filters,
    };
    return QuestionStageOutput.parse({ question, drafts });
  }
  return QuestionStageOutput.parse({ question: null, drafts });
}
