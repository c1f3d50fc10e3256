import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/core/rng.js';
import type { Runtime } from '../../pipeline/engine/runtime.js';
import { stageContext } from '../../pipeline/engine/runtime.js';
import type { Session } from '../../pipeline/schemas/records.js';
import { timeline } from '../../pipeline/stages/histories.js';
import { planSessions } from '../../pipeline/stages/plan.js';
import { type UserRun, offlineRuntime, removeDir, runUser, tempDir } from '../helpers/offline-run.js';

const USERS = 3;
const SEED = 21;

let dir: string;
let rt: Runtime;
let runs: UserRun[];

beforeAll(async () => {
  dir = await tempDir('plan');
  rt = await offlineRuntime(dir, {
    users: USERS,
    seed: SEED,
    sizes: ['8k'],
    preferences: { stereotypical: 8, anti_stereotypical: 8, neutral: 10, therapy_background: 5, health_and_medical: 4, sensitive_info: 4 },
  });
  runs = [];
  for (let pid = 0; pid < USERS; pid++) runs.push(await runUser(rt, pid, 'sessions'));
});

afterAll(async () => {
  await removeDir(dir);
});

/** Timelines of every user: the one histories use, and a few more orders drawn with other scopes. */
function timelines(): Array<{ run: UserRun; order: Session[]; label: string }> {
  return runs.flatMap((run, pid) => [
    { run, order: timeline(run.sessions, Rng.derive(SEED, 'user', pid, 'timeline')), label: `user ${pid}` },
    ...Array.from({ length: 8 }, (_, k) => ({
      run,
      order: timeline(run.sessions, Rng.derive('timeline-check', pid, k)),
      label: `user ${pid} order ${k}`,
    })),
  ]);
}

const revealIndex = (order: Session[], prefId: string) => order.findIndex((s) => s.pref_id === prefId && s.purpose === 'reveal');

describe('session plan', () => {
  it('plans one reveal per preference, an update session per update, a forget per forget and the drawn repeats', () => {
    for (const { prefs, plan } of runs) {
      for (const p of prefs.preferences) {
        const mine = plan.sessions.filter((s) => s.pref_id === p.pref_id);
        expect(mine.filter((s) => s.purpose === 'reveal')).toHaveLength(1);
        expect(mine.filter((s) => s.purpose === 'update')).toHaveLength(p.update ? 1 : 0);
        expect(mine.filter((s) => s.purpose === 'forget')).toHaveLength(p.forget ? 1 : 0);
        expect(mine.filter((s) => s.purpose === 'repeat')).toHaveLength(p.repeats);
      }
      expect(new Set(plan.sessions.map((s) => s.session_id)).size).toBe(plan.sessions.length);
    }
  });

  it('places every session in a catalog scenario that offers its task type, on its preference topic', () => {
    const byId = new Map(rt.catalog.scenarios.map((s) => [s.id, s]));
    for (const { prefs, plan } of runs) {
      for (const s of plan.sessions) {
        const scenario = byId.get(s.scenario_id);
        expect(scenario, s.scenario_id).toBeDefined();
        expect(scenario!.task_types).toContain(s.task_type);
        expect(prefs.preferences.find((p) => p.pref_id === s.pref_id)?.topic).toBe(s.topic);
      }
    }
  });

  it('asks to forget in a chat message where the scenario allows one, and never plans a follow-up for it', () => {
    const byId = new Map(rt.catalog.scenarios.map((s) => [s.id, s]));
    const forgets = runs.flatMap((r) => r.plan.sessions.filter((s) => s.purpose === 'forget'));
    expect(forgets.length).toBeGreaterThan(0);
    for (const s of forgets) {
      if (byId.get(s.scenario_id)!.task_types.includes('chat_message')) expect(s.task_type).toBe('chat_message');
      expect(s.follow_up).toBe(false);
    }
    expect(forgets.some((s) => s.task_type === 'chat_message')).toBe(true);
  });

  it('gives the same plan when planned again', () => {
    const run = runs[0]!;
    expect(planSessions({ persona_id: 0, preferences: run.prefs.preferences }, stageContext(rt))).toEqual(run.plan);
  });
});

