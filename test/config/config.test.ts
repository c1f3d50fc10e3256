import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, readEnv } from '../../pipeline/config/index.js';
import { InputError, PersonagenError } from '../../pipeline/core/errors.js';
import { NO_KEYS, removeDir, tempDir } from '../helpers/offline-run.js';

let dir: string;

beforeAll(async () => {
  dir = await tempDir('config');
});

afterAll(async () => {
  await removeDir(dir);
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** The error a config load throws (fails the test when it loads). */
async function loadError(options: Parameters<typeof loadConfig>[0]): Promise<PersonagenError> {
  const error: unknown = await loadConfig(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected the config to be rejected').toBeInstanceOf(PersonagenError);
  return error as PersonagenError;
}

describe('loadConfig defaults', () => {
  it('makes 5 users at 32k and 128k with the published preference counts and branch probabilities', async () => {
    const { config, warnings } = await loadConfig({ env: NO_KEYS, cwd: dir });
    expect(config.users).toBe(5);
    expect(config.sizes).toEqual(['32k', '128k']);
    expect(config.preferences).toMatchObject({
      stereotypical: 30,
      anti_stereotypical: 30,
      neutral: 30,
      therapy_background: 20,
      health_and_medical: 10,
    });
    expect(config.branches).toEqual({ others: 0.33, update: 0.67, forget: 0.33, knowledge_repeat: 0.15, follow_up: 0.33 });
    expect(config.llm.provider).toBe('offline');
    expect(warnings).toEqual([]);
  });
});

describe('loadConfig files', () => {
  it('loads a YAML file, keeping defaults for the fields it leaves out', async () => {
    const path = await file(
      'run.yaml',
      ['# a small run', 'users: 3', 'seed: 42', 'sizes: [16k, 8k]', 'preferences:', '  neutral: 4', 'branches:', '  update: 0.5', ''].join(
        '\n',
      ),
    );
    const { config } = await loadConfig({ file: path, env: NO_KEYS });
    expect(config.users).toBe(3);
    expect(config.seed).toBe('42');
    expect(config.sizes).toEqual(['8k', '16k']);
    expect(config.preferences.neutral).toBe(4);
    expect(config.preferences.stereotypical).toBe(30);
    expect(config.branches.update).toBe(0.5);
    expect(config.branches.forget).toBe(0.33);
  });

  it('loads a JSON file', async () => {
    const path = await file('run.json', JSON.stringify({ users: 4, sizes: ['8k'], questions: { per_user: 12 } }, null, 2));
    const { config } = await loadConfig({ file: path, env: NO_KEYS });
    expect(config.users).toBe(4);
    expect(config.sizes).toEqual(['8k']);
    expect(config.questions.per_user).toBe(12);
  });

  it('resolves a relative file path against cwd', async () => {
    await file('relative.yaml', 'users: 7\n');
    const { config } = await loadConfig({ file: 'relative.yaml', cwd: dir, env: NO_KEYS });
    expect(config.users).toBe(7);
  });

  it('lets flags override the file and keeps the file fields the flags do not set', async () => {
    const path = await file('override.yaml', 'users: 3\nseed: 9\npreferences:\n  neutral: 4\n  stereotypical: 2\n');
    const { config } = await loadConfig({
      file: path,
      overrides: { users: 1, preferences: { neutral: 6 } },
      env: NO_KEYS,
    });
    expect(config.users).toBe(1);
    expect(config.seed).toBe('9');
    expect(config.preferences.neutral).toBe(6);
    expect(config.preferences.stereotypical).toBe(2);
  });

  it('names the file, the line and the field of a bad value in a YAML file', async () => {
    const path = await file('bad-value.yaml', 'users: 2\nsizes:\n  - 8k\npreferences:\n  neutral: -3\n');
    const error = await loadError({ file: path, env: NO_KEYS });
    expect(error).toBeInstanceOf(InputError);
    const input = error as InputError;
    expect(input.file).toBe(path);
    expect(input.line).toBe(5);
    expect(input.field).toBe('preferences.neutral');
    expect(input.message).toContain(path);
    expect(input.message).toContain('line 5');
    expect(input.message).toContain('preferences.neutral');
  });

  it('names the file, the line and the field of a bad value in a JSON file', async () => {
    const path = await file('bad-value.json', '{\n  "users": 2,\n  "sizes": ["8k"],\n  "branches": { "update": 1.5 }\n}\n');
    const error = await loadError({ file: path, env: NO_KEYS });
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain(path);
    expect(error.message).toContain('line 4');
    expect(error.message).toContain('branches.update');
  });

  it('names the line of a YAML syntax error', async () => {
    const path = await file('broken.yaml', 'users: 2\nsizes: [8k, 16k\nseed: 3\n');
    const error = await loadError({ file: path, env: NO_KEYS });
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain(path);
    expect((error as InputError).line).toBeGreaterThanOrEqual(2);
  });

  it('rejects a config file that is neither JSON nor YAML', async () => {
    const path = await file('run.toml', 'users = 2\n');
    const error = await loadError({ file: path, env: NO_KEYS });
    expect(error.message).toContain(path);
  });

  it('rejects an unknown field nested in a section, naming the file, its line and the key', async () => {
    const path = await file('unknown-nested.yaml', 'users: 2\npreferences:\n  neutrl: 3\n');
    const error = await loadError({ file: path, env: NO_KEYS });
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain(path);
    expect(error.message).toContain('line 3');
    expect(error.message).toContain('neutrl');
  });

  it('rejects an unknown top-level field', async () => {
    const path = await file('unknown-top.yaml', 'users: 2\ncolour: blue\n');
    const error = await loadError({ file: path, env: NO_KEYS });
    expect(error.message).toContain('colour');
  });

  it('names the file and the line of an unknown top-level field in a YAML file', async () => {
    const path = await file('unknown-top-line.yaml', 'users: 2\ncolour: blue\n');
    const error = await loadError({ file: path, env: NO_KEYS });
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain(path);
    expect(error.message).toContain('line 2');
    expect(error.message).toContain('colour');
  });

  it('names an unreadable config file', async () => {
    const missing = join(dir, 'missing.yaml');
    const error = await loadError({ file: missing, env: NO_KEYS });
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain(missing);
  });
});

describe('loadConfig flags', () => {
  it('rejects a bad flag value as bad_config naming the field', async () => {
    const error = await loadError({ overrides: { users: 0 }, env: NO_KEYS });
    expect(error).not.toBeInstanceOf(InputError);
    expect(error.code).toBe('bad_config');
    expect(error.message).toContain('users');
  });
});

describe('loadConfig sizes', () => {
  it('accepts sizes like 8k, 20000 and 1m, lower-cased, deduplicated and sorted smallest first', async () => {
    const { config } = await loadConfig({ overrides: { sizes: ['1m', '8K', '128k', '20000', '8k'] }, env: NO_KEYS });
    expect(config.sizes).toEqual(['8k', '20000', '128k', '1m']);
  });

  it('rejects a size label it cannot read', async () => {
    const error = await loadError({ overrides: { sizes: ['32kb'] }, env: NO_KEYS });
    expect(error.code).toBe('bad_config');
    expect(error.message).toContain('sizes');
  });

  it('rejects a size too small to hold a history', async () => {
    const error = await loadError({ overrides: { sizes: ['8k', '1k'] }, env: NO_KEYS });
    expect(error.code).toBe('bad_config');
    expect(error.message).toContain('1k');
  });
});

describe('loadConfig providers', () => {
  const OPENAI_SECRET = 'sk-proj-Zq81mVtWc4Ld0xRb7Hn2';
  const ANTHROPIC_SECRET = 'sk-ant-api03-Pf6Kx2Bw9Qe4Ts1Yu7Ma';

  it('refuses the anthropic provider without ANTHROPIC_API_KEY, as bad_config, printing no key', async () => {
    const env = readEnv({ OPENAI_API_KEY: OPENAI_SECRET });
    const error = await loadError({ overrides: { llm: { provider: 'anthropic' } }, env });
    expect(error.code).toBe('bad_config');
    expect(error.message).toContain('ANTHROPIC_API_KEY');
    expect(error.message).toContain('provider');
    expect(error.message).not.toContain(OPENAI_SECRET);
  });

  it('refuses an openai stage without a key or base URL, without printing the anthropic key that is set', async () => {
    const env = readEnv({ ANTHROPIC_API_KEY: ANTHROPIC_SECRET });
    const error = await loadError({
      overrides: { llm: { provider: 'anthropic', stages: { filters: { provider: 'openai' } } } },
      env,
    });
    expect(error.code).toBe('bad_config');
    expect(error.message).toContain('llm.stages.filters.provider');
    expect(error.message).toContain('OPENAI_API_KEY');
    expect(error.message).not.toContain(ANTHROPIC_SECRET);
  });

  it('accepts the anthropic provider when its key is in the environment, and does not store the key in the config', async () => {
    const env = readEnv({ ANTHROPIC_API_KEY: ANTHROPIC_SECRET });
    const { config } = await loadConfig({ overrides: { llm: { provider: 'anthropic' } }, env });
    expect(config.llm.provider).toBe('anthropic');
    expect(JSON.stringify(config)).not.toContain(ANTHROPIC_SECRET);
  });
});
