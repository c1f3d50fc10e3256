import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, readEnv } from '../../pipeline/config/index.js';
import { writeDataset } from '../../pipeline/dataset/write.js';
import { createRuntime } from '../../pipeline/engine/runtime.js';
import { runLocal } from '../../pipeline/executors/local.js';

const here = fileURLToPath(new URL('.', import.meta.url));
export const SHARED = join(here, '..', '..', '..', 'shared');
export const REFERENCE = join(SHARED, 'reference', 'personamem-v2');
export const CHECKER = join(SHARED, 'tools', 'check_personamem_v2.py');

/** A small offline dataset at 32k and 128k (the checker's limits), with few preferences per user. */
export async function smallDataset(): Promise<{ dir: string; root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'personagen-export-'));
  const dir = join(root, 'dataset');
  const file = join(root, 'config.json');
  await writeFile(
    file,
    JSON.stringify({
      users: 3,
      seed: 7,
      sizes: ['32k', '128k'],
      preferences: { stereotypical: 4, anti_stereotypical: 4, neutral: 5, therapy_background: 3, health_and_medical: 3, sensitive_info: 2 },
      questions: { per_user: 12 },
    }),
  );
  const env = readEnv({});
  const { config } = await loadConfig({ file, overrides: { out: dir }, env });
  const rt = createRuntime(config, dir, { env });
  await runLocal(rt, {});
  await writeDataset(rt);
  return { dir, root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Runs the PersonaMem-v2 layout checker; returns its exit code and output. */
export function runChecker(dir: string, sizes?: string): { status: number | null; output: string } {
  const args = [CHECKER, dir, ...(sizes ? ['--sizes', sizes] : [])];
  const r = spawnSync('python3', args, { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
