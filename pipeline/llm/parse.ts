/**
 * Reading what a provider sends back: the JSON object in an answer, and the parts of a failed
 * HTTP exchange (status, `retry-after`) that decide how the failure is classified.
 */
import { LlmError, type LlmErrorCode, type LlmResponse } from './types.js';

/** Longest excerpt of a bad answer quoted in an error message; the whole text stays in `raw`. */
const EXCERPT_CHARS = 120;
/** Candidate `{` positions tried when the object is buried in prose; bounds the work on odd text. */
const MAX_CANDIDATES = 16;

/**
 * The JSON object in a model's answer.
 *
 * Strict JSON is the normal case. Weaker OpenAI-compatible servers sometimes wrap the object in
 * a ```json fence or a sentence of prose, so the first balanced `{...}` that parses is accepted.
 *
 * @throws LlmError `truncated` when the answer hit the token limit, `refused` when the model
 *   declined, `invalid_output` when no JSON object can be read. Each keeps the text in `raw`.
 */
export function parseJsonOutput(response: LlmResponse): unknown {
  const raw = response.text;
  if (response.finishReason === 'length') {
    throw new LlmError(
      'truncated',
      `The answer was cut off at the token limit after ${raw.length} characters; raise maxTokens or shorten the request.`,
      { raw },
    );
  }
  if (response.finishReason === 'refusal') {
    const said = raw.trim() === '' ? '' : `: ${excerpt(raw)}`;
    throw new LlmError('refused', `The model declined to answer${said}`, {
      raw,
    });
  }

  let firstError: unknown;
  try {
    return asObject(JSON.parse(raw), raw);
  } catch (error) {
    if (error instanceof LlmError) throw error;
    firstError = error;
  }

  const embedded = findEmbeddedObject(raw);
  if (embedded !== undefined) return embedded;

  const reason = firstError instanceof Error ? firstError.message : String(firstError);
  throw new LlmError('invalid_output', `The answer is not valid JSON (${reason}). It begins: ${excerpt(raw)}`, { raw, cause: firstError });
}

function asObject(value: unknown, raw: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new LlmError('invalid_output', `Expected a JSON object as the answer, got ${kind}.`, {
      raw,
    });
  }
  return value as Record<string, unknown>;
}

/** The first balanced `{...}` in `text` that parses as a JSON object, ignoring braces in strings. */
function findEmbeddedObject(text: string): Record<string, unknown> | undefined {
  let from = 0;
  for (let tried = 0; tried < MAX_CANDIDATES; tried++) {
    const start = text.indexOf('{', from);
    if (start < 0) return undefined;
    const end = balancedEnd(text, start);
    if (end < 0) return undefined;
    try {
      const value: unknown = JSON.parse(text.slice(start, end + 1));
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        return value as Record<string, unknown>;
      }
    } catch {
      // Not JSON after all (prose such as "{name}"); try the next opening brace.
    }
    from = start + 1;
  }
  return undefined;
}

/** Index of the `}` closing the `{` at `start`, or -1 when the text ends first. */
function balancedEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') {
      inString = true;
    } else if (ch === '{') {
      depth++;
    } else if (ch === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(empty)';
  return JSON.stringify(flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat);
}

/**
 * Seconds a provider asked the caller to wait, from `retry-after` (delay-seconds or an HTTP date)
 * or else the non-standard `retry-after-ms`. Undefined when absent or unreadable.
 */
export function parseRetryAfter(headers: Headers | undefined, now: number = Date.now()): number | undefined {
  const value = headers?.get('retry-after')?.trim();
  if (value) {
    if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
    const at = Date.parse(value);
    if (!Number.isNaN(at)) return Math.max(0, (at - now) / 1000);
  }
  const ms = headers?.get('retry-after-ms')?.trim();
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Number(ms) / 1000;
  return undefined;
}

/**
 * The error code for an HTTP error status, following what the SDKs retry: 408, 409, 429 and
 * 5xx are transient, every other 4xx is permanent.
 */
export function llmCodeForStatus(status: number, errorType?: string | null): LlmErrorCode {
  if (status === 529 || errorType === 'overloaded_error') return 'overloaded';
  if (status === 429) return 'rate_limited';
  if (status === 408) return 'timeout';
  // The SDKs retry 409 as a lock timeout on the provider's side.
  if (status === 409 || status >= 500) return 'server_error';
  if (status === 401 || status === 402 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  return 'bad_request';
}

/** `text` with every occurrence of `secret` masked, so keys echoed by a server never reach a log. */
export function redactSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return text.split(secret).join('[redacted]');
}
