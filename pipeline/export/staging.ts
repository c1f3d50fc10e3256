import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PersonagenError } from '../core/errors.js';

/**
 * Output directories are written next to their destination and swapped in at the end, so a failed
 * run leaves the previous output as it was. A non-empty destination is replaced only when
 * `replaceable` says it holds output of the same command (never someone's other files).
 */
export async function startStaging(out: string, replaceable: (dir: string) => Promise<boolean>, what: string): Promise<string> {
  if (existsSync(out) && (await readdir(out)).length > 0 && !(await replaceable(out))) {
    throw new PersonagenError('bad_input', `${out} is not empty and holds no previous ${what}; choose another --out`);
  }
  const staging = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  return staging;
}

export async function finishStaging(staging: string, out: string): Promise<void> {
  if (existsSync(out)) {
    const old = join(dirname(out), `.${basename(out)}.old-${process.pid}`);
    await rename(out, old);
    await rename(staging, out);
    await rm(old, { recursive: true, force: true });
  } else {
    await mkdir(dirname(out), { recursive: true });
    await rename(staging, out);
  }
}

export async function abandonStaging(staging: string): Promise<void> {
  await rm(staging, { recursive: true, force: true });
}