describe('timeline', () => {
  it('keeps every session exactly once', () => {
    for (const { run, order, label } of timelines()) {
      expect([...order.map((s) => s.session_id)].sort(), label).toEqual(run.sessions.map((s) => s.session_id).sort());
    }
  });

  it('puts an update and a repeat after the reveal of their preference', () => {
    let checked = 0;
    for (const { order, label } of timelines()) {
      order.forEach((s, i) => {
        if (s.purpose !== 'update' && s.purpose !== 'repeat') return;
        expect(i, `${label}: ${s.session_id}`).toBeGreaterThan(revealIndex(order, s.pref_id));
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('gives the same order for the same scope', () => {
    const run = runs[1]!;
    const a = timeline(run.sessions, Rng.derive(SEED, 'user', 1, 'timeline')).map((s) => s.session_id);
    const b = timeline([...run.sessions].reverse(), Rng.derive(SEED, 'user', 1, 'timeline')).map((s) => s.session_id);
    expect(b).toEqual(a);
  });

  it('puts a forget request right after the reveal it forgets', () => {
    for (const { order, label } of timelines()) {
      order.forEach((s, i) => {
        if (s.purpose === 'forget') expect(i, `${label}: ${s.session_id}`).toBe(revealIndex(order, s.pref_id) + 1);
      });
    }
  });
});

describe('sessions', () => {
  it('starts with the user and alternates user and assistant', () => {
    for (const { sessions } of runs) {
      for (const s of sessions) {
        s.messages.forEach((m, i) => expect(m.role, s.session_id).toBe(i % 2 === 0 ? 'user' : 'assistant'));
        expect(s.tokens).toBe(s.messages.reduce((n, m) => n + rt.tokenizer.count(m.content), 0));
      }
    }
  });

  it('reveals a taste only implicitly: the user never says the preference statement verbatim', () => {
    let checked = 0;
    for (const { prefs, sessions } of runs) {
      for (const s of sessions.filter((x) => x.purpose === 'reveal')) {
        const p = prefs.preferences.find((q) => q.pref_id === s.pref_id)!;
        if (p.kind === 'sensitive_info') continue;
        const said = s.messages.filter((m) => m.role === 'user').map((m) => m.content.toLowerCase());
        expect(
          said.some((text) => text.includes(p.statement.toLowerCase())),
          `${s.session_id}: "${p.statement}"`,
        ).toBe(false);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('has the user share the sensitive value in its reveal session', () => {
    for (const { prefs, sessions } of runs) {
      for (const p of prefs.preferences.filter((q) => q.kind === 'sensitive_info')) {
        const reveal = sessions.find((s) => s.pref_id === p.pref_id && s.purpose === 'reveal')!;
        const said = reveal.messages.filter((m) => m.role === 'user').map((m) => m.content);
        expect(said.some((text) => text.includes(p.sensitive!.value))).toBe(true);
      }
    }
  });

  it('reveals a sensitive preference without quoting its statement', () => {
    for (const { prefs, sessions } of runs) {
      for (const p of prefs.preferences.filter((q) => q.kind === 'sensitive_info')) {
        const reveal = sessions.find((s) => s.pref_id === p.pref_id && s.purpose === 'reveal')!;
        const said = reveal.messages.filter((m) => m.role === 'user').map((m) => m.content.toLowerCase());
        expect(
          said.some((text) => text.includes(p.statement.toLowerCase())),
          `${reveal.session_id}: "${p.statement}"`,
        ).toBe(false);
      }
    }
  });

  it('asks explicitly to forget in a forget session', () => {
    for (const { sessions } of runs) {
      for (const s of sessions.filter((x) => x.purpose === 'forget')) {
        const last = s.messages.filter((m) => m.role === 'user').at(-1)!;
        expect(last.content).toMatch(/forget/i);
      }
    }
  });
});
