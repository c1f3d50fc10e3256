import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_PROMPTS } from '../../prompts/index.js';
import { LENGTH_TARGETS, calibrationFactor, measureAnswer } from '../../pipeline/cost/calibration.js';
import { type Estimate, estimate, formatEstimate, samplePids } from '../../pipeline/cost/estimate.js';
import { Prices, PriceTable, bundledPrices, usdOf } from '../../pipeline/cost/prices.js';
import { runCli } from '../helpers/cli.js';
import { NO_KEYS, removeDir, tempDir } from '../helpers/offline-run.js';

let root: string;
let scratch: string;
let sampled: Estimate;
let configured: Estimate;

beforeAll(async () => {
  root = await tempDir('estimate');
  scratch = join(root, 'scratch');
  await writeFile(join(root, 'small.yaml'), 'sizes: [8k, 16k]\n');
  // A config that names network providers, with no keys in the environment.
  await writeFile(
    join(root, 'claude.yaml'),
    'sizes: [8k]\nllm:\n  provider: anthropic\n  stages:\n    filters: { provider: openai, model: gpt-4.1-mini }\n',
  );
  await mkdir(scratch);
  [sampled, configured] = await Promise.all([
    estimate({
      cwd: root,
      configFile: 'small.yaml',
      users: 3,
      sample: 2,
      models: ['claude-sonnet-4-5', 'gpt-4.1-mini'],
      env: NO_KEYS,
      scratchParent: scratch,
    }),
    estimate({ cwd: root, configFile: 'claude.yaml', users: 1, env: NO_KEYS, scratchParent: scratch }),
  ]);
});
afterAll(async () => {
  await removeDir(root);
});

describe('personagen estimate', () => {
  it('reports totals equal to the sum of the per-stage rows', () => {
    for (const e of [sampled, configured]) {
      for (const s of e.scenarios) {
        const sum = (k: 'calls' | 'input_tokens' | 'output_tokens' | 'cache_read_tokens' | 'cache_write_tokens') =>
          s.rows.reduce((n, r) => n + r[k], 0);
        expect(s.total.calls).toBe(sum('calls'));
        expect(s.total.input_tokens).toBe(sum('input_tokens'));
        expect(s.total.output_tokens).toBe(sum('output_tokens'));
        expect(s.total.cache_read_tokens + s.total.cache_write_tokens).toBe(sum('cache_read_tokens') + sum('cache_write_tokens'));
        expect(s.total.usd).toBeCloseTo(
          s.rows.reduce((n, r) => n + r.usd, 0),
          6,
        );
        expect(s.total.usd_batch).toBeCloseTo(
          s.rows.reduce((n, r) => n + r.usd_batch, 0),
          6,
        );
      }
    }
  });

  it('prices each row from its own tokens at standard and batch prices', () => {
    const table = new Prices(bundledPrices());
    for (const s of sampled.scenarios) {
      for (const r of s.rows) {
        const usage = {
          inputTokens: r.input_tokens,
          outputTokens: r.output_tokens,
          cacheReadTokens: r.cache_read_tokens,
          cacheWriteTokens: r.cache_write_tokens,
        };
        expect(r.usd).toBeCloseTo(usdOf(usage, table.require(r.model), 'standard'), 5);
        expect(r.usd_batch).toBeCloseTo(r.usd / 2, 5);
      }
    }
  });

  it('runs a seeded sample of users, scales the per-user stages and runs the shared filler pool once', () => {
    expect(sampled.sample).toMatchObject({ users: 2, of: 3, exact: false, scale: 1.5 });
    expect(sampled.sample.note).toMatch(/seeded sample of 2 of 3 users/);
    const rows = sampled.scenarios[0]!.rows;
    const filler = rows.find((r) => r.stage === 'filler')!;
    // 16k: the pool holds max(64, 16000/180) conversations, none of them scaled.
    expect(filler.calls).toBe(89);
    expect(rows.find((r) => r.stage === 'profile')!.calls).toBe(3);
    expect(samplePids({ users: 3, seed: '1' }, 2)).toEqual(samplePids({ users: 3, seed: '1' }, 2));
    expect(samplePids({ users: 1000, seed: '1' }, 50)).toHaveLength(50);
  });

  it('calibrates output lengths per prompt to the words each prompt asks for', () => {
    const session = sampled.calibration.find((c) => c.prompt === 'session')!;
    expect(session.target_words).toEqual([350, 600]);
    expect(session.offline_mean_words! * session.factor).toBeCloseTo(475, 0);
    const judge = sampled.calibration.find((c) => c.prompt === 'judge-blind');
    expect(judge?.factor ?? 1).toBe(1);
  });

  it('prices a config that names network providers without keys and without the network', () => {
    expect(configured.scenarios.map((s) => s.name)).toEqual(['config']);
    const byStage = Object.fromEntries(configured.scenarios[0]!.rows.map((r) => [r.stage, r.model]));
    expect(byStage).toMatchObject({ sessions: 'claude-sonnet-4-5', filters: 'gpt-4.1-mini' });
  });

  it('reports cost and tokens billed per accepted question and per token of dataset text', () => {
    for (const s of sampled.scenarios) {
      expect(sampled.accepted_questions).toBeGreaterThan(0);
      expect(s.per_question.usd).toBeCloseTo(s.total.usd / sampled.accepted_questions, 5);
      expect(s.per_question.billed_tokens).toBeGreaterThan(0);
      expect(s.billed_tokens_per_dataset_token).toBeGreaterThan(0);
    }
    expect(formatEstimate(sampled)).toMatch(/per accepted question: \$/);
  });

  it('removes its scratch store', async () => {
    expect(await readdir(scratch)).toEqual([]);
  });

  it('prints JSON from the command line', async () => {
    const result = await runCli(['estimate', '-c', 'small.yaml', '--users', '1', '--models', 'gpt-4.1-mini', '--json'], root);
    expect(result.code).toBe(0);
    const e = JSON.parse(result.stdout) as Estimate;
    expect(e.users).toBe(1);
    expect(e.scenarios[0]!.name).toBe('gpt-4.1-mini');
  });

  it('names the model and the config block when a model has no price', async () => {
    const result = await runCli(['estimate', '-c', 'small.yaml', '--users', '1', '--models', 'mystery-model-7'], root);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no price for model `mystery-model-7`.*prices/);
  });
});

