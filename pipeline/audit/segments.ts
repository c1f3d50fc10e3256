import type { AuditMessage, AuditSegment } from './schema.js';

/** Message text as a string: published files sometimes hold a list of content parts. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .filter(Boolean)
      .join(' ');
  return '';
}

/** Reads `[{role, content}, ...]` loosely: extra keys are dropped, odd entries skipped. */
export function messagesOf(value: unknown): AuditMessage[] {
  if (!Array.isArray(value)) return [];
  const out: AuditMessage[] = [];
  for (const m of value) {
    if (!m || typeof m !== 'object') continue;
    const role = (m as { role?: unknown }).role;
    out.push({ role: typeof role === 'string' ? role : 'unknown', content: textOf((m as { content?: unknown }).content) });
  }
  return out;
}

export interface KnownConversation {
  ref: string;
  topic: string | null;
  messages: readonly AuditMessage[];
}

/**
 * Splits a history into the stretches that are not the user's own sessions. Known filler
 * conversations are matched whole (keeping their topic); any other message that is not in one of
 * the user's own sessions is grouped with its neighbours into exchanges (a user turn and the
 * replies that follow), each its own segment. The system message (index 0) is never a segment.
 */
export function foreignSegments(
  file: string,
  chat: readonly AuditMessage[],
  own: ReadonlySet<string>,
  filler: ReadonlyMap<string, readonly KnownConversation[]> = new Map(),
): AuditSegment[] {
  const segments: AuditSegment[] = [];
  // The open run of foreign messages (an object, so the closures below see its updates).
  const run: { start: number; messages: AuditMessage[] } = { start: -1, messages: [] };
  const close = (end: number) => {
    if (run.messages.length > 0) segments.push({ ref: `${file}#messages[${run.start}..${end}]`, topic: null, messages: run.messages });
    run.start = -1;
    run.messages = [];
  };
  let i = chat[0]?.role === 'system' ? 1 : 0;
  while (i < chat.length) {
    const m = chat[i]!;
    const candidates = filler.get(m.content) ?? [];
    const whole = candidates.find((f) => f.messages.every((fm, k) => chat[i + k]?.content === fm.content));
    if (whole) {
      close(i - 1);
      const n = whole.messages.length;
      segments.push({ ref: `${file}#messages[${i}..${i + n - 1}] (${whole.ref})`, topic: whole.topic, messages: chat.slice(i, i + n) });
      i += n;
      continue;
    }
    if (own.has(m.content)) {
      close(i - 1);
      i++;
      continue;
    }
    if (run.messages.length > 0 && m.role === 'user' && chat[i - 1]?.role !== 'user') close(i - 1);
    if (run.messages.length === 0) run.start = i;
    run.messages.push(m);
    i++;
  }
  close(chat.length - 1);
  return segments;
}
