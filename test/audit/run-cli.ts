import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'personagen.js');

export interface AuditCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `personagen audit ...` as a child process (no provider keys in its environment) and resolves with its exit code. */
export function runAuditCli(args: readonly string[]): Promise<AuditCliResult> {
  const env = { ...process.env };
  for (const key of ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'OPENAI_BASE_URL', 'ANTHROPIC_BASE_URL']) delete env[key];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, 'audit', ...args], { env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}
