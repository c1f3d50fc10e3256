import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { InputError, PersonagenError } from '../core/errors.js';
import { describeZodIssue } from '../core/jsonl.js';
import { type Env, readEnv } from './env.js';
import { type Config, type ConfigInput, ConfigSchema, DEFAULT_MODELS, LLM_STAGES, type LlmStage, type ProviderName } from './schema.js';
import { sizeTokens, sortSizes } from './sizes.js';

export interface ConfigResult {
  config: Config;
  warnings: string[];
}

export interface LoadConfigOptions {
  /** Config file (JSON or YAML). */
  file?: string | undefined;
  /** Values from flags; they override the file. Dotted keys are not used: pass nested objects. */
  overrides?: ConfigInput | undefined;
  cwd?: string | undefined;
  env?: Env | undefined;
}

/**
 * Reads, validates and normalises the configuration: schema with defaults → flags over file →
 * named cross-field rules. Throws an InputError naming file, line and field on the first problem.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ConfigResult> {
  const cwd = options.cwd ?? process.cwd();
  let fromFile: Record<string, unknown> = {};
  let locate: (path: readonly PropertyKey[]) => number | undefined = () => undefined;
  const file = options.file ? resolve(cwd, options.file) : undefined;
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new InputError({ file }, `cannot read the config file (${(error as Error).message})`);
    }
    ({ value: fromFile, locate } = parseConfigText(file, text));
  }
  const merged = deepMerge(fromFile, (options.overrides ?? {}) as Record<string, unknown>);
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    let { field, message } = describeZodIssue(parsed.error);
    let issuePath: PropertyKey[] = issue?.path ?? [];
    // An unknown key is reported against its parent object: name the key itself.
    if (issue?.code === 'unrecognized_keys' && issue.keys[0] !== undefined) {
      issuePath = [...issuePath, issue.keys[0]];
      field = issuePath.map(String).join('.');
      message = `unknown field${issue.keys.length > 1 ? `s ${issue.keys.map((k) => `\`${k}\``).join(', ')}` : ''}`;
    }
    const inFile = file !== undefined && hasPath(fromFile, issuePath) && !hasPath(options.overrides ?? {}, issuePath);
    if (inFile) throw new InputError({ file, line: locate(issuePath), field }, message);
    throw new PersonagenError('bad_config', `${field ? `\`${field}\`` : 'config'}: ${message}`);
  }
  return applyRules(parsed.data, options.env ?? readEnv());
}

function parseConfigText(
  file: string,
  text: string,
): { value: Record<string, unknown>; locate: (path: readonly PropertyKey[]) => number | undefined } {
  const ext = extname(file).toLowerCase();
  if (ext === '.json') {
    try {
      const value = JSON.parse(text) as unknown;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new InputError({ file, line: 1 }, 'the config must be a JSON object');
      }
      // JSON is valid YAML: reuse the YAML reader to find lines of fields.
      return { value: value as Record<string, unknown>, locate: yamlLocator(text) };
    } catch (error) {
      if (error instanceof InputError) throw error;
      const m = /position (\d+)/.exec((error as Error).message);
      const line = m ? text.slice(0, Number(m[1])).split('\n').length : undefined;
      throw new InputError({ file, line }, `invalid JSON (${(error as Error).message})`);
    }
  }
  if (ext !== '.yaml' && ext !== '.yml') {
    throw new InputError({ file }, 'a config file must end in .json, .yaml or .yml');
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const err = doc.errors[0];
  if (err) {
    throw new InputError({ file, line: lineCounter.linePos(err.pos[0]).line }, `invalid YAML (${err.message.split('\n')[0]})`);
  }
  const value = doc.toJS() as unknown;
  if (value === null || value === undefined) return { value: {}, locate: () => undefined };
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError({ file, line: 1 }, 'the config must be a mapping of fields');
  }
  return { value: value as Record<string, unknown>, locate: yamlLocator(text) };
}

function yamlLocator(text: string): (path: readonly PropertyKey[]) => number | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: true });
  return (path) => {
    for (let depth = path.length; depth > 0; depth--) {
      const node = doc.getIn(path.slice(0, depth) as unknown[], true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
}

function hasPath(value: unknown, path: readonly PropertyKey[]): boolean {
  let cur: unknown = value;
  for (const key of path.slice(0, 1)) {
    if (cur === null || typeof cur !== 'object' || !(String(key) in (cur as object))) return false;
    cur = (cur as Record<string, unknown>)[String(key)];
  }
  return true;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const prev = out[key];
    if (isPlainObject(prev) && isPlainObject(value)) out[key] = deepMerge(prev, value);
    else out[key] = value;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Cross-field rules, each named by what it protects. */
function applyRules(config: Config, env: Env): ConfigResult {
  const warnings: string[] = [];
  const fail = (field: string, message: string): never => {
    throw new PersonagenError('bad_config', `\`${field}\`: ${message}`);
  };

  // sizes: sorted, distinct, and big enough to hold a system message and a few sessions.
  const sizes = sortSizes(config.sizes);
  for (const s of sizes) if (sizeTokens(s) < 2000) fail('sizes', `expected every size to be at least 2000 tokens, got ${s}`);
  config.sizes = sizes;

  // providers: a network provider needs its key (never echoed back).
  for (const stage of LLM_STAGES) {
    const provider = stageProvider(config, stage);
    if (provider === 'anthropic' && !env.ANTHROPIC_API_KEY) {
      fail(`llm.stages.${stage}.provider`, 'the anthropic provider needs ANTHROPIC_API_KEY in the environment');
    }
    if (provider === 'openai' && !env.OPENAI_API_KEY && !config.llm.base_url && !env.OPENAI_BASE_URL) {
      fail(`llm.stages.${stage}.provider`, 'the openai provider needs OPENAI_API_KEY, or a base URL of an OpenAI-compatible server');
    }
  }

  const prefs = config.preferences;
  const total = prefs.stereotypical + prefs.anti_stereotypical + prefs.neutral + prefs.therapy_background + prefs.health_and_medical;
  if (total === 0) fail('preferences', 'expected at least one preference per user');
  if (config.questions.per_user > total + prefs.sensitive_info) {
    warnings.push(
      `questions.per_user (${config.questions.per_user}) exceeds the preferences per user (${total + prefs.sensitive_info}); at most one question per preference is written`,
    );
  }
  return { config, warnings };
}

/** The provider and model a stage uses, after defaults. */
export function stageProvider(config: Config, stage: LlmStage): z.infer<typeof ProviderName> {
  return config.llm.stages[stage]?.provider ?? config.llm.provider;
}

export function stageModel(config: Config, stage: LlmStage): string {
  const provider = stageProvider(config, stage);
  const explicit = config.llm.stages[stage]?.model;
  if (explicit) return explicit;
  if (provider === config.llm.provider && config.llm.model) return config.llm.model;
  return DEFAULT_MODELS[provider];
}
