import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sizeTokens } from '../../pipeline/config/index.js';
import { Rng } from '../../pipeline/core/rng.js';
import { o200k } from '../../pipeline/core/tokenizer.js';
import type { Runtime } from '../../pipeline/engine/runtime.js';
import type { ChatMessage } from '../../pipeline/schemas/records.js';
import { type BuiltHistory, type FillerConversation, buildHistory, systemMessage } from '../../pipeline/stages/histories.js';
import type { QuestionDraft } from '../../pipeline/stages/questions.js';
import { type UserRun, fillerPool, offlineRuntime, removeDir, runUser, tempDir } from '../helpers/offline-run.js';

const USERS = 2;
const SIZES = ['8k', '16k', '32k'];
const SEED = 17;

let dir: string;
let rt: Runtime;
let pool: FillerConversation[];

interface UserHistories {
  run: UserRun;
  drafts: QuestionDraft[];
  bySize: Map<string, BuiltHistory>;
}
let users: UserHistories[];

function build(run: UserRun, drafts: QuestionDraft[], size: string): BuiltHistory {
  return buildHistory(
    {
      user: run.user,
      size,
      sessions: run.sessions,
      preferences: run.prefs.preferences,
      required: new Set(drafts.flatMap((q) => q.requires)),
      filler: pool,
    },
    { rng: (...scope) => Rng.derive(SEED, ...scope), tokenizer: rt.tokenizer },
  );
}

const plain = (messages: readonly ChatMessage[]) => messages.map((m) => ({ role: m.role, content: m.content }));

/** Session ranges of a history, in the order they appear. */
const rangesInOrder = (h: BuiltHistory) => Object.entries(h.placement.ranges).sort((a, b) => a[1][0] - b[1][0]);

beforeAll(async () => {
  dir = await tempDir('histories');
  // Few preferences, so that the user's own sessions leave room for filler in the larger sizes.
  rt = await offlineRuntime(dir, {
    users: USERS,
    seed: SEED,
    sizes: SIZES,
    preferences: { stereotypical: 5, anti_stereotypical: 5, neutral: 6, therapy_background: 3, health_and_medical: 3, sensitive_info: 3 },
  });
  pool = await fillerPool(rt);
  users = [];
  for (let pid = 0; pid < USERS; pid++) {
    const run = await runUser(rt, pid);
    const drafts = run.questions.flatMap((q) => (q.question ? [q.question] : []));
    users.push({ run, drafts, bySize: new Map(SIZES.map((size) => [size, build(run, drafts, size)])) });
  }
});

afterAll(async () => {
  await removeDir(dir);
});

function* histories(): Generator<{ label: string; size: string; h: BuiltHistory; u: UserHistories }> {
  for (const u of users) for (const [size, h] of u.bySize) yield { label: `user ${u.run.user.persona_id} ${size}`, size, h, u };
}

