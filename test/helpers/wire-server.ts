/**
 * A local HTTP server that speaks the two wire protocols the network providers use, so that
 * tests exercise the real SDKs end to end: the Anthropic Messages API (POST /v1/messages) and
 * the OpenAI Chat Completions API (POST /v1/chat/completions).
 *
 * Tests script it: each route has a queue of behaviours, one taken per request; an empty queue
 * answers with a valid object. Every request is recorded, without its credential, so tests can
 * assert on what the client sent.
 *
 * Point the Anthropic SDK at `url`, and the OpenAI SDK at `${url}/v1`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export type WireRoute = '/v1/messages' | '/v1/chat/completions';

/** One scripted reply. Fields combine: `{ delayMs: 50, status: 500 }` waits, then fails. */
export interface WireBehaviour {
  /** Reply with this HTTP error status and the protocol's error body for it. */
  status?: number;
  /** `retry-after` header: delay in seconds, or an HTTP date. */
  retryAfter?: number | string;
  /** `retry-after-ms` header, which both SDKs prefer to `retry-after` when waiting. */
  retryAfterMs?: number;
  /** Wait this long before replying (at most 30 s), e.g. to outlast a client timeout. */
  delayMs?: number;
  /** Declare the full `content-length`, send half of the body, then cut the connection. */
  truncatedBody?: boolean;
  /** Raw text the model wrote as its answer. Anthropic: a tool call when it parses as an object. */
  json?: string;
  /** `stop_reason` (Anthropic) or `finish_reason` (OpenAI), spelled as that API spells it. */
  stopReason?: string;
  /** The model declines, saying this. */
  refusal?: string;
  /** Message in the error body, instead of the usual one for the status. */
  errorMessage?: string;
  /** Put the request's API key, whole, in the error message, as a careless proxy might. */
  echoKey?: boolean;
}

export interface WireRequest {
  method: string;
  path: string;
  /** Lower-cased header names; `authorization` and `x-api-key` are left out. */
  headers: Record<string, string>;
  /** Which credential came with the request, without its value. */
  credential: 'x-api-key' | 'bearer' | 'none';
  /** The JSON body, parsed (the raw text when it does not parse). */
  body: unknown;
  /** `performance.now()` when the request arrived, to measure waits between attempts. */
  receivedAt: number;
}

export interface WireServer {
  /** Origin, e.g. "http://127.0.0.1:41234". */
  readonly url: string;
  /** Every request received, in order of arrival. */
  readonly requests: WireRequest[];
  /** Queue behaviours for the next requests on a route, first in first used. */
  enqueue(route: WireRoute, ...behaviours: WireBehaviour[]): void;
  /** Stop listening, end pending delays and destroy every open socket. */
  close(): Promise<void>;
}

/** The answer given when no behaviour is queued. */
export const WIRE_DEFAULT_ANSWER = {
  summary: 'Prefers early morning runs along the river and avoids crowded gyms after work.',
  confidence: 0.82,
} as const;

const MAX_DELAY_MS = 30_000;
const MAX_BODY_BYTES = 8 * 1024 * 1024;

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const ERROR_MESSAGES: Record<number, string> = {
  400: 'The request body is malformed or missing a required field.',
  401: 'The API key is not valid.',
  403: 'This API key is not allowed to use the requested model.',
  404: 'The requested model or resource does not exist.',
  429: 'Too many requests in the current window for this organization; wait before sending more.',
  500: 'The server hit an unexpected condition while handling the request.',
  503: 'The service is temporarily unavailable.',
  529: 'Overloaded',
};

