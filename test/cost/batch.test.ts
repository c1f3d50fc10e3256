import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../pipeline/config/index.js';
import { writeFileAtomic } from '../../pipeline/core/files.js';
import { createAnthropicBatchBackend } from '../../pipeline/llm/batch-anthropic.js';
import { createOpenAIBatchBackend } from '../../pipeline/llm/batch-openai.js';
import {
  type BatchBackend,
  type BatchRecord,
  type BatchingProvider,
  createBatchingProvider,
  withBatching,
} from '../../pipeline/llm/batch.js';
import { cacheKeyOf } from '../../pipeline/llm/client.js';
import { parseJsonOutput } from '../../pipeline/llm/parse.js';
import { LlmError, type LlmRequest } from '../../pipeline/llm/types.js';
import { NO_KEYS, removeDir, tempDir } from '../helpers/offline-run.js';
import { WIRE_DEFAULT_ANSWER, type WireBatchProtocol, type WireServer, startWireServer } from '../helpers/wire-server.js';

const API_KEY = 'sk-test-batch-4Jd8Qw2Lx7Vn';
const Summary = z.object({ summary: z.string(), confidence: z.number() });
const { $schema: _dialect, ...summarySchema } = z.toJSONSchema(Summary) as Record<string, unknown>;

const HABITS = [
  'I keep a spare pair of running shoes at the office for the lunchtime loop by the canal.',
  'Every Sunday I batch-cook lentil soup so weekday dinners take ten minutes.',
  'I switched my phone to grayscale after nine to stop scrolling in bed.',
  'My balcony tomatoes get watered at six, before the sun hits that side of the building.',
];

function request(i: number): LlmRequest {
  return {
    model: 'test-model',
    system: 'State, in one sentence, the habit the user revealed without saying it outright. Answer with the JSON object only.',
    messages: [{ role: 'user', content: HABITS[i % HABITS.length]! }],
    output: { name: 'preference_summary', jsonSchema: summarySchema },
    temperature: 0.7,
    maxTokens: 300,
    sample: Math.floor(i / HABITS.length),
    task: { promptId: 'summarize-habit', promptVersion: 1, input: {} },
  };
}

