import { z } from 'zod';
import { contentWords } from '../../prompts/index.js';
import { sizeTokens } from '../config/index.js';
import type { Rng } from '../core/rng.js';
import type { Tokenizer } from '../core/tokenizer.js';
import { type ChatMessage, HistoryFile, type Preference, type Session, type User } from '../schemas/records.js';
import type { StageContext } from './context.js';

export const FillerConversation = z.object({
  filler_id: z.string(),
  topic: z.string(),
  messages: z.array(z.object({ role: z.enum(['user', 'assistant']), content: z.string() })).min(1),
  tokens: z.number().int().min(1),
});
export type FillerConversation = z.infer<typeof FillerConversation>;

/** The published system message: the persona's descriptive fields as indented JSON. */
export function systemMessage(user: User): string {
  const persona = { short_persona: user.short_persona, ...user.profile };
  return `You are an AI assistant helping a user with the following persona:\n\n${JSON.stringify(persona, null, 2)}\n\nRemember what the user shares across conversations and personalise your help accordingly.`;
}

/**
 * The user's sessions in the order they happened: reveals in random order, an update somewhere
 * after its original, a forget request right after what it forgets, repeats after the original.
 */
export function timeline(sessions: readonly Session[], rng: Rng): Session[] {
  const sorted = [...sessions].sort((a, b) => a.session_id.localeCompare(b.session_id));
  const order = rng.shuffle(sorted.filter((s) => s.purpose === 'reveal'));
  const after = (s: Session, immediately: boolean) => {
    const at = order.findIndex((o) => o.pref_id === s.pref_id && o.purpose === 'reveal');
    if (at < 0) {
      order.push(s);
      return;
    }
    const pos = immediately ? at + 1 : at + 1 + rng.int(order.length - at);
    order.splice(pos, 0, s);
  };
  for (const s of sorted) if (s.purpose === 'update' || s.purpose === 'repeat') after(s, false);
  // Forget requests last, so that no later insertion lands between one and what it forgets.
  for (const s of sorted) if (s.purpose === 'forget') after(s, true);
  return order;
}

/**
 * A filler conflicts with a user when it is on the topic of one of their preferences, or carries most
 * of a preference's content words (at least two, and at least 60% of them): enough to make it look
 * like evidence for or against that preference.
 */
export function fillerConflicts(filler: FillerConversation, preferences: readonly Preference[]): boolean {
  return conflictCheck(preferences)(filler);
}

const fillerWords = new WeakMap<FillerConversation, Set<string>>();

/** A reusable conflict test for one user: preference words computed once, filler words cached. */
export function conflictCheck(preferences: readonly Preference[]): (filler: FillerConversation) => boolean {
  const topics = new Set(preferences.map((p) => p.topic));
  const prefWords = preferences.map((p) => new Set([...contentWords(p.statement), ...(p.update ? contentWords(p.update) : [])]));
  return (filler) => {
    if (topics.has(filler.topic)) return true;
    let words = fillerWords.get(filler);
    if (!words) {
      words = new Set(filler.messages.flatMap((m) => contentWords(m.content)));
      fillerWords.set(filler, words);
    }
    return prefWords.some((pw) => {
      let shared = 0;
      for (const w of pw) if (words.has(w)) shared++;
      return pw.size > 0 && shared >= Math.max(2, Math.ceil(pw.size * 0.6));
    });
  };
}

export interface Placement {
  /** Inclusive message index range of each user session in the history. */
  ranges: Record<string, [number, number]>;
  /** Tokens from each user session's start to the end of the history. */
  distances: Record<string, number>;
}

export interface BuiltHistory {
  file: HistoryFile;
  placement: Placement;
}

/**
 * Builds one history: the required sessions, then more of the user's own sessions while they fit,
 * then persona-irrelevant filler, inserted only between sessions, up to the token target and never
 * over it. Counts are the sum of each message's own tokens (as published).
 */
