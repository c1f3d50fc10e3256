import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignJudgePrompt, contentWords, questionPrompt } from '../../prompts/index.js';
import { Rng } from '../../pipeline/core/rng.js';
import type { Runtime } from '../../pipeline/engine/runtime.js';
import { stageContext } from '../../pipeline/engine/runtime.js';
import { FilterName, PUBLISHED_PREF_TYPE, type Preference } from '../../pipeline/schemas/records.js';
import { personaBrief } from '../../pipeline/stages/profile.js';
import { type QuestionDraft, questionStage, selectTargets } from '../../pipeline/stages/questions.js';
import { systemMessage } from '../../pipeline/stages/histories.js';
import { type UserRun, offlineRuntime, removeDir, runUser, tempDir } from '../helpers/offline-run.js';

const USERS = 2;
const LETTERS = ['A', 'B', 'C', 'D'];

let dir: string;
let rt: Runtime;
let runs: UserRun[];

interface Accepted {
  run: UserRun;
  q: QuestionDraft;
  p: Preference;
  drafts: number;
}
let accepted: Accepted[];

beforeAll(async () => {
  dir = await tempDir('questions');
  rt = await offlineRuntime(dir, { users: USERS, seed: 3, sizes: ['8k', '16k'], questions: { sensitive: true } });
  runs = [];
  for (let pid = 0; pid < USERS; pid++) runs.push(await runUser(rt, pid));
  accepted = runs.flatMap((run) =>
    run.questions.flatMap((out) =>
      out.question
        ? [
            {
              run,
              q: out.question,
              p: run.prefs.preferences.find((x) => x.pref_id === out.question!.question_id.split('-')[1])!,
              drafts: out.drafts.length,
            },
          ]
        : [],
    ),
  );
});

afterAll(async () => {
  await removeDir(dir);
});

describe('question targets', () => {
  it('chooses at most questions.per_user targets, one per preference', () => {
    for (const { targets } of runs) {
      expect(targets.length).toBeGreaterThan(5);
      expect(targets.length).toBeLessThanOrEqual(rt.config.questions.per_user);
      expect(new Set(targets.map((t) => t.pref_id)).size).toBe(targets.length);
    }
  });

  it('keeps the evidence the targets need within the share of the smallest history set aside for it', () => {
    for (const { targets, sessions, user } of runs) {
      const needed = new Set(targets.flatMap((t) => t.requires));
      const tokens = sessions.filter((s) => needed.has(s.session_id)).reduce((n, s) => n + s.tokens, 0);
      const budget = Math.floor(8000 * rt.config.questions.evidence_share) - rt.tokenizer.count(systemMessage(user));
      expect(tokens).toBeLessThanOrEqual(budget);
    }
  });

  it('tests an updated preference on its update session and a forgotten one on its forget request', () => {
    for (const { targets, sessions } of runs) {
      for (const t of targets) {
        const evidence = sessions.find((s) => s.session_id === t.evidence)!;
        expect(evidence.pref_id).toBe(t.pref_id);
        expect(t.requires).toContain(t.evidence);
        const purpose = { plain: 'reveal', sensitive: 'reveal', updated: 'update', forget: 'forget' }[t.mode];
        expect(evidence.purpose, t.pref_id).toBe(purpose);
        const reveal = sessions.find((s) => s.pref_id === t.pref_id && s.purpose === 'reveal')!;
        expect(t.requires).toContain(reveal.session_id);
      }
    }
  });
});

