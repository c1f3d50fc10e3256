/**
 * A local HTTP server that speaks the two wire protocols the network providers use, so that
 * tests exercise the real SDKs end to end: the Anthropic Messages API (POST /v1/messages) and
 * the OpenAI Chat Completions API (POST /v1/chat/completions).
 *
 * Tests script it: each route has a queue of behaviours, one taken per request; an empty queue
 * answers with a valid object. Every request is recorded, without its credential, so tests can
 * assert on what the client sent.
 *
 * It also speaks both batch APIs: Anthropic Message Batches (POST/GET /v1/messages/batches,
 * GET .../results) and the OpenAI Files and Batch APIs (POST /v1/files, GET /v1/files/:id/content,
 * POST/GET /v1/batches). A batch ends after a scripted number of status checks; each request in it is
 * answered as a single call would be (taking behaviours from the single-call route's queue) or
 * expires. The server counts how often each custom id was submitted and billed.
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
  /** Queue behaviours for the next batches created with a protocol's batch API, first in first used. */
  enqueueBatch(protocol: WireBatchProtocol, ...behaviours: WireBatchBehaviour[]): void;
  /** Every batch created, in order. */
  readonly batches: WireBatch[];
  /** Times each custom id was submitted in a created batch. */
  readonly submissions: Map<string, number>;
  /** Times each custom id was answered (and so billed) in an ended batch. */
  readonly billed: Map<string, number>;
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
  const batchHub = createBatchHub({
    url: () => origin,
    answer: (protocol, body) => {
      const route: WireRoute = protocol === 'anthropic' ? '/v1/messages' : '/v1/chat/completions';
      const behaviour = queues.get(route)?.shift() ?? {};
      return (protocol === 'anthropic' ? anthropic : openai).answer(body, behaviour, cachedPrefixes);
    },
    check: (protocol, body, headers) => (protocol === 'anthropic' ? anthropic : openai).check(body, headers),
  });
  let origin = '';

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
    if (isBatchPath(path)) {
      const out = batchHub.handle(req.method ?? 'GET', path, text, body, headers, req.headers['content-type'] ?? '');
      const headerName = path.startsWith('/v1/messages') ? anthropic.requestIdHeader : openai.requestIdHeader;
      if ('error' in out) {
        send(res, { status: out.status, payload: protocol.error(out.status, out.error, requestId), headerName, requestId, behaviour: {} });
      } else if ('text' in out) {
        res.writeHead(200, {
          'content-type': 'application/binary',
          'content-length': String(Buffer.byteLength(out.text)),
          [headerName]: requestId,
        });
        res.end(out.text);
      } else {
        send(res, { status: 200, payload: out.json, headerName, requestId, behaviour: {} });
      }
      return;
    }
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
  origin = `http://127.0.0.1:${port}`;

  return {
    url: origin,
    requests,
    enqueue(route, ...behaviours) {
      const queue = queues.get(route) ?? [];
      queue.push(...behaviours);
      queues.set(route, queue);
    },
    enqueueBatch: batchHub.enqueue,
    batches: batchHub.batches,
    submissions: batchHub.submissions,
    billed: batchHub.billed,
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

// ---------------------------------------------------------------------------------------------
// Batch APIs

export type WireBatchProtocol = 'anthropic' | 'openai';

/** How one batch behaves. */
export interface WireBatchBehaviour {
  /** Status checks answered "in progress" before the batch ends. @default 1 */
  pollsBeforeEnd?: number;
  /** The batch expires before reaching the requests from this index on (0: none is answered). */
  expireFrom?: number;
  /** Refuse to create the batch, with this HTTP status. */
  status?: number;
}

export interface WireBatch {
  id: string;
  protocol: WireBatchProtocol;
  customIds: string[];
  /** Status checks received. */
  polls: number;
  ended: boolean;
  metadata: Record<string, string> | null;
}

interface BatchState extends WireBatch {
  bodies: Record<string, unknown>[];
  behaviour: WireBatchBehaviour;
  createdAt: number;
  inputFileId: string | null;
  outputFileId: string | null;
  errorFileId: string | null;
  /** Anthropic: one JSONL line per request, once ended. */
  results: string | null;
  expired: number;
}

type BatchReply = { json: Record<string, unknown> } | { text: string } | { status: number; error: string };

function isBatchPath(path: string): boolean {
  return path.startsWith('/v1/messages/batches') || path.startsWith('/v1/batches') || path.startsWith('/v1/files');
}

function createBatchHub(deps: {
  url: () => string;
  answer: (protocol: WireBatchProtocol, body: Record<string, unknown>) => Record<string, unknown>;
  check: (protocol: WireBatchProtocol, body: Record<string, unknown>, headers: Record<string, string>) => string | undefined;
}) {
  const batches: BatchState[] = [];
  const files = new Map<string, { id: string; filename: string; purpose: string; content: string; createdAt: number }>();
  const queues: Record<WireBatchProtocol, WireBatchBehaviour[]> = { anthropic: [], openai: [] };
  const submissions = new Map<string, number>();
  const billed = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const now = () => Math.floor(Date.now() / 1000);

  function create(
    protocol: WireBatchProtocol,
    items: Array<{ customId: string; body: Record<string, unknown> }>,
    extra: Partial<BatchState>,
  ): BatchState {
    const behaviour = queues[protocol].shift() ?? {};
    const batch: BatchState = {
      id: newId(protocol === 'anthropic' ? 'msgbatch_' : 'batch_'),
      protocol,
      customIds: items.map((i) => i.customId),
      bodies: items.map((i) => i.body),
      polls: 0,
      ended: false,
      metadata: null,
      behaviour,
      createdAt: now(),
      inputFileId: null,
      outputFileId: null,
      errorFileId: null,
      results: null,
      expired: 0,
      ...extra,
    };
    for (const id of batch.customIds) bump(submissions, id);
    batches.push(batch);
    return batch;
  }

  /** Ends a batch: answers its requests (up to where it expires) and keeps the results. */
  function end(batch: BatchState): void {
    if (batch.ended) return;
    batch.ended = true;
    const expireFrom = batch.behaviour.expireFrom ?? Infinity;
    const done: string[] = [];
    const failed: string[] = [];
    batch.customIds.forEach((customId, i) => {
      if (i >= expireFrom) {
        batch.expired++;
        failed.push(
          batch.protocol === 'anthropic'
            ? JSON.stringify({ custom_id: customId, result: { type: 'expired' } })
            : JSON.stringify({
                id: newId('batch_req_'),
                custom_id: customId,
                response: null,
                error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
              }),
        );
        return;
      }
      const answer = deps.answer(batch.protocol, batch.bodies[i]!);
      bump(billed, customId);
      done.push(
        batch.protocol === 'anthropic'
          ? JSON.stringify({ custom_id: customId, result: { type: 'succeeded', message: answer } })
          : JSON.stringify({
              id: newId('batch_req_'),
              custom_id: customId,
              response: { status_code: 200, request_id: newId('req_'), body: answer },
              error: null,
            }),
      );
    });
    if (batch.protocol === 'anthropic') {
      batch.results = [...done, ...failed].join('\n') + '\n';
      return;
    }
    if (done.length) batch.outputFileId = storeFile('batch_output.jsonl', 'batch_output', done.join('\n') + '\n');
    if (failed.length) batch.errorFileId = storeFile('batch_error.jsonl', 'batch_output', failed.join('\n') + '\n');
  }

  function storeFile(filename: string, purpose: string, content: string): string {
    const id = newId('file-');
    files.set(id, { id, filename, purpose, content, createdAt: now() });
    return id;
  }

  /** A status check: the batch ends once it has been asked about more than `pollsBeforeEnd` times. */
  function poll(batch: BatchState): void {
    batch.polls++;
    if (batch.polls > (batch.behaviour.pollsBeforeEnd ?? 1)) end(batch);
  }

  function anthropicBatch(b: BatchState): Record<string, unknown> {
    const answered = b.ended ? b.customIds.length - b.expired : 0;
    return {
      id: b.id,
      type: 'message_batch',
      processing_status: b.ended ? 'ended' : 'in_progress',
      request_counts: {
        processing: b.ended ? 0 : b.customIds.length,
        succeeded: answered,
        errored: 0,
        canceled: 0,
        expired: b.ended ? b.expired : 0,
      },
      created_at: new Date(b.createdAt * 1000).toISOString(),
      expires_at: new Date((b.createdAt + 86_400) * 1000).toISOString(),
      ended_at: b.ended ? new Date().toISOString() : null,
      cancel_initiated_at: null,
      archived_at: null,
      results_url: b.ended ? `${deps.url()}/v1/messages/batches/${b.id}/results` : null,
    };
  }

  function openaiBatch(b: BatchState): Record<string, unknown> {
    const status = !b.ended ? 'in_progress' : b.expired > 0 ? 'expired' : 'completed';
    return {
      id: b.id,
      object: 'batch',
      endpoint: '/v1/chat/completions',
      errors: null,
      input_file_id: b.inputFileId,
      completion_window: '24h',
      status,
      output_file_id: b.outputFileId,
      error_file_id: b.errorFileId,
      created_at: b.createdAt,
      in_progress_at: b.createdAt,
      expires_at: b.createdAt + 86_400,
      completed_at: b.ended && status === 'completed' ? now() : null,
      expired_at: b.ended && status === 'expired' ? now() : null,
      request_counts: {
        total: b.customIds.length,
        completed: b.ended ? b.customIds.length - b.expired : 0,
        failed: b.ended ? b.expired : 0,
      },
      metadata: b.metadata,
    };
  }

  function handle(
    method: string,
    path: string,
    text: string,
    body: unknown,
    headers: Record<string, string>,
    contentType: string,
  ): BatchReply {
    const find = (protocol: WireBatchProtocol, id: string | undefined) => batches.find((b) => b.protocol === protocol && b.id === id);
    const obj = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;

    // Anthropic Message Batches
    let m = /^\/v1\/messages\/batches(?:\/([^/]+))?(\/results)?$/.exec(path);
    if (m) {
      const [, id, results] = m;
      if (method === 'POST' && !id) {
        const behaviour = queues.anthropic[0];
        if (behaviour?.status) {
          queues.anthropic.shift();
          return { status: behaviour.status, error: ERROR_MESSAGES[behaviour.status] ?? 'Request failed.' };
        }
        const requests = obj?.['requests'];
        if (!Array.isArray(requests) || requests.length === 0) return { status: 400, error: 'requests: at least one request is required' };
        const seen = new Set<string>();
        const items: Array<{ customId: string; body: Record<string, unknown> }> = [];
        for (const [i, r] of (requests as Array<{ custom_id?: unknown; params?: unknown }>).entries()) {
          if (typeof r.custom_id !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(r.custom_id))
            return { status: 400, error: `requests.${i}.custom_id: expected 1-64 letters, digits, "_" or "-"` };
          if (seen.has(r.custom_id)) return { status: 400, error: `requests.${i}.custom_id: duplicate custom_id ${r.custom_id}` };
          seen.add(r.custom_id);
          const params = r.params as Record<string, unknown> | undefined;
          const problem = params ? deps.check('anthropic', params, headers) : 'params: Field required';
          if (problem) return { status: 400, error: `requests.${i}.params.${problem}` };
          items.push({ customId: r.custom_id, body: params! });
        }
        return { json: anthropicBatch(create('anthropic', items, {})) };
      }
      if (method === 'GET' && !id) {
        const data = batches
          .filter((b) => b.protocol === 'anthropic')
          .map(anthropicBatch)
          .reverse();
        return { json: { data, has_more: false, first_id: data[0]?.['id'] ?? null, last_id: data[data.length - 1]?.['id'] ?? null } };
      }
      const batch = find('anthropic', id);
      if (method !== 'GET' || !batch) return { status: 404, error: `No batch ${id ?? ''}.` };
      if (results)
        return batch.ended && batch.results !== null ? { text: batch.results } : { status: 404, error: 'The batch has not ended.' };
      poll(batch);
      return { json: anthropicBatch(batch) };
    }

    // OpenAI Files
    m = /^\/v1\/files(?:\/([^/]+))?(\/content)?$/.exec(path);
    if (m) {
      const [, id, content] = m;
      if (method === 'POST' && !id) {
        const part = multipart(text, contentType);
        if (!part?.file) return { status: 400, error: "Missing required parameter: 'file'." };
        if (part.fields['purpose'] !== 'batch') return { status: 400, error: "Invalid value for 'purpose'." };
        const fileId = storeFile(part.file.filename, 'batch', part.file.content);
        return { json: fileObject(files.get(fileId)!) };
      }
      const file = id ? files.get(id) : undefined;
      if (method !== 'GET' || !file) return { status: 404, error: `No such File object: ${id ?? ''}` };
      return content ? { text: file.content } : { json: fileObject(file) };
    }

    // OpenAI Batch
    m = /^\/v1\/batches(?:\/([^/]+))?$/.exec(path);
    if (m) {
      const [, id] = m;
      if (method === 'POST' && !id) {
        const behaviour = queues.openai[0];
        if (behaviour?.status) {
          queues.openai.shift();
          return { status: behaviour.status, error: ERROR_MESSAGES[behaviour.status] ?? 'Request failed.' };
        }
        const file = files.get(String(obj?.['input_file_id'] ?? ''));
        if (!file) return { status: 400, error: 'input_file_id: no such file' };
        if (obj?.['endpoint'] !== '/v1/chat/completions' || obj['completion_window'] !== '24h') {
          return { status: 400, error: 'endpoint and completion_window must be /v1/chat/completions and 24h' };
        }
        const items: Array<{ customId: string; body: Record<string, unknown> }> = [];
        const models = new Set<string>();
        for (const [i, line] of file.content
          .split('\n')
          .filter((l) => l.trim())
          .entries()) {
          const r = JSON.parse(line) as { custom_id?: string; method?: string; url?: string; body?: Record<string, unknown> };
          const problem = !r.custom_id
            ? 'custom_id is required'
            : r.url !== '/v1/chat/completions'
              ? 'url must match the endpoint'
              : r.body
                ? deps.check('openai', r.body, headers)
                : 'body is required';
          if (problem) return { status: 400, error: `line ${i + 1}: ${problem}` };
          models.add(String(r.body!['model']));
          items.push({ customId: r.custom_id!, body: r.body! });
        }
        if (models.size > 1) return { status: 400, error: 'every request of a batch must use the same model' };
        const metadata = (obj['metadata'] as Record<string, string> | undefined) ?? null;
        return { json: openaiBatch(create('openai', items, { inputFileId: file.id, metadata })) };
      }
      if (method === 'GET' && !id) {
        const data = batches
          .filter((b) => b.protocol === 'openai')
          .map(openaiBatch)
          .reverse();
        return {
          json: {
            object: 'list',
            data,
            first_id: data[0]?.['id'] ?? null,
            last_id: data[data.length - 1]?.['id'] ?? null,
            has_more: false,
          },
        };
      }
      const batch = find('openai', id);
      if (method !== 'GET' || !batch) return { status: 404, error: `No batch found with id '${id ?? ''}'.` };
      poll(batch);
      return { json: openaiBatch(batch) };
    }
    return { status: 404, error: `No route for ${method} ${path}.` };
  }

  return {
    batches: batches as WireBatch[],
    submissions,
    billed,
    handle,
    enqueue(protocol: WireBatchProtocol, ...behaviours: WireBatchBehaviour[]) {
      queues[protocol].push(...behaviours);
    },
  };
}

function fileObject(f: { id: string; filename: string; purpose: string; content: string; createdAt: number }): Record<string, unknown> {
  return {
    id: f.id,
    object: 'file',
    bytes: Buffer.byteLength(f.content),
    created_at: f.createdAt,
    filename: f.filename,
    purpose: f.purpose,
    status: 'processed',
  };
}

/** The file part and plain fields of a multipart/form-data body (enough for the SDK's uploads). */
function multipart(
  text: string,
  contentType: string,
): { file: { filename: string; content: string } | undefined; fields: Record<string, string> } | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/.exec(contentType);
  const mark = boundary?.[1] ?? boundary?.[2];
  if (!mark) return undefined;
  const fields: Record<string, string> = {};
  let file: { filename: string; content: string } | undefined;
  for (const part of text.split(`--${mark}`)) {
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) continue;
    const head = part.slice(0, split);
    const value = part.slice(split + 4).replace(/\r\n$/, '');
    const name = /name="([^"]*)"/.exec(head)?.[1];
    const filename = /filename="([^"]*)"/.exec(head)?.[1];
    if (filename !== undefined) file = { filename, content: value };
    else if (name) fields[name] = value;
  }
  return { file, fields };
}