export function buildHistory(
  input: {
    user: User;
    size: string;
    sessions: readonly Session[];
    preferences: readonly Preference[];
    required: ReadonlySet<string>;
    filler: readonly FillerConversation[];
  },
  ctx: Pick<StageContext, 'rng'> & { tokenizer: Tokenizer },
): BuiltHistory {
  const { user, size } = input;
  const id = user.persona_id;
  const target = sizeTokens(size);
  const system = systemMessage(user);
  const systemTokens = ctx.tokenizer.count(system);
  const budget = target - systemTokens;
  const order = timeline(input.sessions, ctx.rng('user', id, 'timeline'));

  // Units: a preference's sessions go in together (an update or forget never without its original).
  const byPref = new Map<string, Session[]>();
  for (const s of order) byPref.set(s.pref_id, [...(byPref.get(s.pref_id) ?? []), s]);
  const chosen = new Set<string>();
  let used = 0;
  for (const s of order) {
    if (input.required.has(s.session_id)) {
      chosen.add(s.session_id);
      used += s.tokens;
    }
  }
  if (used > budget) throw new Error(`user ${id}: the sessions questions need take ${used} tokens, over the ${size} budget of ${budget}`);
  // The same priority order at every size, so a larger history holds every session of a smaller one.
  const priority = ctx.rng('user', id, 'keep').shuffle([...byPref.keys()].sort());
  for (const prefId of priority) {
    const unit = (byPref.get(prefId) ?? []).filter((s) => !chosen.has(s.session_id));
    const reveal = unit.find((s) => s.purpose === 'reveal');
    const total = unit.reduce((n, s) => n + s.tokens, 0);
    if (unit.length > 0 && used + total <= budget) {
      for (const s of unit) chosen.add(s.session_id);
      used += total;
    } else if (reveal && used + reveal.tokens <= budget) {
      chosen.add(reveal.session_id);
      used += reveal.tokens;
    }
  }
  const kept = order.filter((s) => chosen.has(s.session_id));

  // Filler: eligible conversations in a per-user order, greedily while they fit.
  const fillRng = ctx.rng('user', id, 'filler', size);
  const conflicts = conflictCheck(input.preferences);
  const eligible = fillRng.shuffle(input.filler.filter((f) => !conflicts(f)));
  const fillers: FillerConversation[] = [];
  let fillerTokens = 0;
  for (const f of eligible) {
    if (used + fillerTokens + f.tokens <= budget) {
      fillers.push(f);
      fillerTokens += f.tokens;
    }
  }
  // Each filler goes into one of the gaps between sessions (never inside one).
  // Never right before a forget request, which must follow what it forgets.
  const gaps: FillerConversation[][] = Array.from({ length: kept.length + 1 }, () => []);
  const open = gaps.map((_, i) => i).filter((i) => kept[i]?.purpose !== 'forget');
  for (const f of fillers) gaps[open[fillRng.int(open.length)]!]!.push(f);

  const chat: ChatMessage[] = [{ role: 'system', content: system }];
  const ranges: Record<string, [number, number]> = {};
  const starts: Record<string, number> = {};
  let tokens = systemTokens;
  const pushAll = (msgs: readonly { role: 'user' | 'assistant'; content: string }[]) => {
    for (const m of msgs) chat.push({ role: m.role, content: m.content });
  };
  for (let i = 0; i <= kept.length; i++) {
    for (const f of gaps[i]!) {
      pushAll(f.messages);
      tokens += f.tokens;
    }
    const s = kept[i];
    if (!s) continue;
    starts[s.session_id] = tokens;
    ranges[s.session_id] = [chat.length, chat.length + s.messages.length - 1];
    pushAll(s.messages);
    tokens += s.tokens;
  }
  const relevant = systemTokens + used;
  const distances = Object.fromEntries(Object.entries(starts).map(([sid, start]) => [sid, tokens - start]));
  const file = HistoryFile.parse({
    metadata: {
      total_messages: chat.length,
      final_token_count: tokens,
      persona_id: id,
      size,
      token_target: target,
      num_relevant_tokens: relevant,
      num_irrelevant_tokens: fillerTokens,
      num_sessions: kept.length,
      num_filler_sessions: fillers.length,
      tokenizer: ctx.tokenizer.name,
    },
    chat_history: chat,
  });
  return { file, placement: { ranges, distances } };
}
