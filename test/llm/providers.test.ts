import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAnthropicProvider } from '../../pipeline/llm/anthropic.js';
import { createOpenAIProvider } from '../../pipeline/llm/openai.js';
import { parseJsonOutput } from '../../pipeline/llm/parse.js';
import { LlmError, type LlmRequest, type LlmResponse, type Provider } from '../../pipeline/llm/types.js';
import { WIRE_DEFAULT_ANSWER, startWireServer, type WireRoute, type WireServer } from '../helpers/wire-server.js';

const Summary = z.object({
  summary: z.string().describe('One sentence on the habit the user revealed.'),
  confidence: z.number().min(0).max(1),
});
const summarySchema = z.toJSONSchema(Summary) as Record<string, unknown>;
const { $schema: _dialect, ...summarySchemaSent } = summarySchema;

const SYSTEM =
  'You read a chat between a user and an assistant and state, in one sentence, a habit the user ' +
  'revealed without saying it outright. Answer with the requested JSON object only.';

function makeRequest(overrides: Partial<LlmRequest> = {}): LlmRequest {
  return {
    model: 'test-model',
    system: SYSTEM,
    messages: [
      {
        role: 'user',
        content:
          'I moved my alarm to 5:40 again so I can get the river loop done before the trail fills ' +
          'up with cyclists. Any tips for keeping my knees happy on the gravel stretch?',
      },
    ],
    output: { name: 'preference_summary', jsonSchema: summarySchema },
    temperature: 0.7,
    maxTokens: 400,
    sample: 0,
    task: { promptId: 'summarize-habit', promptVersion: 1, input: {} },
    ...overrides,
  };
}

const API_KEY = 'sk-test-7Hq2vXa9LmPz4RtY8wKc3NbE';

interface ProviderCase {
  name: string;
  route: WireRoute;
  make(server: WireServer, options?: { maxRetries?: number; timeoutMs?: number }): Provider;
  /** How the wire protocol spells "stopped at the token limit". */
  lengthStop: string;
}

const cases: ProviderCase[] = [
  {
    name: 'anthropic',
    route: '/v1/messages',
    make: (server, options = {}) =>
      createAnthropicProvider({
        apiKey: API_KEY,
        baseURL: server.url,
        ...options,
      }),
    lengthStop: 'max_tokens',
  },
  {
    name: 'openai',
    route: '/v1/chat/completions',
    make: (server, options = {}) =>
      createOpenAIProvider({
        apiKey: API_KEY,
        baseURL: `${server.url}/v1`,
        ...options,
      }),
    lengthStop: 'length',
  },
];

async function failure(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LlmError);
    return error as LlmError;
  }
  throw new Error('Expected the call to fail, but it succeeded.');
}

function parseFailure(response: LlmResponse): LlmError {
  try {
    parseJsonOutput(response);
  } catch (error) {
    expect(error).toBeInstanceOf(LlmError);
    return error as LlmError;
  }
  throw new Error('Expected parseJsonOutput to throw, but it returned.');
}

let server: WireServer;
beforeEach(async () => {
  server = await startWireServer();
});
afterEach(async () => {
  await server.close();
});

