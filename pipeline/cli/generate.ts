import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Config, type ConfigInput, datasetConfig, loadConfig } from '../config/index.js';
import { PersonagenError } from '../core/errors.js';
import { canonicalJson } from '../core/hash.js';
import { readIfExists, writeFileAtomic } from '../core/files.js';
import { writeDataset } from '../dataset/write.js';
import { type RuntimeOptions, STORE_DIR, createRuntime } from '../engine/runtime.js';
import { runBullmq, storableConfig, withoutScheduling } from '../executors/bullmq.js';
import { runLocal } from '../executors/local.js';
import { openCostMeter } from '../cost/budget.js';
import { withBatching } from '../llm/batch.js';
import { progressBar } from './progress.js';

export interface GenerateOptions {
  cwd: string;
  configFile?: string | undefined;
  overrides: ConfigInput;
  progress: boolean;
  signal?: AbortSignal | undefined;
  runtime?: RuntimeOptions | undefined;
  log?: (line: string) => void;
}

export interface GenerateResult {
  out: string;
  users: number;
  questions: number;
  /** Model calls this invocation made (0 when everything came from the run store or cache). */
  model_calls: number;
  cache_hits: number;
  /** USD this invocation spent on model calls, at list prices (0 on the offline provider). */
  spent_usd: number;
  seconds: number;
  warnings: string[];
}

/** Fields that change scheduling, not data: a resumed run may change them freely. */
function dataConfig(config: Config): unknown {
  return datasetConfig(config);
}

/** Remembers the run's config in its store, and refuses to mix a different one into it. */
async function guardStore(dir: string, config: Config): Promise<void> {
  const path = join(dir, STORE_DIR, 'config.json');
  const previous = await readIfExists(path);
  if (previous !== undefined) {
    const before = JSON.parse(previous) as Config;
    if (canonicalJson(dataConfig(before)) !== canonicalJson(dataConfig(config))) {
      const changed = Object.keys({ ...(dataConfig(before) as object), ...(dataConfig(config) as object) }).filter(
        (k) =>
          canonicalJson((dataConfig(before) as Record<string, unknown>)[k]) !==
          canonicalJson((dataConfig(config) as Record<string, unknown>)[k]),
      );
      throw new PersonagenError(
        'bad_config',
        `${dir} holds a run made with another config (it differs in: ${changed.join(', ')}); choose another --out, or continue it with \`personagen resume ${dir}\``,
      );
    }
    return;
  }
  await writeFileAtomic(path, JSON.stringify(config, null, 2) + '\n');
}

export async function generate(options: GenerateOptions): Promise<GenerateResult> {
  const started = Date.now();
  const { config, warnings } = await loadConfig({ file: options.configFile, overrides: options.overrides, cwd: options.cwd });
  return runConfig(config, warnings, options, started);
}

export async function runConfig(
  config: Config,
  warnings: string[],
  options: Omit<GenerateOptions, 'configFile' | 'overrides'>,
  started = Date.now(),
): Promise<GenerateResult> {
  const dir = resolve(options.cwd, config.out);
  await mkdir(dir, { recursive: true });
  const rt = createRuntime(config, dir, withBatching(config, dir, options.runtime));
  await guardStore(dir, storableConfig(config));
  // Counts spend and enforces --max-cost before every model call (see pipeline/cost/budget.ts).
  const meter = await openCostMeter(rt);
  const bar = progressBar(options.progress);
  const onProgress = (p: { done: number; total: number }) =>
    bar.update('generate', p.done, p.total, `calls ${rt.session.modelCalls}, ${meter.describe(p.done, p.total)}`);
  if (config.executor === 'bullmq') await runBullmq(rt, { signal: options.signal, onProgress, log: options.log });
  else await runLocal(rt, { signal: options.signal, onProgress });
  await meter.close();
  // The executor is scheduling, not data: both executors write the same manifest.
  const written = await writeDataset({ ...rt, config: withoutScheduling(config) }, (pid) => bar.update('write   ', pid + 1, config.users));
  bar.end();
  const rows = rt.session.snapshot();
  return {
    out: dir,
    users: config.users,
    questions: written.questions,
    model_calls: rt.session.modelCalls,
    cache_hits: rows.reduce((n, r) => n + r.cacheHits, 0),
    spent_usd: meter.spentHere.usd,
    seconds: Number(((Date.now() - started) / 1000).toFixed(2)),
    warnings,
  };
}

/** Continues the run stored in DIR with its own config. */
export async function resume(
  options: Omit<GenerateOptions, 'configFile' | 'overrides'> & { dir: string; overrides?: ConfigInput },
): Promise<GenerateResult> {
  const dir = resolve(options.cwd, options.dir);
  const text = await readIfExists(join(dir, STORE_DIR, 'config.json'));
  if (text === undefined) throw new PersonagenError('not_found', `${dir} holds no run to resume (no ${STORE_DIR}/config.json)`);
  const stored = JSON.parse(text) as ConfigInput;
  const bullmq = stored.bullmq || options.overrides?.bullmq ? { bullmq: { ...stored.bullmq, ...options.overrides?.bullmq } } : {};
  const { config, warnings } = await loadConfig({ overrides: { ...stored, ...options.overrides, ...bullmq, out: dir }, cwd: options.cwd });
  return runConfig(config, warnings, options);
}
