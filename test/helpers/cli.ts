import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'personagen.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without provider keys or endpoints, so a run never depends on the machine it is on. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'OPENAI_BASE_URL', 'ANTHROPIC_BASE_URL', 'REDIS_URL']) delete env[key];
  return env;
}

/** Runs the CLI as a child process and resolves with its exit code and output, whatever the code. */
export function runCli(args: readonly string[], cwd: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(), maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

/** sha256 of every file under `dir` (paths relative to it), optionally skipping top-level entries. */
export async function fileDigests(dir: string, options: { skip?: readonly string[] } = {}): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      const rel = relative(dir, path);
      if (options.skip?.includes(rel)) continue;
      if (entry.isDirectory()) await walk(path);
      else
        out[rel] = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
    }
  };
  await walk(dir);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** Lines of text that look like a stack trace. */
export const stackLines = (text: string) => text.split('\n').filter((l) => /^\s+at\s/.test(l));