describe('calibration table', () => {
  it('states each length target the way its prompt instructions do', () => {
    for (const t of LENGTH_TARGETS) {
      const prompt = ALL_PROMPTS.find((p) => p.id === t.promptId);
      expect(prompt, t.promptId).toBeDefined();
      expect(prompt!.instructions).toContain(t.phrase);
      expect(t.phrase).toContain(`${t.words[0]}-${t.words[1]}`);
    }
  });

  it('scales to the middle of the asked range', () => {
    const session = LENGTH_TARGETS.find((t) => t.promptId === 'session')!;
    const m = measureAnswer(session, {
      messages: [
        { role: 'user', content: 'one two three' },
        { role: 'assistant', content: 'four five' },
      ],
    })!;
    expect(m).toEqual({ words: 5, items: 1 });
    expect(calibrationFactor(session, { words: 950, items: 4 })).toBeCloseTo(2, 6);
    expect(calibrationFactor(undefined, { words: 10, items: 1 })).toBe(1);
  });
});

describe('price table', () => {
  it('ships as valid data with the date it was read and its sources', async () => {
    const table = PriceTable.parse(JSON.parse(await readFile(new URL('../../pipeline/cost/prices.json', import.meta.url), 'utf8')));
    expect(table.read_on).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(Object.keys(table.sources)).toEqual(expect.arrayContaining(['anthropic', 'openai']));
    expect(table.models['offline-sim-1']).toMatchObject({ input: 0, output: 0 });
  });

  it('prices dated model names as their base model, and lets the config override or add models', () => {
    const prices = new Prices(bundledPrices(), { 'gpt-4.1-mini': { input: 0.5 }, 'local-llama': { input: 0.2, output: 0.2 } });
    expect(prices.require('claude-sonnet-4-5-20250929')).toEqual(prices.require('claude-sonnet-4-5'));
    expect(prices.require('gpt-4.1-mini-2025-04-14')).toMatchObject({ input: 0.5, output: 1.6 });
    expect(prices.require('local-llama')).toMatchObject({ provider: 'openai', cache_read: 0.2, batch_discount: 0 });
    expect(() => new Prices(bundledPrices(), { 'local-llama': { input: 0.2 } })).toThrow(/both `input` and `output`/);
    expect(() => prices.require('mystery-model-7')).toThrow(/no price for model `mystery-model-7`/);
  });
});