export async function startWireServer(): Promise<WireServer> {
  const requests: WireRequest[] = [];
  const queues = new Map<WireRoute, WireBehaviour[]>();
  const sockets = new Set<Socket>();
  const closing = new AbortController();
  // Prompt-cache simulation: a system prompt seen before is read from the cache.
  const cachedPrefixes = new Set<string>();

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`wire server failure: ${String(error)}`);
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const text = await readBody(req);
    let body: unknown = text;
    let bodyIsJson = false;
    try {
      body = text === '' ? undefined : JSON.parse(text);
      bodyIsJson = text !== '';
    } catch {
      // Kept as text; answered with a 400 below.
    }
    const { headers, credential, key } = splitHeaders(req);
    requests.push({
      method: req.method ?? 'GET',
      path,
      headers,
      credential,
      body,
      receivedAt: performance.now(),
    });

    const protocol: Protocol = path.startsWith('/v1/messages') ? anthropic : openai;
    const requestId = newId('req_');
    const reply = (status: number, payload: Record<string, unknown>, behaviour: WireBehaviour): void =>
      send(res, {
        status,
        payload,
        headerName: protocol.requestIdHeader,
        requestId,
        behaviour,
      });
    if (req.method !== 'POST' || (path !== '/v1/messages' && path !== '/v1/chat/completions')) {
      reply(404, protocol.error(404, `No route for ${req.method ?? 'GET'} ${path}.`, requestId), {});
      return;
    }
    const route: WireRoute = path;
    const behaviour = queues.get(route)?.shift() ?? {};

    if (behaviour.delayMs !== undefined && behaviour.delayMs > 0) {
      try {
        await sleep(Math.min(behaviour.delayMs, MAX_DELAY_MS), undefined, {
          signal: closing.signal,
        });
      } catch {
        res.destroy();
        return;
      }
    }
    // The client gave up while we waited (its timeout or abort): nobody to answer.
    if (res.destroyed || req.socket.destroyed) return;

    if (behaviour.status !== undefined && behaviour.status >= 400) {
      let message = behaviour.errorMessage ?? ERROR_MESSAGES[behaviour.status] ?? 'Request failed.';
      if (behaviour.echoKey) message = `${message} Key received: ${key ?? '(none)'}`;
      reply(behaviour.status, protocol.error(behaviour.status, message, requestId), behaviour);
      return;
    }
    if (!bodyIsJson || body === null || typeof body !== 'object') {
      reply(400, protocol.error(400, 'The request body is not valid JSON.', requestId), behaviour);
      return;
    }
    const problem = protocol.check(body as Record<string, unknown>, headers);
    if (problem !== undefined) {
      reply(400, protocol.error(400, problem, requestId), behaviour);
      return;
    }
    reply(200, protocol.answer(body as Record<string, unknown>, behaviour, cachedPrefixes), behaviour);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue(route, ...behaviours) {
      const queue = queues.get(route) ?? [];
      queue.push(...behaviours);
      queues.set(route, queue);
    },
    async close() {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

interface Protocol {
  requestIdHeader: string;
  error(status: number, message: string, requestId: string): Record<string, unknown>;
  /** What the real API would reject in the body, as its error message. */
  check(body: Record<string, unknown>, headers: Record<string, string>): string | undefined;
  answer(body: Record<string, unknown>, behaviour: WireBehaviour, cachedPrefixes: Set<string>): Record<string, unknown>;
}

const anthropic: Protocol = {
  requestIdHeader: 'request-id',
  error(status, message, requestId) {
    const type = ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
    return { type: 'error', error: { type, message }, request_id: requestId };
  },
  check(body, headers) {
    const version = headers['anthropic-version'];
    if (!version) return 'anthropic-version: header is required';
    // API version 2026-10-21 removed the sampling parameters; older versions still take them.
    if (version >= '2026-10-21') {
      for (const field of ['temperature', 'top_p', 'top_k']) {
        if (field in body) return `${field}: Extra inputs are not permitted`;
      }
    }
    if (typeof body['model'] !== 'string') return 'model: Field required';
    if (typeof body['max_tokens'] !== 'number') return 'max_tokens: Field required';
    if (!Array.isArray(body['messages']) || body['messages'].length === 0) {
      return 'messages: at least one message is required';
    }
    return undefined;
  },
  answer(body, behaviour, cachedPrefixes) {
    const system = systemBlocks(body['system']);
    const toolChoice = body['tool_choice'] as { name?: unknown } | undefined;
    const toolName = typeof toolChoice?.name === 'string' ? toolChoice.name : undefined;

    let content: Record<string, unknown>[];
    let stopReason: string;
    let answerText: string;
    if (behaviour.refusal !== undefined) {
      answerText = behaviour.refusal;
      content = [{ type: 'text', text: behaviour.refusal }];
      stopReason = behaviour.stopReason ?? 'refusal';
    } else {
      answerText = behaviour.json ?? JSON.stringify(WIRE_DEFAULT_ANSWER);
      const input = parseObject(answerText);
      if (toolName !== undefined && input !== undefined) {
        content = [{ type: 'tool_use', id: newId('toolu_'), name: toolName, input }];
        stopReason = behaviour.stopReason ?? 'tool_use';
      } else {
        content = [{ type: 'text', text: answerText }];
        stopReason = behaviour.stopReason ?? 'end_turn';
      }
    }

    // Tools and system form the cacheable prefix when the system block asks for caching.
    const prefix = JSON.stringify(body['tools'] ?? null) + system.text;
    const prefixTokens = system.cacheControl ? estimateTokens(prefix) : 0;
    const total = estimateTokens(prefix + JSON.stringify(body['messages']));
    const cacheRead = prefixTokens > 0 && cachedPrefixes.has(prefix) ? prefixTokens : 0;
    const cacheWrite = prefixTokens > 0 && cacheRead === 0 ? prefixTokens : 0;
    if (prefixTokens > 0) cachedPrefixes.add(prefix);

    return {
      id: newId('msg_'),
      type: 'message',
      role: 'assistant',
      model: body['model'],
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage: {
        input_tokens: total - cacheRead - cacheWrite,
        output_tokens: estimateTokens(answerText),
        cache_creation_input_tokens: cacheWrite,
        cache_read_input_tokens: cacheRead,
        cache_creation: {
          ephemeral_5m_input_tokens: cacheWrite,
          ephemeral_1h_input_tokens: 0,
        },
        service_tier: 'standard',
      },
    };
  },
};

const openai: Protocol = {
  requestIdHeader: 'x-request-id',
  error(status, message) {
    const [type, code] =
      status === 401
        ? ['invalid_request_error', 'invalid_api_key']
        : status === 404
          ? ['invalid_request_error', 'model_not_found']
          : status === 429
            ? ['requests', 'rate_limit_exceeded']
            : status >= 500
              ? ['server_error', null]
              : ['invalid_request_error', null];
    return { error: { message, type, param: null, code } };
  },
  check(body) {
    if (typeof body['model'] !== 'string') return 'you must provide a model parameter';
    if (!Array.isArray(body['messages']) || body['messages'].length === 0) {
      return "Invalid 'messages': empty array. Expected an array with minimum length 1.";
    }
    return undefined;
  },
  answer(body, behaviour, cachedPrefixes) {
    const messages = body['messages'] as {
      role?: unknown;
      content?: unknown;
    }[];
    const first = messages[0];
    const system = first?.role === 'system' && typeof first.content === 'string' ? first.content : '';
    const prefixTokens = estimateTokens(system);
    const cached = system !== '' && cachedPrefixes.has(system) ? prefixTokens : 0;
    if (system !== '') cachedPrefixes.add(system);

    const refused = behaviour.refusal !== undefined;
    const content = refused ? null : (behaviour.json ?? JSON.stringify(WIRE_DEFAULT_ANSWER));
    const promptTokens = estimateTokens(JSON.stringify(messages));
    const completionTokens = estimateTokens(content ?? behaviour.refusal ?? '');
    return {
      id: newId('chatcmpl-'),
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body['model'],
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content,
            refusal: refused ? behaviour.refusal : null,
            annotations: [],
          },
          logprobs: null,
          finish_reason: behaviour.stopReason ?? 'stop',
        },
      ],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
        prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_wire',
    };
  },
};

