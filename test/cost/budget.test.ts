import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_PROMPTS } from '../../prompts/index.js';
import { o200k } from '../../pipeline/core/tokenizer.js';
import { BudgetExceededError, CostMeter, FileSpendStore, type Spend, type SpendStore, spendDir } from '../../pipeline/cost/budget.js';
import { Prices, bundledPrices } from '../../pipeline/cost/prices.js';
import type { LlmRequest } from '../../pipeline/llm/types.js';
import { type CliResult, fileDigests, runCli } from '../helpers/cli.js';
import { removeDir, tempDir } from '../helpers/offline-run.js';

const zero: Spend = { usd: 0, calls: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 };

function memoryStore(others: Partial<Spend> = {}): SpendStore & { saved: Spend[] } {
  const saved: Spend[] = [];
  return {
    saved,
    others: () => Promise.resolve({ ...zero, ...others }),
    save: (s) => void saved.push({ ...s }),
    flush: () => Promise.resolve(),
  };
}

/** $1 per million tokens in and out, so a call of n tokens costs n/1e6. */
const prices = new Prices(bundledPrices(), { 'meter-model': { provider: 'anthropic', input: 1, output: 1, batch_discount: 0.5 } });

function request(words: number, maxTokens = 100): LlmRequest {
  return {
    model: 'meter-model',
    system: '',
    messages: [{ role: 'user', content: Array.from({ length: words }, (_, i) => `word${i}`).join(' ') }],
    output: { name: 'out', jsonSchema: { type: 'object' } },
    temperature: 0,
    maxTokens,
    sample: 0,
    task: { promptId: 'p', promptVersion: 1, input: {} },
  };
}
const call = { stage: 'sessions', provider: 'anthropic' as const, model: 'meter-model' };
const usage = (input: number, output: number) => ({ inputTokens: input, outputTokens: output, cacheReadTokens: 0, cacheWriteTokens: 0 });

describe('the cost meter', () => {
  it('lets calls through while spend, calls in flight and the next call stay under the cap', async () => {
    const meter = await CostMeter.open({ prices, maxCostUsd: 0.001, store: memoryStore(), tokenizer: o200k });
    const a = await meter.admit(call, request(10));
    a.settle(usage(300, 100));
    const b = await meter.admit(call, request(10));
    b.settle(usage(300, 100));

    expect(meter.spentUsd).toBeCloseTo(0.0008, 9);
  });

  it('refuses the call that would pass the cap only after the calls in flight have finished', async () => {
    const meter = await CostMeter.open({ prices, maxCostUsd: 0.0005, store: memoryStore(), tokenizer: o200k });
    const inFlight = await meter.admit(call, request(10));
    let refusedAt: 'before' | 'after' | undefined;
    let settled = false;
    const refused = meter.admit(call, request(600, 100)).catch((error: unknown) => {
      refusedAt = settled ? 'after' : 'before';
      return error;
    });
    await new Promise((r) => setTimeout(r, 30));
    settled = true;
    inFlight.settle(usage(50, 50));

    const error = await refused;
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(refusedAt).toBe('after');
    expect((error as Error).message).toMatch(/stopped at the cost cap: \$0\.0001 spent of \$0\.0005.*personagen resume .* --max-cost/);
    // Once tripped, nothing new starts, however small.
    await expect(meter.admit(call, request(1))).rejects.toBeInstanceOf(BudgetExceededError);
  });

  it('counts what other processes of the run spent', async () => {
    const meter = await CostMeter.open({ prices, maxCostUsd: 1, store: memoryStore({ usd: 0.9999 }), tokenizer: o200k });
    expect(meter.spentUsd).toBeCloseTo(0.9999, 9);
    await expect(meter.admit(call, request(200))).rejects.toBeInstanceOf(BudgetExceededError);
  });

  it('bills calls of batched providers at the batch discount', async () => {
    const meter = await CostMeter.open({ prices, batched: new Set(['anthropic']), store: memoryStore(), tokenizer: o200k });
    (await meter.admit(call, request(1))).settle(usage(1000, 1000));
    expect(meter.spentUsd).toBeCloseTo(0.001, 9);
  });

  it('keeps each process spend in its own file of the run store, read back by the next process', async () => {
    const dir = await tempDir('spend');
    try {
      const first = new FileSpendStore(dir);
      first.save({ ...zero, usd: 0.25, calls: 3 });
      first.save({ ...zero, usd: 0.5, calls: 4 });
      await first.flush();
      const second = new FileSpendStore(dir);
      expect(await second.others()).toMatchObject({ usd: 0.5, calls: 4 });
      expect(await first.others()).toMatchObject({ usd: 0, calls: 0 });
    } finally {
      await removeDir(dir);
    }
  });
});