describe('history builder', () => {
  it('stays within the token target and records a count that equals a recount', () => {
    for (const { label, size, h } of histories()) {
      const recount = h.file.chat_history.reduce((n, m) => n + o200k.count(m.content), 0);
      const meta = h.file.metadata;
      expect(meta.token_target, label).toBe(sizeTokens(size));
      expect(meta.final_token_count, label).toBeLessThanOrEqual(meta.token_target);
      expect(meta.final_token_count, label).toBe(recount);
      expect(meta.num_relevant_tokens + meta.num_irrelevant_tokens, label).toBe(recount);
      expect(meta.total_messages, label).toBe(h.file.chat_history.length);
      expect(meta.size).toBe(size);
      expect(meta.tokenizer).toBe('o200k_base');
    }
  });

  it('fills each history close to its target', () => {
    for (const { label, h } of histories()) {
      expect(h.file.metadata.final_token_count / h.file.metadata.token_target, label).toBeGreaterThan(0.9);
    }
  });

  it('starts with the persona system message and has no other system message', () => {
    for (const { label, h, u } of histories()) {
      expect(h.file.chat_history[0], label).toEqual({ role: 'system', content: systemMessage(u.run.user) });
      expect(
        h.file.chat_history.slice(1).every((m) => m.role !== 'system'),
        label,
      ).toBe(true);
    }
  });

  it('holds every question’s sessions, the evidence at its recorded message range', () => {
    for (const { label, h, u } of histories()) {
      expect(u.drafts.length).toBeGreaterThan(5);
      for (const q of u.drafts) {
        for (const sid of q.requires) expect(h.placement.ranges[sid], `${label} ${q.question_id} ${sid}`).toBeDefined();
        const [start, end] = h.placement.ranges[q.evidence_session]!;
        const session = u.run.sessions.find((s) => s.session_id === q.evidence_session)!;
        expect(plain(h.file.chat_history.slice(start, end + 1)), `${label} ${q.question_id}`).toEqual(plain(session.messages));
      }
    }
  });

  it('puts an update after the original it replaces', () => {
    for (const { label, h, u } of histories()) {
      for (const s of u.run.sessions.filter((x) => x.purpose === 'update' && h.placement.ranges[x.session_id])) {
        const reveal = u.run.sessions.find((x) => x.pref_id === s.pref_id && x.purpose === 'reveal')!;
        expect(h.placement.ranges[reveal.session_id], `${label} ${s.session_id}`).toBeDefined();
        expect(h.placement.ranges[s.session_id]![0]).toBeGreaterThan(h.placement.ranges[reveal.session_id]![1]);
      }
    }
  });

  it('records for each session the tokens from its start to the end of the history', () => {
    for (const { label, h } of histories()) {
      const counts = h.file.chat_history.map((m) => o200k.count(m.content));
      for (const [sid, [start]] of Object.entries(h.placement.ranges)) {
        expect(h.placement.distances[sid], `${label} ${sid}`).toBe(counts.slice(start).reduce((a, b) => a + b, 0));
      }
    }
  });

  it('puts filler only between sessions, as whole conversations, never inside a session', () => {
    const byOpening = new Map<string, FillerConversation[]>();
    for (const f of pool) byOpening.set(f.messages[0]!.content, [...(byOpening.get(f.messages[0]!.content) ?? []), f]);
    let totalFillers = 0;
    for (const { label, h, u } of histories()) {
      const chat = plain(h.file.chat_history);
      const ranges = rangesInOrder(h);
      // Session ranges do not overlap, and each holds exactly its session.
      ranges.forEach(([sid, [start, end]], i) => {
        if (i > 0) expect(start, `${label} ${sid}`).toBeGreaterThan(ranges[i - 1]![1][1]);
        const session = u.run.sessions.find((s) => s.session_id === sid)!;
        expect(chat.slice(start, end + 1)).toEqual(plain(session.messages));
      });
      // Everything else after the system message is a run of whole filler conversations.
      const gaps: Array<[number, number]> = [];
      let next = 1;
      for (const [, [start, end]] of ranges) {
        gaps.push([next, start]);
        next = end + 1;
      }
      gaps.push([next, chat.length]);
      let fillers = 0;
      for (const [from, to] of gaps) {
        let at = from;
        while (at < to) {
          const match = (byOpening.get(chat[at]!.content) ?? []).find(
            (f) => at + f.messages.length <= to && JSON.stringify(chat.slice(at, at + f.messages.length)) === JSON.stringify(f.messages),
          );
          expect(match, `${label}: message ${at} is neither in a session nor a whole filler conversation`).toBeDefined();
          at += match!.messages.length;
          fillers++;
        }
      }
      expect(fillers, label).toBe(h.file.metadata.num_filler_sessions);
      expect(ranges.length, label).toBe(h.file.metadata.num_sessions);
      totalFillers += fillers;
    }
    expect(totalFillers).toBeGreaterThan(0);
  });

  it('uses no filler on the topic of one of the user’s preferences', () => {
    let checked = 0;
    for (const { label, h, u } of histories()) {
      const topics = new Set(u.run.prefs.preferences.map((p) => p.topic));
      const inHistory = new Set(h.file.chat_history.map((m) => m.content));
      const used = pool.filter((f) => f.messages.every((m) => inHistory.has(m.content)));
      for (const f of used) expect(topics.has(f.topic), `${label} ${f.filler_id} on ${f.topic}`).toBe(false);
      checked += used.length;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('keeps every user session of a smaller history in each larger one, in the same order', () => {
    let grew = 0;
    for (const u of users) {
      for (let i = 1; i < SIZES.length; i++) {
        const small = rangesInOrder(u.bySize.get(SIZES[i - 1]!)!).map(([sid]) => sid);
        const large = rangesInOrder(u.bySize.get(SIZES[i]!)!).map(([sid]) => sid);
        expect(
          large.filter((sid) => small.includes(sid)),
          `${SIZES[i - 1]} in ${SIZES[i]}`,
        ).toEqual(small);
        if (large.length > small.length) grew++;
      }
    }
    expect(grew).toBeGreaterThan(0);
  });

  it('builds the same history again from the same inputs', () => {
    const u = users[0]!;
    expect(build(u.run, u.drafts, '16k')).toEqual(u.bySize.get('16k'));
  });
});
