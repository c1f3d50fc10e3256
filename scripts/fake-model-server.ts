/**
 * A stand-in for an OpenAI-compatible model server, on 127.0.0.1 only: it answers POST
 * /v1/chat/completions after a fixed latency, and above a requests-per-minute limit (a sliding
 * minute, counted on arrival, as strict providers count) it answers 429 with `retry-after`.
 *
 *   node --import tsx scripts/fake-model-server.ts [--port 8090] [--latency 250] [--rpm 300] [--answer TEXT]
 *
 * Point the openai provider at it with `llm.base_url: http://127.0.0.1:PORT/v1`. Tests and
 * scripts/ratelimit-bench.ts start it in-process with startFakeModelServer().
 */
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

export interface FakeModelServerOptions {
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Time before each accepted request is answered. @default 250 */
  latencyMs?: number;
  /** Requests accepted in any sliding minute; above it, 429 with retry-after. No limit when absent. */
  rpm?: number | undefined;
  /** The assistant's text in every answer. @default '{"ok":true}' */
  answer?: string;
}

export interface FakeModelServerStats {
  /** Arrival times (ms since the epoch) of accepted requests. */
  accepted: number[];
  /** Arrival times of requests answered 429. */
  rejected: number[];
}

export interface FakeModelServer {
  /** Base URL for OpenAI clients, ending in /v1. */
  url: string;
  stats(): FakeModelServerStats;
  close(): Promise<void>;
}

const MINUTE = 60_000;

export async function startFakeModelServer(options: FakeModelServerOptions = {}): Promise<FakeModelServer> {
  const latencyMs = options.latencyMs ?? 250;
  const answer = options.answer ?? '{"ok":true}';
  const accepted: number[] = [];
  const rejected: number[] = [];
  let first = 0; // index of the oldest accepted request still inside the sliding minute

  const reply = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      reply(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: 'not_found_error' } });
      return;
    }
    const now = Date.now();
    while (first < accepted.length && accepted[first]! <= now - MINUTE) first++;
    if (options.rpm !== undefined && accepted.length - first >= options.rpm) {
      rejected.push(now);
      const waitMs = accepted[first]! + MINUTE - now;
      reply(
        res,
        429,
        { error: { message: `Rate limit reached: ${options.rpm} requests per minute.`, type: 'rate_limit_error' } },
        { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) },
      );
      return;
    }
    accepted.push(now);
    let model = 'fake-model';
    let promptChars = 0;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model?: string; messages?: Array<{ content?: string }> };
      model = body.model ?? model;
      promptChars = (body.messages ?? []).reduce((n, m) => n + (m.content?.length ?? 0), 0);
    } catch {
      reply(res, 400, { error: { message: 'the body is not JSON', type: 'invalid_request_error' } });
      return;
    }
    await sleep(latencyMs);
    reply(res, 200, {
      id: `chatcmpl-${accepted.length}`,
      object: 'chat.completion',
      created: Math.floor(now / 1000),
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: answer, refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: {
        prompt_tokens: Math.ceil(promptChars / 4),
        completion_tokens: Math.ceil(answer.length / 4),
        total_tokens: Math.ceil(promptChars / 4) + Math.ceil(answer.length / 4),
      },
    });
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, { error: { message: String(error), type: 'server_error' } });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    stats: () => ({ accepted: [...accepted], rejected: [...rejected] }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const rpm = flag(args, 'rpm');
  const server = await startFakeModelServer({
    port: Number(flag(args, 'port') ?? 8090),
    latencyMs: Number(flag(args, 'latency') ?? 250),
    rpm: rpm === undefined ? undefined : Number(rpm),
    ...(flag(args, 'answer') !== undefined ? { answer: flag(args, 'answer')! } : {}),
  });
  process.stdout.write(`fake model server on ${server.url} (Ctrl-C stops it)\n`);
  await new Promise<void>((r) => {
    process.once('SIGINT', () => r());
    process.once('SIGTERM', () => r());
  });
  const s = server.stats();
  await server.close();
  process.stdout.write(`accepted ${s.accepted.length}, answered 429: ${s.rejected.length}\n`);
}