describe('generate --max-cost', () => {
  let root: string;
  let full: CliResult;
  let capped: CliResult;
  let resumed: CliResult;
  let raised: CliResult;
  let spentAtStop: number;
  const CAP = 0.05;
  const CONCURRENCY = 4;

  const spent = async (dir: string) => (await new FileSpendStore(spendDir(dir)).others()).usd;

  beforeAll(async () => {
    root = await tempDir('budget');
    // The offline provider, priced at $1 per million tokens, so an offline run costs something.
    await writeFile(join(root, 'priced.yaml'), 'users: 2\nsizes: [8k, 16k]\nprices:\n  offline-sim-1: { input: 1, output: 1 }\n');
    const flags = ['-c', 'priced.yaml', '--concurrency', String(CONCURRENCY), '--json', '--no-progress'];
    [full, capped] = await Promise.all([
      runCli(['generate', ...flags, '--out', 'full'], root),
      runCli(['generate', ...flags, '--out', 'capped', '--max-cost', String(CAP)], root),
    ]);
    spentAtStop = await spent(join(root, 'capped'));
    resumed = await runCli(['resume', 'capped', '--max-cost', String(CAP), '--no-progress'], root);
    raised = await runCli(['resume', 'capped', '--max-cost', '5', '--json', '--no-progress'], root);
  });
  afterAll(async () => {
    await removeDir(root);
  });

  it('stops at the cap with exit code 3 and says how to continue', async () => {
    expect(full.code).toBe(0);
    expect(capped.code).toBe(3);
    expect(capped.stderr).toMatch(/stopped at the cost cap: \$0\.0\d+ spent of \$0\.0500/);
    expect(capped.stderr).toMatch(/personagen resume .*capped --max-cost/);
    expect(capped.stderr).not.toMatch(/\n\s+at /);
  });

  it('spends no more than the cap plus one call in flight per worker', async () => {
    expect(await spent(join(root, 'full'))).toBeGreaterThan(CAP * 4);
    // A call costs at most its output limit plus its input (a couple of thousand tokens) at $1 per million.
    const dearestCall = (Math.max(...ALL_PROMPTS.map((p) => p.maxTokens)) + 2000) / 1e6;
    expect(spentAtStop).toBeLessThanOrEqual(CAP + CONCURRENCY * dearestCall);
    expect(spentAtStop).toBeGreaterThan(CAP - CONCURRENCY * dearestCall);
  });

  it('stops again at once when resumed with the same cap', () => {
    expect(resumed.code).toBe(3);
    expect(resumed.stderr).toMatch(/stopped at the cost cap/);
  });

  it('finishes on resume with a higher cap, with dataset files identical to an uncapped run', async () => {
    expect(raised.code).toBe(0);
    const [a, b] = await Promise.all([
      fileDigests(join(root, 'full'), { skip: ['.run'] }),
      fileDigests(join(root, 'capped'), { skip: ['.run'] }),
    ]);
    expect(Object.keys(b).length).toBeGreaterThan(3);
    expect(b).toEqual(a);
  });

  it('writes a manifest cost block whose totals equal its rows, by stage and by user plus the shared pool', async () => {
    const manifest = JSON.parse(await readFile(join(root, 'full', 'manifest.json'), 'utf8')) as {
      config: Record<string, unknown>;
      cost: {
        total: { calls: number; usd: number; input_tokens: number };
        by_stage: Array<{ stage: string; calls: number; usd: number; input_tokens: number }>;
        by_model: Array<{ model: string; usd: number }>;
        by_user: Array<{ user: number; usd: number }>;
        shared: { usd: number };
        efficiency: { accepted_questions: number; billed_tokens_per_question: number; billed_tokens_per_dataset_token: number };
      };
    };
    const { cost } = manifest;
    expect(cost.total.calls).toBe(cost.by_stage.reduce((n, r) => n + r.calls, 0));
    expect(cost.total.input_tokens).toBe(cost.by_stage.reduce((n, r) => n + r.input_tokens, 0));
    expect(cost.total.usd).toBeCloseTo(
      cost.by_stage.reduce((n, r) => n + r.usd, 0),
      5,
    );
    expect(cost.by_model).toEqual([expect.objectContaining({ model: 'offline:offline-sim-1', usd: cost.total.usd })]);
    expect(cost.by_user.map((u) => u.user)).toEqual([0, 1]);
    expect(cost.by_user.reduce((n, u) => n + u.usd, 0) + cost.shared.usd).toBeCloseTo(cost.total.usd, 5);
    expect(cost.shared.usd).toBeCloseTo(cost.by_stage.find((r) => r.stage === 'filler')!.usd, 5);
    expect(cost.efficiency.accepted_questions).toBeGreaterThan(0);
    expect(cost.efficiency.billed_tokens_per_question).toBeGreaterThan(0);
    expect(cost.efficiency.billed_tokens_per_dataset_token).toBeGreaterThan(0);
    // The cap is scheduling, not data: it is not in the manifest.
    expect(manifest.config).not.toHaveProperty('budget');
  });
});