for (const { name, route, make, lengthStop } of cases) {
  describe(`${name} provider`, () => {
    it('returns the JSON text, usage and finish reason of a good answer', async () => {
      const response = await make(server).complete(makeRequest());

      expect(server.requests[0]).toMatchObject({ method: 'POST', path: route });
      expect(Summary.parse(parseJsonOutput(response))).toEqual(WIRE_DEFAULT_ANSWER);
      expect(response.finishReason).toBe('stop');
      expect(response.model).toBe('test-model');
      expect(response.usage.inputTokens).toBeGreaterThan(0);
      expect(response.usage.outputTokens).toBeGreaterThan(0);
      expect(server.requests).toHaveLength(1);
    });

    it('reports the repeated system prompt as read from the prompt cache', async () => {
      const provider = make(server);
      await provider.complete(makeRequest());
      const second = await provider.complete(makeRequest());

      expect(second.usage.cacheReadTokens).toBeGreaterThan(0);
    });

    it('retries a 429 and waits as long as retry-after asks', async () => {
      server.enqueue(route, { status: 429, retryAfter: 1 });
      const started = performance.now();

      const response = await make(server).complete(makeRequest());

      expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
      expect(server.requests).toHaveLength(2);
      const [first, second] = server.requests;
      expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(990);
      expect(response.finishReason).toBe('stop');
    });

    it('retries a 500 and then succeeds', async () => {
      server.enqueue(route, { status: 500, retryAfterMs: 20 });

      const response = await make(server).complete(makeRequest());

      expect(parseJsonOutput(response)).toEqual(WIRE_DEFAULT_ANSWER);
      expect(server.requests).toHaveLength(2);
      expect(server.requests[1]!.headers['x-stainless-retry-count']).toBe('1');
    });

    it('gives up after maxRetries with a retryable server_error', async () => {
      server.enqueue(route, ...Array.from({ length: 3 }, () => ({ status: 500, retryAfterMs: 10 })));

      const error = await failure(make(server, { maxRetries: 2 }).complete(makeRequest()));

      expect(error.llmCode).toBe('server_error');
      expect(error.status).toBe(500);
      expect(error.retryable).toBe(true);
      expect(server.requests).toHaveLength(3);
    });

    it('hands back the retry-after of a 429 that outlasts the retries', async () => {
      server.enqueue(route, { status: 429, retryAfter: 7 });

      const error = await failure(make(server, { maxRetries: 0 }).complete(makeRequest()));

      expect(error.llmCode).toBe('rate_limited');
      expect(error.status).toBe(429);
      expect(error.retryAfterSeconds).toBe(7);
      expect(error.retryable).toBe(true);
      expect(server.requests).toHaveLength(1);
    });

    it('reads a retry-after given as an HTTP date', async () => {
      const inThreeSeconds = new Date(Date.now() + 3000).toUTCString();
      server.enqueue(route, { status: 429, retryAfter: inThreeSeconds });

      const error = await failure(make(server, { maxRetries: 0 }).complete(makeRequest()));

      expect(error.retryAfterSeconds).toBeGreaterThan(1);
      expect(error.retryAfterSeconds).toBeLessThanOrEqual(3);
    });

    it.each([
      { status: 400, code: 'bad_request' },
      { status: 401, code: 'auth' },
      { status: 403, code: 'auth' },
      { status: 404, code: 'not_found' },
    ] as const)('does not retry a $status and reports it as $code', async ({ status, code }) => {
      server.enqueue(route, { status });

      const error = await failure(make(server).complete(makeRequest()));

      expect(error.llmCode).toBe(code);
      expect(error.status).toBe(status);
      expect(error.retryable).toBe(false);
      expect(server.requests).toHaveLength(1);
    });

    it('reports a reply slower than timeoutMs as a retryable timeout', async () => {
      server.enqueue(route, { delayMs: 3000 });
      const started = performance.now();

      const error = await failure(make(server, { timeoutMs: 300, maxRetries: 0 }).complete(makeRequest()));

      expect(error.llmCode).toBe('timeout');
      expect(error.retryable).toBe(true);
      expect(performance.now() - started).toBeLessThan(2500);
    });

    it('retries a timed-out attempt', async () => {
      server.enqueue(route, { delayMs: 3000 });

      const response = await make(server, {
        timeoutMs: 300,
        maxRetries: 1,
      }).complete(makeRequest());

      expect(response.finishReason).toBe('stop');
      expect(server.requests).toHaveLength(2);
    });

    it('reports a body cut off mid-transfer as a retryable connection error', async () => {
      server.enqueue(route, { truncatedBody: true });

      const error = await failure(make(server).complete(makeRequest()));

      expect(error.llmCode).toBe('connection');
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/could not be read: terminated \(other side closed\)/);
      // Reading the body happens after the SDK's retry loop, so it is not retried there.
      expect(server.requests).toHaveLength(1);
    });

    it('reports an unreachable server as a retryable connection error', async () => {
      const gone = await startWireServer();
      await gone.close();

      const error = await failure(make(gone, { maxRetries: 0 }).complete(makeRequest()));

      expect(error.llmCode).toBe('connection');
      expect(error.retryable).toBe(true);
      expect(error.message).toMatch(/ECONNREFUSED/);
    });

    it('keeps the raw text of an answer that is not JSON', async () => {
      const prose = 'The user clearly enjoys running early, before the trail gets busy.';
      server.enqueue(route, { json: prose });

      const response = await make(server).complete(makeRequest());
      const error = parseFailure(response);

      expect(error.llmCode).toBe('invalid_output');
      expect(error.code).toBe('invalid_output');
      expect(error.raw).toBe(prose);
      expect(error.message).toMatch(/not valid JSON \(.*Unexpected token/);
    });

    it('reports an answer cut off at the token limit as truncated, keeping the text', async () => {
      const partial = '{"summary": "Prefers early morning runs along the riv';
      server.enqueue(route, { json: partial, stopReason: lengthStop });

      const response = await make(server).complete(makeRequest());
      const error = parseFailure(response);

      expect(response.finishReason).toBe('length');
      expect(error.llmCode).toBe('truncated');
      expect(error.raw).toBe(partial);
    });

    it('reports a refusal as refused', async () => {
      server.enqueue(route, {
        refusal: 'I cannot help with profiling this person.',
      });

      const response = await make(server).complete(makeRequest());
      const error = parseFailure(response);

      expect(response.finishReason).toBe('refusal');
      expect(error.llmCode).toBe('refused');
      expect(error.message).toContain('I cannot help with profiling this person.');
    });

    it('never shows the API key in an error, even when the server echoes it', async () => {
      server.enqueue(route, { status: 401, echoKey: true });

      const error = await failure(make(server).complete(makeRequest()));

      expect(error.llmCode).toBe('auth');
      expect(error.message).toContain('[redacted]');
      expect(error.message).not.toContain(API_KEY);
      expect(inspect(error, { depth: 10 })).not.toContain(API_KEY);
    });

    it('stops with aborted when the signal fires during the call', async () => {
      server.enqueue(route, { delayMs: 3000 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const started = performance.now();

      const error = await failure(make(server).complete(makeRequest(), { signal: controller.signal }));

      expect(error.llmCode).toBe('aborted');
      expect(error.retryable).toBe(false);
      expect(performance.now() - started).toBeLessThan(2000);
      expect(server.requests).toHaveLength(1);
    });

    it('sends nothing when the signal has already fired', async () => {
      const error = await failure(make(server).complete(makeRequest(), { signal: AbortSignal.abort() }));

      expect(error.llmCode).toBe('aborted');
      expect(server.requests).toHaveLength(0);
    });
  });
}

describe('anthropic provider only', () => {
  const make = (options: { maxRetries?: number } = {}) =>
    createAnthropicProvider({
      apiKey: API_KEY,
      baseURL: server.url,
      ...options,
    });

  it('sends the system prompt as a cached block and forces one tool with the derived schema', async () => {
    const request = makeRequest();
    await make().complete(request);

    const sent = server.requests[0]!;
    expect(sent.credential).toBe('bearer');
    expect(sent.headers['anthropic-version']).toBeDefined();
    expect(sent.body).toMatchObject({
      model: 'test-model',
      max_tokens: 400,
      system: [{ type: 'text', text: SYSTEM, cache_control: { type: 'ephemeral' } }],
      messages: request.messages,
      tools: [{ name: 'preference_summary', input_schema: summarySchemaSent }],
      tool_choice: { type: 'tool', name: 'preference_summary' },
    });
    // API version 2026-10-21 answers 400 to any sampling parameter.
    expect(sent.body).not.toHaveProperty('temperature');
  });

  it('reports cache writes on the first call and cache reads on the next', async () => {
    const provider = make();
    const first = await provider.complete(makeRequest());
    const second = await provider.complete(makeRequest());

    expect(first.usage.cacheWriteTokens).toBeGreaterThan(0);
    expect(first.usage.cacheReadTokens).toBe(0);
    expect(second.usage.cacheReadTokens).toBe(first.usage.cacheWriteTokens);
    expect(second.usage.cacheWriteTokens).toBe(0);
  });

  it('retries a 529 overloaded and then succeeds', async () => {
    server.enqueue('/v1/messages', { status: 529, retryAfterMs: 20 });

    const response = await make().complete(makeRequest());

    expect(response.finishReason).toBe('stop');
    expect(server.requests).toHaveLength(2);
  });

  it('gives up on repeated 529s with a retryable overloaded error', async () => {
    server.enqueue('/v1/messages', { status: 529, retryAfterMs: 10 }, { status: 529, retryAfterMs: 10 });

    const error = await failure(make({ maxRetries: 1 }).complete(makeRequest()));

    expect(error.llmCode).toBe('overloaded');
    expect(error.status).toBe(529);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('overloaded_error');
    expect(server.requests).toHaveLength(2);
  });

  it('names the request-id of a failed call', async () => {
    server.enqueue('/v1/messages', {
      status: 400,
      errorMessage: 'messages.0.content: must not be empty',
    });

    const error = await failure(make().complete(makeRequest()));

    expect(error.message).toMatch(/invalid_request_error: messages\.0\.content: must not be empty/);
    expect(error.message).toMatch(/request-id req_[0-9a-f]+/);
  });

  it('rejects an output schema that is not an object before sending', async () => {
    const request = makeRequest({
      output: { name: 'labels', jsonSchema: { type: 'array' } },
    });

    const error = await failure(make().complete(request));

    expect(error.llmCode).toBe('bad_request');
    expect(server.requests).toHaveLength(0);
  });

  it('refuses to start without an API key', () => {
    expect(() => createAnthropicProvider({ apiKey: '' })).toThrow(/Expected `apiKey`/);
  });
});

describe('openai provider only', () => {
  it('sends the system prompt first and a json_schema response format from the derived schema', async () => {
    const request = makeRequest();
    await createOpenAIProvider({
      apiKey: API_KEY,
      baseURL: `${server.url}/v1`,
    }).complete(request);

    const sent = server.requests[0]!;
    expect(sent.credential).toBe('bearer');
    expect(sent.body).toEqual({
      model: 'test-model',
      messages: [{ role: 'system', content: SYSTEM }, ...request.messages],
      temperature: 0.7,
      max_tokens: 400,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'preference_summary',
          schema: summarySchemaSent,
          strict: false,
        },
      },
    });
  });

  it('sends max_completion_tokens when asked to', async () => {
    await createOpenAIProvider({
      apiKey: API_KEY,
      baseURL: `${server.url}/v1`,
      tokenLimitParam: 'max_completion_tokens',
    }).complete(makeRequest());

    expect(server.requests[0]!.body).toMatchObject({
      max_completion_tokens: 400,
    });
    expect(server.requests[0]!.body).not.toHaveProperty('max_tokens');
  });

  it('talks to a local server without an API key', async () => {
    const response = await createOpenAIProvider({
      baseURL: `${server.url}/v1`,
    }).complete(makeRequest());

    expect(parseJsonOutput(response)).toEqual(WIRE_DEFAULT_ANSWER);
    expect(server.requests[0]!.credential).toBe('bearer');
  });

  it('refuses to start without an API key or a base URL', () => {
    expect(() => createOpenAIProvider({})).toThrow(/Expected `apiKey`/);
  });

  it('counts cached prompt tokens apart from the uncached input', async () => {
    const provider = createOpenAIProvider({
      apiKey: API_KEY,
      baseURL: `${server.url}/v1`,
    });
    const first = await provider.complete(makeRequest());
    const second = await provider.complete(makeRequest());

    expect(second.usage.cacheReadTokens).toBeGreaterThan(0);
    expect(second.usage.inputTokens + second.usage.cacheReadTokens).toBe(first.usage.inputTokens);
  });

  it('reads a JSON object that a weaker server wrapped in a fence and prose', async () => {
    const wrapped =
      'Here is the object you asked for:\n```json\n' +
      JSON.stringify(WIRE_DEFAULT_ANSWER, null, 2) +
      '\n```\nLet me know if you need anything else.';
    server.enqueue('/v1/chat/completions', { json: wrapped });

    const response = await createOpenAIProvider({
      baseURL: `${server.url}/v1`,
    }).complete(makeRequest());

    expect(parseJsonOutput(response)).toEqual(WIRE_DEFAULT_ANSWER);
  });

  it('reports a content_filter stop as a refusal', async () => {
    server.enqueue('/v1/chat/completions', {
      json: '',
      stopReason: 'content_filter',
    });

    const response = await createOpenAIProvider({
      baseURL: `${server.url}/v1`,
    }).complete(makeRequest());

    expect(response.finishReason).toBe('refusal');
    expect(parseFailure(response).llmCode).toBe('refused');
  });
});

describe('parseJsonOutput', () => {
  const answer = (text: string, finishReason: LlmResponse['finishReason'] = 'stop'): LlmResponse => ({
    text,
    finishReason,
    model: 'test-model',
    usage: {
      inputTokens: 1,
      outputTokens: 1,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    },
  });

  it('skips braces inside strings and brace-shaped prose before the object', () => {
    const text = 'Using the template {name}, the result is {"summary": "Writes notes like {draft} first", "confidence": 0.4}.';

    expect(parseJsonOutput(answer(text))).toEqual({
      summary: 'Writes notes like {draft} first',
      confidence: 0.4,
    });
  });

  it('rejects JSON that is not an object', () => {
    const error = parseFailure(answer('["running", "cycling"]'));

    expect(error.llmCode).toBe('invalid_output');
    expect(error.message).toContain('an array');
  });

  it('rejects an empty answer', () => {
    expect(parseFailure(answer('')).llmCode).toBe('invalid_output');
  });
});
