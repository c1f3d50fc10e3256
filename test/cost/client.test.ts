import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ALL_PROMPTS, definePrompt } from '../../prompts/index.js';
import { briefText } from '../../prompts/shared.js';
import { o200k } from '../../pipeline/core/tokenizer.js';
import { CostMeter } from '../../pipeline/cost/budget.js';
import { Prices, bundledPrices } from '../../pipeline/cost/prices.js';
import { createAnthropicProvider, buildParams as anthropicParams } from '../../pipeline/llm/anthropic.js';
import { createAnthropicBatchBackend } from '../../pipeline/llm/batch-anthropic.js';
import { createBatchingProvider } from '../../pipeline/llm/batch.js';
import { ResponseCache } from '../../pipeline/llm/cache.js';
import { LlmClient } from '../../pipeline/llm/client.js';
import { createOpenAIProvider, buildParams as openaiParams } from '../../pipeline/llm/openai.js';
import type { LlmRequest, Provider, ProviderName } from '../../pipeline/llm/types.js';
import { UsageLedger } from '../../pipeline/llm/usage.js';
import { offlineRuntime, removeDir, runUser, tempDir } from '../helpers/offline-run.js';
import { type WireServer, startWireServer } from '../helpers/wire-server.js';

const API_KEY = 'sk-test-client-9Kq3Zt5Rw1';

const habitPrompt = definePrompt({
  id: 'summarize-habit',
  version: 1,
  maxTokens: 300,
  instructions: 'State, in one sentence, the habit the user revealed without saying it outright. Reply with one JSON object only.',
  input: z.object({ note: z.string() }),
  output: z.object({ summary: z.string(), confidence: z.number().min(0).max(1) }),
  render: (i) => ({ messages: [{ role: 'user', content: i.note }] }),
  simulate: () => ({ summary: 'Runs early.', confidence: 0.5 }),
});

let server: WireServer;
let dir: string;
beforeEach(async () => {
  server = await startWireServer();
  dir = await tempDir('client');
});
afterEach(async () => {
  await server.close();
  await removeDir(dir);
});

function client(name: ProviderName, provider: Provider): LlmClient {
  return new LlmClient({
    providers: { [name]: provider },
    cache: new ResponseCache(dir),
    modelFor: () => ({ provider: name, model: 'test-model' }),
    temperature: 0.7,
    maxTokens: 1000,
    contentRetries: 2,
  });
}

const cases = [
  {
    name: 'anthropic' as const,
    route: '/v1/messages' as const,
    provider: () => createAnthropicProvider({ apiKey: API_KEY, baseURL: server.url, maxRetries: 0 }),
    lengthStop: 'max_tokens',
    lastMessage: (body: unknown) => (body as { messages: Array<{ content: string }> }).messages.at(-1)!.content,
  },
  {
    name: 'openai' as const,
    route: '/v1/chat/completions' as const,
    provider: () => createOpenAIProvider({ apiKey: API_KEY, baseURL: `${server.url}/v1`, maxRetries: 0 }),
    lengthStop: 'length',
    lastMessage: (body: unknown) => (body as { messages: Array<{ content: string }> }).messages.at(-1)!.content,
  },
];