function backendFor(protocol: WireBatchProtocol, server: WireServer): BatchBackend {
  return protocol === 'anthropic'
    ? createAnthropicBatchBackend({ apiKey: API_KEY, baseURL: server.url, maxRetries: 0 })
    : createOpenAIBatchBackend({ apiKey: API_KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
}

/** Waits (bounded) until `test` holds. */
async function until(test: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  for (let waited = 0; !test(); waited += 10) {
    if (waited > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function records(dir: string): Promise<BatchRecord[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json') && !n.endsWith('.results.json')).sort();
  return Promise.all(names.map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as BatchRecord));
}

let server: WireServer;
let dir: string;
const open: BatchingProvider[] = [];
beforeEach(async () => {
  server = await startWireServer();
  dir = await tempDir('batch');
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
  await server.close();
  await removeDir(dir);
});

for (const protocol of ['anthropic', 'openai'] as const) {
  describe(`${protocol} batch API`, () => {
    const provider = (options: { poll_ms?: number; max_submissions?: number } = {}) => {
      const p = createBatchingProvider({ backend: backendFor(protocol, server), dir, window_ms: 30, poll_ms: 10, ...options });
      open.push(p);
      return p;
    };
    const ids = (n: number) => Array.from({ length: n }, (_, i) => cacheKeyOf(protocol, request(i)));

    it('sends the requests of one window as one batch and answers each caller', async () => {
      const p = provider();
      const responses = await Promise.all([0, 1, 2].map((i) => p.complete(request(i))));

      expect(server.batches).toHaveLength(1);
      expect(server.batches[0]!.customIds.sort()).toEqual(ids(3).sort());
      for (const r of responses) {
        expect(parseJsonOutput(r)).toEqual(WIRE_DEFAULT_ANSWER);
        expect(r.usage.outputTokens).toBeGreaterThan(0);
      }
      expect([...server.billed.values()]).toEqual([1, 1, 1]);
    });

    it('shares one submission between callers asking the same thing at once', async () => {
      const p = provider();
      const [a, b] = await Promise.all([p.complete(request(0)), p.complete(request(0))]);

      expect(a).toEqual(b);
      expect(server.batches).toHaveLength(1);
      expect(server.batches[0]!.customIds).toEqual(ids(1));
    });

    it('records the batch id and request ids in the run store before the first status check', async () => {
      server.enqueueBatch(protocol, { pollsBeforeEnd: 1000 });
      const p = provider();
      const pending = Promise.allSettled([0, 1].map((i) => p.complete(request(i))));
      await until(() => (server.batches[0]?.polls ?? 0) >= 1, 'the first status check');

      const [record] = await records(dir);
      expect(record).toMatchObject({ provider: protocol, state: 'submitted', batch_id: server.batches[0]!.id });
      expect(record!.requests.sort()).toEqual(ids(2).sort());
      await p.close();
      await pending;
    });

    it('re-attaches after a restart in the middle of polling and submits nothing twice', async () => {
      server.enqueueBatch(protocol, { pollsBeforeEnd: 4 });
      const first = provider();
      const stopped = Promise.allSettled([0, 1, 2].map((i) => first.complete(request(i))));
      await until(() => (server.batches[0]?.polls ?? 0) >= 2, 'two status checks');
      await first.close(); // the process dies while polling
      for (const outcome of await stopped) {
        expect(outcome.status).toBe('rejected');
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({ llmCode: 'aborted' });
      }

      const restarted = provider();
      const responses = await Promise.all([0, 1, 2].map((i) => restarted.complete(request(i))));

      expect(responses.map((r) => parseJsonOutput(r))).toEqual([WIRE_DEFAULT_ANSWER, WIRE_DEFAULT_ANSWER, WIRE_DEFAULT_ANSWER]);
      expect(server.batches).toHaveLength(1);
      for (const id of ids(3)) {
        expect(server.submissions.get(id)).toBe(1);
        expect(server.billed.get(id)).toBe(1);
      }
      expect((await records(dir))[0]).toMatchObject({ state: 'ended' });
    });

    it('resubmits only the requests an expired batch left unanswered, and bills each once', async () => {
      server.enqueueBatch(protocol, { expireFrom: 1 });
      const p = provider();
      const responses = await Promise.all([0, 1, 2].map((i) => p.complete(request(i))));

      expect(responses).toHaveLength(3);
      expect(server.batches).toHaveLength(2);
      const [all, retried] = server.batches;
      expect(retried!.customIds.sort()).toEqual(all!.customIds.slice(1).sort());
      for (const id of ids(3)) expect(server.billed.get(id)).toBe(1);
      expect(server.submissions.get(all!.customIds[0]!)).toBe(1);
      for (const id of all!.customIds.slice(1)) expect(server.submissions.get(id)).toBe(2);
    });

    it('answers from a finished batch after a restart without asking the API again', async () => {
      await provider().complete(request(0));
      const before = server.requests.length;

      const response = await provider().complete(request(0));

      expect(parseJsonOutput(response)).toEqual(WIRE_DEFAULT_ANSWER);
      expect(server.requests.length).toBe(before);
    });

    it('gives up on a request after max_submissions expired batches', async () => {
      server.enqueueBatch(protocol, { expireFrom: 0 }, { expireFrom: 0 });
      const error = await provider({ max_submissions: 2 })
        .complete(request(0))
        .then(
          () => undefined,
          (e: unknown) => e,
        );

      expect(error).toBeInstanceOf(LlmError);
      expect(error).toMatchObject({ llmCode: 'server_error' });
      expect(server.submissions.get(ids(1)[0]!)).toBe(2);
      expect(server.billed.get(ids(1)[0]!)).toBeUndefined();
    });

    it('reports a refused batch creation as the API error, records nothing as sent, and sends it again when asked again', async () => {
      server.enqueueBatch(protocol, { status: 400 });
      const p = provider();
      const error = await p.complete(request(0)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ llmCode: 'bad_request', status: 400 });
      expect((await records(dir))[0]).toMatchObject({ state: 'not_submitted', batch_id: null });

      await p.complete(request(0));
      expect(server.submissions.get(ids(1)[0]!)).toBe(1);
    });
  });
}

describe('openai batch API only', () => {
  it('finds a batch sent just before a crash that left no batch id, instead of sending it again', async () => {
    const backend = backendFor('openai', server);
    const localId = 'mabc1234-0123456789';
    const customId = cacheKeyOf('openai', request(0));
    // The crash: the batch was created, but the process died before writing its id.
    await backend.submit([{ customId, request: request(0) }], localId, new AbortController().signal);
    const record: BatchRecord = {
      local_id: localId,
      provider: 'openai',
      model: 'test-model',
      state: 'submitting',
      batch_id: null,
      requests: [customId],
      submitted_at: null,
    };
    await writeFileAtomic(join(dir, `${localId}.json`), JSON.stringify(record));

    const p = createBatchingProvider({ backend, dir, window_ms: 10, poll_ms: 10 });
    open.push(p);
    const response = await p.complete(request(0));

    expect(parseJsonOutput(response)).toEqual(WIRE_DEFAULT_ANSWER);
    expect(server.batches).toHaveLength(1);
    expect(server.submissions.get(customId)).toBe(1);
    expect((await records(dir))[0]).toMatchObject({ state: 'ended', batch_id: server.batches[0]!.id });
  });

  it('uploads the requests as a JSONL file with purpose batch and labels the batch', async () => {
    const p = createBatchingProvider({ backend: backendFor('openai', server), dir, window_ms: 10, poll_ms: 10 });
    open.push(p);
    await p.complete(request(0));

    const upload = server.requests.find((r) => r.method === 'POST' && r.path === '/v1/files');
    expect(upload?.headers['content-type']).toMatch(/^multipart\/form-data/);
    const create = server.requests.find((r) => r.method === 'POST' && r.path === '/v1/batches');
    expect(create?.body).toMatchObject({
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { personagen_batch: expect.any(String) },
    });
  });
});

describe('batch mode of a run', () => {
  it('replaces the network providers the stages use with batching ones, and leaves other runs alone', async () => {
    const env = { ...NO_KEYS, ANTHROPIC_API_KEY: API_KEY };
    const { config } = await loadConfig({ overrides: { llm: { provider: 'anthropic' }, batch: { poll_ms: 50 } }, env, cwd: dir });
    const options = withBatching(config, dir, { env });
    expect(options.providers?.anthropic?.name).toBe('anthropic');
    expect(options.providers?.openai).toBeUndefined();
    await (options.providers!.anthropic as BatchingProvider).close();

    const { config: plain } = await loadConfig({ overrides: { llm: { provider: 'anthropic' } }, env, cwd: dir });
    const untouched = { env };
    expect(withBatching(plain, dir, untouched)).toBe(untouched);
  });
});