function send(
  res: ServerResponse,
  reply: {
    status: number;
    payload: Record<string, unknown>;
    headerName: string;
    requestId: string;
    behaviour: WireBehaviour;
  },
): void {
  const { status, payload, behaviour } = reply;
  const text = JSON.stringify(payload);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    [reply.headerName]: reply.requestId,
  };
  if (behaviour.retryAfter !== undefined) headers['retry-after'] = String(behaviour.retryAfter);
  if (behaviour.retryAfterMs !== undefined) headers['retry-after-ms'] = String(behaviour.retryAfterMs);
  res.writeHead(status, headers);
  if (behaviour.truncatedBody) {
    // Half the promised bytes, then a dropped connection, as when a proxy dies mid-response.
    res.write(text.slice(0, Math.floor(text.length / 2)), () => res.destroy());
    return;
  }
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function splitHeaders(req: IncomingMessage): {
  headers: Record<string, string>;
  credential: WireRequest['credential'];
  key: string | undefined;
} {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === 'authorization' || name === 'x-api-key' || value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const apiKey = req.headers['x-api-key'];
  const bearer = req.headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
  if (typeof apiKey === 'string') return { headers, credential: 'x-api-key', key: apiKey };
  if (bearer !== undefined) return { headers, credential: 'bearer', key: bearer };
  return { headers, credential: 'none', key: undefined };
}

function systemBlocks(system: unknown): {
  text: string;
  cacheControl: boolean;
} {
  if (typeof system === 'string') return { text: system, cacheControl: false };
  if (!Array.isArray(system)) return { text: '', cacheControl: false };
  let text = '';
  let cacheControl = false;
  for (const block of system as { text?: unknown; cache_control?: unknown }[]) {
    if (typeof block.text === 'string') text += block.text;
    if (block.cache_control) cacheControl = true;
  }
  return { text, cacheControl };
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Roughly four characters a token, which is all the usage numbers here need. */
function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function newId(prefix: string): string {
  return prefix + randomBytes(12).toString('hex');
}