for (const c of cases) {
  describe(`LlmClient on ${c.name}`, () => {
    it('asks again with the reason when an answer stops at the token limit, and keeps the second answer', async () => {
      server.enqueue(c.route, { json: '{"summary": "Walks the dog before', stopReason: c.lengthStop });
      const ledger = new UsageLedger();

      const out = await client(c.name, c.provider()).run(
        habitPrompt,
        { note: 'The dog and I are out by six.' },
        { stage: 'profile', ledger },
      );

      expect(out.summary).toBeTruthy();
      expect(server.requests).toHaveLength(2);
      expect(c.lastMessage(server.requests[1]!.body)).toMatch(/rejected: The answer was cut off at the token limit/);
      expect(ledger.snapshot()[0]).toMatchObject({ calls: 2 });
    });

    it('asks again with the reason when the model refuses', async () => {
      server.enqueue(c.route, { refusal: 'I would rather not guess at personal habits.' });

      await client(c.name, c.provider()).run(
        habitPrompt,
        { note: 'I only buy coffee beans roasted that week.' },
        { stage: 'profile', ledger: new UsageLedger() },
      );

      expect(server.requests).toHaveLength(2);
      expect(c.lastMessage(server.requests[1]!.body)).toMatch(/rejected: The model declined to answer: "I would rather not guess/);
    });

    it('counts the tokens read from the prompt cache in the ledger', async () => {
      const llm = client(c.name, c.provider());
      const ledger = new UsageLedger();
      await llm.run(habitPrompt, { note: 'Tuesday is pottery night, so dinner is always early.' }, { stage: 'sessions', ledger });
      await llm.run(habitPrompt, { note: 'I take the stairs to the ninth floor every morning.' }, { stage: 'sessions', ledger });

      const [row] = ledger.snapshot();
      expect(row!.calls).toBe(2);
      expect(row!.cacheReadTokens).toBeGreaterThan(0);
    });

    it('answers a repeated request from the response cache without a second call', async () => {
      const llm = client(c.name, c.provider());
      const ledger = new UsageLedger();
      const input = { note: 'I always pack the night before a flight.' };
      await llm.run(habitPrompt, input, { stage: 'profile', ledger });
      await llm.run(habitPrompt, input, { stage: 'profile', ledger });

      expect(server.requests).toHaveLength(1);
      expect(ledger.snapshot()[0]).toMatchObject({ calls: 1, cacheHits: 1 });
    });
  });
}

describe('batch mode through the LlmClient', () => {
  it('answers through the Anthropic batch API and the meter prices the call at the batch discount', async () => {
    const provider = createBatchingProvider({
      backend: createAnthropicBatchBackend({ apiKey: API_KEY, baseURL: server.url, maxRetries: 0 }),
      dir: `${dir}/batches`,
      window_ms: 10,
      poll_ms: 10,
    });
    const llm = client('anthropic', provider);
    const prices = new Prices(bundledPrices(), { 'test-model': { provider: 'anthropic', input: 3, output: 15, batch_discount: 0.5 } });
    const store = {
      others: () => Promise.resolve({ usd: 0, calls: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 }),
      save: () => undefined,
      flush: () => Promise.resolve(),
    };
    const meter = await CostMeter.open({ prices, batched: new Set(['anthropic']), store, tokenizer: o200k });
    llm.setCallGuard(meter);
    const ledger = new UsageLedger();

    const out = await llm.run(habitPrompt, { note: 'I read on the train instead of driving.' }, { stage: 'profile', ledger });

    expect(out.confidence).toBeGreaterThan(0);
    expect(server.batches).toHaveLength(1);
    const row = ledger.snapshot()[0]!;
    const full = (row.inputTokens * 3 + row.outputTokens * 15 + row.cacheWriteTokens * 3 + row.cacheReadTokens * 3) / 1e6;
    expect(meter.spentUsd).toBeGreaterThan(0);
    expect(meter.spentUsd).toBeLessThan(full);
    await provider.close();
  });
});

describe('prompt order for caching', () => {
  it('puts the instructions first and opens every per-user request with the same persona line', async () => {
    const seen: LlmRequest[] = [];
    const rt = await offlineRuntime(dir, { users: 1, sizes: ['8k'] });
    const offline = rt.llm;
    // Record what the offline provider is asked, through the guard hook that sees every call.
    offline.setCallGuard({
      admit: (_call, request) => {
        seen.push(request);
        return Promise.resolve({ settle: () => undefined, cancel: () => undefined });
      },
    });
    await runUser(rt, 0, 'sessions');

    const personal = seen.filter((r) => (r.task.input as { persona?: unknown }).persona !== undefined);
    expect(personal.length).toBeGreaterThan(10);
    for (const r of personal) {
      const prompt = ALL_PROMPTS.find((p) => p.id === r.task.promptId)!;
      expect(r.system).toBe(prompt.instructions);
      const persona = (r.task.input as { persona: Parameters<typeof briefText>[0] }).persona;
      expect(r.messages[0]!.content.startsWith(`User: ${briefText(persona)}`)).toBe(true);
      // On the wire: Anthropic's cached system block, OpenAI's system message, both before the messages.
      expect(anthropicParams(r).system).toEqual([{ type: 'text', text: prompt.instructions, cache_control: { type: 'ephemeral' } }]);
      expect(openaiParams(r, 'max_tokens').messages[0]).toEqual({ role: 'system', content: prompt.instructions });
    }
  });
});
