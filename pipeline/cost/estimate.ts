import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_PROMPTS } from '../../prompts/index.js';
import { type Config, type Env, LLM_STAGES, loadConfig, readEnv, stageModel, stageProvider } from '../config/index.js';
import { PersonagenError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { tokenizerFor } from '../core/tokenizer.js';
import { createRuntime } from '../engine/runtime.js';
import { runUnits } from '../executors/local.js';
import type { CallGuard } from '../llm/client.js';
import { createOfflineProvider } from '../llm/offline.js';
import type { LlmRequest, Provider } from '../llm/types.js';
import { calibrationFactor, lengthTarget, measureAnswer } from './calibration.js';
import { type CostFigures, addFigures, billedTokens, emptyFigures } from './ledger.js';
import { type ModelPrice, type Prices, pricesFor, roundUsd, usdOf } from './prices.js';

/** Users run offline when the run is larger; the rest is scaled from them. */
export const DEFAULT_SAMPLE = 50;

/** Models priced when neither `--models` nor the config names a network model. */
export const DEFAULT_ESTIMATE_MODELS = ['claude-sonnet-4-5', 'claude-haiku-4-5', 'gpt-4.1', 'gpt-4.1-mini'] as const;

/**
 * The system prompt Anthropic adds to a request whose tool_choice forces a tool; billed as input
 * (313 tokens on current models, per the tool-use pricing notes).
 */
const ANTHROPIC_TOOL_SYSTEM_TOKENS = 313;
/** Chat Completions framing: a few tokens per message and per reply. */
const OPENAI_TOKENS_PER_MESSAGE = 4;
const OPENAI_TOKENS_PER_REPLY = 3;

export interface EstimateOptions {
  cwd: string;
  configFile?: string | undefined;
  /** Users to price (overrides the config). */
  users?: number | undefined;
  /** Models to price every stage with, one scenario each. */
  models?: readonly string[] | undefined;
  /** Users actually run when there are more. @default 50 */
  sample?: number | undefined;
  env?: Env | undefined;
  /** Where the scratch store is made (removed afterwards). @default the system temp dir */
  scratchParent?: string | undefined;
}

/** What the offline run measured for one prompt in one stage. */
interface Measured {
  stage: string;
  promptId: string;
  calls: number;
  /** Input tokens as the offline provider counts them (system + messages). */
  inputTokens: number;
  outputTokens: number;
  /** Tokens of the system prompt and of the output schema, per call (constant per prompt). */
  systemTokens: number;
  schemaTokens: number;
  messages: number;
  words: number;
  items: number;
}

export interface EstimateRow extends CostFigures {
  stage: string;
  provider: string;
  model: string;
}

export interface EstimateScenario {
  /** The model every stage uses, or "config" for the config's own choice per stage. */
  name: string;
  rows: EstimateRow[];
  total: CostFigures;
  per_question: { usd: number | null; usd_batch: number | null; billed_tokens: number | null };
  billed_tokens_per_dataset_token: number | null;
}

export interface Estimate {
  users: number;
  sizes: string[];
  seed: string;
  prices_read_on: string;
  sample: { users: number; of: number; scale: number; exact: boolean; note: string };
  offline: { calls: number; seconds: number };
  calibration: Array<{
    stage: string;
    prompt: string;
    target_words: [number, number] | null;
    offline_mean_words: number | null;
    factor: number;
  }>;
  accepted_questions: number;
  questions_per_user: number;
  dataset_text_tokens: number;
  scenarios: EstimateScenario[];
  notes: string[];
}

/**
 * `personagen estimate`: runs the pipeline on the offline provider in a scratch store (a temp dir,
 * removed afterwards), measures every call, and prices the run as if each stage ran on the chosen
 * models. No network. Above `sample` users, a seeded sample of them is run and the per-user stages
 * are scaled up; the filler pool, shared by all users, always runs in full.
 */
export async function estimate(options: EstimateOptions): Promise<Estimate> {
  const env = options.env ?? readEnv();
  // The config may name network providers; their keys are not needed to price them offline.
  const { config } = await loadConfig({
    file: options.configFile,
    overrides: options.users !== undefined ? { users: options.users } : {},
    cwd: options.cwd,
    env: { ...env, ANTHROPIC_API_KEY: env.ANTHROPIC_API_KEY ?? 'unused', OPENAI_API_KEY: env.OPENAI_API_KEY ?? 'unused' },
  });
  const prices = pricesFor(config);
  const scenarios = scenarioModels(config, options.models, prices);
  const sampleSize = options.sample ?? DEFAULT_SAMPLE;
  if (!Number.isInteger(sampleSize) || sampleSize < 1) {
    throw new PersonagenError('bad_input', `Expected \`sample\` to be an integer >= 1, got ${sampleSize}`);
  }

  const pids = samplePids(config, sampleSize);
  const exact = pids.length === config.users;
  const scale = config.users / pids.length;
  const started = Date.now();
  const run = await runOffline(config, pids, options.scratchParent ?? tmpdir());
  const seconds = Number(((Date.now() - started) / 1000).toFixed(1));

  const factors = new Map<string, number>();
  const calibration = run.measured.map((m) => {
    const target = lengthTarget(m.promptId);
    const factor = calibrationFactor(target, m);
    factors.set(`${m.stage}\u0000${m.promptId}`, factor);
    return {
      stage: m.stage,
      prompt: m.promptId,
      target_words: target ? ([target.words[0], target.words[1]] as [number, number]) : null,
      offline_mean_words: target && m.items > 0 ? Number((m.words / m.items).toFixed(1)) : null,
      factor: Number(factor.toFixed(3)),
    };
  });
  const factorOf = (m: Measured) => factors.get(`${m.stage}\u0000${m.promptId}`) ?? 1;

  const acceptedQuestions = Math.round(run.accepted * scale);
  const sessionFactor = run.measured.find((m) => m.promptId === 'session');
  const fillerFactor = run.measured.find((m) => m.promptId === 'filler');
  const textTokens = Math.round(
    (run.sessionTokens * (sessionFactor ? factorOf(sessionFactor) : 1) + run.questionTokens) * scale +
      run.fillerTokens * (fillerFactor ? factorOf(fillerFactor) : 1),
  );

  const priced = scenarios.map(({ name, modelFor }) => {
    const rows: EstimateRow[] = [];
    for (const stage of LLM_STAGES) {
      const work = run.measured.filter((m) => m.stage === stage);
      if (work.length === 0) continue;
      const { model, provider, price } = modelFor(stage);
      const figures = emptyFigures();
      for (const m of work) addFigures(figures, priceWork(m, stage === 'filler' ? 1 : scale, factorOf(m), provider, price));
      rows.push({ stage, provider, model, ...figures, usd: roundUsd(figures.usd), usd_batch: roundUsd(figures.usd_batch) });
    }
    const total = rows.reduce((t, r) => addFigures(t, r), emptyFigures());
    total.usd = roundUsd(total.usd);
    total.usd_batch = roundUsd(total.usd_batch);
    const per = (n: number, d: number, digits: number) => (d > 0 ? Number((n / d).toFixed(digits)) : null);
    return {
      name,
      rows,
      total,
      per_question: {
        usd: per(total.usd, acceptedQuestions, 6),
        usd_batch: per(total.usd_batch, acceptedQuestions, 6),
        billed_tokens: per(billedTokens(total), acceptedQuestions, 1),
      },
      billed_tokens_per_dataset_token: per(billedTokens(total), textTokens, 3),
    };
  });

  const notes = [
    'Output tokens are the offline run\u2019s, scaled per prompt to the length each prompt asks a model for (see calibration).',
    'Input tokens add what a network call also sends: the output schema, and Anthropic\u2019s tool-use system prompt or OpenAI\u2019s message framing.',
    'Prompt caching is counted only where a prompt\u2019s stable prefix (tools, schema, instructions) reaches the model\u2019s minimum cacheable length.',
    'Real models fail filters and schema checks at their own rates; redrafts and content retries can add calls the offline run does not make.',
    'Token counts use o200k_base; models with other tokenizers bill somewhat different counts.',
  ];
  return {
    users: config.users,
    sizes: config.sizes,
    seed: config.seed,
    prices_read_on: prices.readOn,
    sample: {
      users: pids.length,
      of: config.users,
      scale: Number(scale.toFixed(4)),
      exact,
      note: exact
        ? `every user was run on the offline provider`
        : `estimated from a seeded sample of ${pids.length} of ${config.users} users, run on the offline provider and scaled \u00d7${Number(scale.toFixed(4))}; the filler pool (${run.fillerCount} conversations, shared by all users) ran in full`,
    },
    offline: { calls: run.measured.reduce((n, m) => n + m.calls, 0), seconds },
    calibration,
    accepted_questions: acceptedQuestions,
    questions_per_user: Number((run.accepted / pids.length).toFixed(2)),
    dataset_text_tokens: textTokens,
    scenarios: priced,
    notes,
  };
}

/** Prices what one prompt's calls measured, as if sent to `provider` at `price`. */
function priceWork(m: Measured, scale: number, factor: number, provider: string, price: ModelPrice): CostFigures {
  const overhead =
    provider === 'anthropic'
      ? m.schemaTokens + ANTHROPIC_TOOL_SYSTEM_TOKENS
      : provider === 'openai'
        ? m.schemaTokens + OPENAI_TOKENS_PER_REPLY + OPENAI_TOKENS_PER_MESSAGE * (m.messages / m.calls + 1)
        : 0;
  const calls = m.calls * scale;
  let input = (m.inputTokens + overhead * m.calls) * scale;
  const output = m.outputTokens * factor * scale;
  // The stable prefix (tools or schema, the tool-use prompt, the instructions) is cached only past
  // the model's minimum; then the first call writes it and the others read it.
  const prefix = m.systemTokens + (provider === 'offline' ? 0 : overhead);
  let cacheWrite = 0;
  let cacheRead = 0;
  if (provider !== 'offline' && price.min_cache_tokens > 0 && prefix >= price.min_cache_tokens && calls > 1) {
    cacheWrite = prefix;
    cacheRead = prefix * (calls - 1);
    input -= prefix * calls;
  }
  const f: CostFigures = {
    calls: Math.round(calls),
    input_tokens: Math.round(input),
    output_tokens: Math.round(output),
    cache_read_tokens: Math.round(cacheRead),
    cache_write_tokens: Math.round(cacheWrite),
    usd: 0,
    usd_batch: 0,
  };
  const usage = {
    inputTokens: f.input_tokens,
    outputTokens: f.output_tokens,
    cacheReadTokens: f.cache_read_tokens,
    cacheWriteTokens: f.cache_write_tokens,
  };
  f.usd = usdOf(usage, price, 'standard');
  f.usd_batch = usdOf(usage, price, 'batch');
  return f;
}

type ModelFor = (stage: string) => { model: string; provider: string; price: ModelPrice };

function scenarioModels(
  config: Config,
  models: readonly string[] | undefined,
  prices: Prices,
): Array<{ name: string; modelFor: ModelFor }> {
  const out: Array<{ name: string; modelFor: ModelFor }> = [];
  const networked = LLM_STAGES.some((s) => stageProvider(config, s) !== 'offline');
  if (networked && !models?.length) {
    for (const s of LLM_STAGES) prices.require(stageModel(config, s));
    out.push({
      name: 'config',
      modelFor: (stage) => {
        const s = stage as (typeof LLM_STAGES)[number];
        const model = stageModel(config, s);
        return { model, provider: stageProvider(config, s), price: prices.require(model) };
      },
    });
    return out;
  }
  for (const model of models?.length ? models : DEFAULT_ESTIMATE_MODELS) {
    const price = prices.require(model);
    out.push({ name: model, modelFor: () => ({ model, provider: price.provider, price }) });
  }
  return out;
}

/** Persona ids to run: all of them, or a seeded sample (the same users a real run would make). */
export function samplePids(config: Pick<Config, 'users' | 'seed'>, sample: number): number[] {
  const all = Array.from({ length: config.users }, (_, i) => i);
  if (config.users <= sample) return all;
  return Rng.derive(config.seed, 'estimate', 'sample')
    .sample(all, sample)
    .sort((a, b) => a - b);
}

interface OfflineRun {
  measured: Measured[];
  accepted: number;
  sessionTokens: number;
  questionTokens: number;
  fillerTokens: number;
  fillerCount: number;
}

/** Runs the sampled users and the filler pool on the offline provider in a scratch store, measuring each call. */
async function runOffline(config: Config, pids: readonly number[], scratchParent: string): Promise<OfflineRun> {
  const dir = await mkdtemp(join(scratchParent, 'personagen-estimate-'));
  try {
    const { budget: _budget, batch: _batch, ...rest } = config;
    const { model: _model, ...llm } = config.llm;
    const offlineConfig: Config = { ...rest, out: dir, llm: { ...llm, provider: 'offline', stages: {} } };
    const tokenizer = tokenizerFor(config.tokenizer);
    const measured = new Map<string, Measured>();
    const stageOf = new WeakMap<LlmRequest, string>();
    const perPrompt = new Map<string, { system: number; schema: number }>();
    const offline = createOfflineProvider({ prompts: ALL_PROMPTS, tokenizer });
    const recording: Provider = {
      name: 'offline',
      async complete(request, callOptions) {
        const response = await offline.complete(request, callOptions);
        const stage = stageOf.get(request);
        if (stage === undefined)
          throw new PersonagenError('internal', `a ${request.task.promptId} call reached the provider without its stage`);
        const promptId = request.task.promptId;
        let fixed = perPrompt.get(promptId);
        if (!fixed) {
          fixed = { system: tokenizer.count(request.system), schema: tokenizer.count(JSON.stringify(request.output.jsonSchema)) };
          perPrompt.set(promptId, fixed);
        }
        const key = `${stage}\u0000${promptId}`;
        let m = measured.get(key);
        if (!m) {
          m = {
            stage,
            promptId,
            calls: 0,
            inputTokens: 0,
            outputTokens: 0,
            systemTokens: fixed.system,
            schemaTokens: fixed.schema,
            messages: 0,
            words: 0,
            items: 0,
          };
          measured.set(key, m);
        }
        m.calls++;
        m.inputTokens += response.usage.inputTokens;
        m.outputTokens += response.usage.outputTokens;
        m.messages += request.messages.length;
        const target = lengthTarget(promptId);
        const size = target ? measureAnswer(target, JSON.parse(response.text) as unknown) : undefined;
        if (size) {
          m.words += size.words;
          m.items += size.items;
        }
        return response;
      },
    };
    const runtime = createRuntime(offlineConfig, dir, { env: readEnv({}), providers: { offline: recording } });
    // Only to learn each call's stage: the LlmClient names it when it asks the guard.
    const tagger: CallGuard = {
      admit: (call, request) => {
        stageOf.set(request, call.stage);
        return Promise.resolve({ settle: () => undefined, cancel: () => undefined });
      },
    };
    runtime.llm.setCallGuard(tagger);

    let accepted = 0;
    let sessionTokens = 0;
    let questionTokens = 0;
    // The local executor's units, for the sampled users only.
    const pool = await runUnits(runtime, pids, {
      onUser: (_pid, { sessions, questions }) => {
        sessionTokens += sessions.reduce((n, s) => n + s.tokens, 0);
        for (const q of questions) {
          if (!q.question) continue;
          accepted++;
          questionTokens += [q.question.user_query, ...q.question.options].reduce((n, t) => n + runtime.tokenizer.count(t), 0);
        }
      },
    });
    return {
      measured: [...measured.values()].sort(
        (a, b) => LLM_STAGES.indexOf(a.stage as never) - LLM_STAGES.indexOf(b.stage as never) || a.promptId.localeCompare(b.promptId),
      ),
      accepted,
      sessionTokens,
      questionTokens,
      fillerTokens: pool.reduce((n, f) => n + f.tokens, 0),
      fillerCount: pool.length,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const money = (n: number) => (n >= 100 ? n.toLocaleString('en-US', { maximumFractionDigits: 0 }) : n.toFixed(n >= 1 ? 2 : 4));
const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** The estimate as text: one table per scenario. */
export function formatEstimate(e: Estimate): string {
  const lines = [
    `Estimate for ${e.users} users, sizes ${e.sizes.join(',')}, seed ${e.seed}; list prices read ${e.prices_read_on}, USD.`,
    `${capitalize(e.sample.note)} (${e.offline.calls} offline calls, ${e.offline.seconds}s).`,
    `Output lengths calibrated per prompt: ${e.calibration
      .filter((c) => c.target_words)
      .map(
        (c) => `${c.prompt} \u00d7${c.factor} (offline ${c.offline_mean_words} words, asked ${c.target_words![0]}-${c.target_words![1]})`,
      )
      .join('; ')}.`,
    `Accepted questions: ${int(e.accepted_questions)} (${e.questions_per_user} per user); dataset text: ${int(e.dataset_text_tokens)} tokens.`,
  ];
  const header = ['stage', 'model', 'calls', 'input tok', 'output tok', 'cache tok', 'USD', 'USD batch'];
  for (const s of e.scenarios) {
    const table = [
      header,
      ...s.rows.map((r) => [
        r.stage,
        r.model,
        int(r.calls),
        int(r.input_tokens),
        int(r.output_tokens),
        int(r.cache_read_tokens + r.cache_write_tokens),
        money(r.usd),
        money(r.usd_batch),
      ]),
      [
        'total',
        '',
        int(s.total.calls),
        int(s.total.input_tokens),
        int(s.total.output_tokens),
        int(s.total.cache_read_tokens + s.total.cache_write_tokens),
        money(s.total.usd),
        money(s.total.usd_batch),
      ],
    ];
    const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    lines.push('', `${s.name === 'config' ? 'models of the config' : s.name}:`);
    for (const row of table) lines.push(row.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
    lines.push(
      `per accepted question: $${money(s.per_question.usd ?? 0)} ($${money(s.per_question.usd_batch ?? 0)} batch), ${int(s.per_question.billed_tokens ?? 0)} tokens billed; ${s.billed_tokens_per_dataset_token ?? '-'} tokens billed per token of dataset text`,
    );
  }
  lines.push('', ...e.notes.map((n) => `note: ${n}`));
  return lines.join('\n');
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