describe('question stage', () => {
  it('accepts most targets', () => {
    expect(accepted.length).toBeGreaterThanOrEqual(runs.reduce((n, r) => n + r.targets.length, 0) * 0.6);
  });

  it('offers 4 distinct options: the correct answer and the 3 incorrect ones', () => {
    for (const { q } of accepted) {
      expect(new Set(q.options.map((o) => o.trim().toLowerCase())).size, q.question_id).toBe(4);
      expect([...q.options].sort()).toEqual([q.correct_answer, ...q.incorrect_answers].sort());
      expect(q.incorrect_answers).not.toContain(q.correct_answer);
    }
  });

  it('points the answer letter at the correct answer, in shuffled positions', () => {
    for (const { q } of accepted) expect(q.options[LETTERS.indexOf(q.answer)], q.question_id).toBe(q.correct_answer);
    expect(new Set(accepted.map(({ q }) => q.answer)).size).toBeGreaterThanOrEqual(3);
  });

  it('records every filter as passed, with its attempt and judge', () => {
    for (const { q, drafts } of accepted) {
      expect(Object.keys(q.filters).sort()).toEqual([...FilterName.options].sort());
      for (const [name, outcome] of Object.entries(q.filters)) {
        expect(outcome.passed, `${q.question_id} ${name}`).toBe(true);
        expect(outcome.attempts).toBeGreaterThanOrEqual(1);
        expect(outcome.attempts).toBeLessThanOrEqual(drafts);
        expect(outcome.judge.length).toBeGreaterThan(0);
      }
      expect(q.filters.gold_alignment.judge).toBe('offline:offline-sim-1');
      expect(q.filters.distractor_contamination.judge).toBe('offline:offline-sim-1');
    }
  });

  it('records why each rejected draft failed, and drops a target only after max_attempts drafts', () => {
    for (const { questions } of runs) {
      for (const out of questions) {
        const rejected = out.question ? out.drafts.slice(0, -1) : out.drafts;
        for (const d of rejected) {
          expect(d.failed).not.toBeNull();
          expect(d.reason ?? '').not.toBe('');
        }
        if (out.question) expect(out.drafts.at(-1)!.failed).toBeNull();
        else expect(out.drafts).toHaveLength(rt.config.questions.max_attempts);
      }
    }
  });

  it('asks a query that shares no content word with the preference it tests', () => {
    for (const { q } of accepted) {
      const pref = new Set([...contentWords(q.preference), ...(q.prev_pref ? contentWords(q.prev_pref) : [])]);
      const shared = contentWords(q.user_query).filter((w) => pref.has(w));
      expect(shared, q.question_id).toEqual([]);
    }
  });

  it('labels each question with its preference: type, holder, update and scenario', () => {
    for (const { run, q, p } of accepted) {
      expect(q.question_id).toBe(`u${run.user.persona_id}-${p.pref_id}`);
      expect(q.who).toBe(p.who);
      expect(q.topic_preference).toBe(p.topic);
      expect(rt.catalog.topics.has(q.topic_query)).toBe(true);
      const evidence = run.sessions.find((s) => s.session_id === q.evidence_session)!;
      expect(q.conversation_scenario).toBe(evidence.task_type);
      expect(q.scenario_id).toBe(evidence.scenario_id);
      if (q.pref_type === 'ask_to_forget') {
        expect(p.forget).toBe(true);
        expect(q.prev_pref).toBe(p.statement);
        expect(q.preference).toContain(p.statement);
      } else if (q.updated) {
        expect(q.preference).toBe(p.update);
        expect(q.prev_pref).toBe(p.statement);
        expect(q.pref_type).toBe(PUBLISHED_PREF_TYPE[p.kind]);
      } else {
        expect(q.preference).toBe(p.statement);
        expect(q.prev_pref).toBeNull();
        expect(q.pref_type).toBe(PUBLISHED_PREF_TYPE[p.kind]);
      }
    }
    const types = new Set(accepted.map(({ q }) => q.pref_type));
    expect(types.has('ask_to_forget')).toBe(true);
    expect(accepted.some(({ q }) => q.updated && q.pref_type !== 'ask_to_forget')).toBe(true);
  });

  it('gives the same question when the stage runs again for the same target', async () => {
    const run = runs[0]!;
    const target = run.targets[0]!;
    const p = run.prefs.preferences.find((x) => x.pref_id === target.pref_id)!;
    const evidence = run.sessions.find((s) => s.session_id === target.evidence)!;
    const again = await questionStage({ user: run.user, preference: p, target, evidence }, stageContext(rt));
    expect(again).toEqual(run.questions[0]);
  });

  it('asks no question about sensitive items unless questions.sensitive is set', async () => {
    const off = await offlineRuntime(dir, { users: USERS, seed: 3, sizes: ['8k', '16k'] });
    const run = runs[0]!;
    const targets = selectTargets(
      { persona_id: run.user.persona_id, preferences: run.prefs.preferences, sessions: run.sessions, systemTokens: 500 },
      stageContext(off),
    );
    expect(targets.some((t) => t.mode === 'sensitive')).toBe(false);
    expect(run.targets.some((t) => t.mode === 'sensitive')).toBe(true);
  });

  it('keeps questions about sensitive information whose correct answer does not expose the value', () => {
    const sensitiveTargets = runs.flatMap((r) => r.targets.filter((t) => t.mode === 'sensitive'));
    expect(sensitiveTargets.length).toBeGreaterThan(0);
    const kept = accepted.filter(({ q }) => q.sensitive_info);
    expect(kept.length).toBeGreaterThan(0);
    for (const { q, p } of kept) {
      expect(p.kind).toBe('sensitive_info');
      expect(q.pref_type).toBe('sensitive_info');
      expect(q.correct_answer).not.toContain(p.sensitive!.value);
    }
  });

  it('judges the reply that keeps a sensitive value private as the right one', () => {
    const run = runs[0]!;
    const p = run.prefs.preferences.find((x) => x.sensitive?.field === 'phone')!;
    const draft = questionPrompt.simulate(
      {
        persona: personaBrief(run.user),
        mode: 'sensitive',
        preference: p.statement,
        previous: null,
        who: 'self',
        person: null,
        topic: p.topic,
        topic_label: 'Privacy & Security',
        sensitive: p.sensitive,
        feedback: null,
      },
      Rng.derive('sensitive-draft'),
    );
    for (const leak of draft.incorrect_answers) expect(leak).toContain(p.sensitive!.value);
    expect(draft.correct_answer).not.toContain(p.sensitive!.value);
    const verdict = alignJudgePrompt.simulate(
      {
        mode: 'sensitive',
        preference: p.statement,
        previous: null,
        sensitive_value: p.sensitive!.value,
        query: draft.user_query,
        options: [draft.correct_answer, ...draft.incorrect_answers],
      },
      Rng.derive('sensitive-judge'),
    );
    expect(verdict.fits).toEqual([true, false, false, false]);
  });
});
