import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { STORE_DIR } from '../engine/runtime.js';

export const DEAD_LETTER_FILE = 'dead-letter.jsonl';

/** One unit that no retry could finish, with what is known of why. */
export interface DeadLetter {
  /** When it was given up (not part of any dataset). */
  at: string;
  run_id: string;
  kind: string;
  job_id: string;
  /** Attempts made, this one included. */
  attempts: number;
  reason: string;
  /** Error class and codes, when the error had them. */
  error: string;
  code?: string | undefined;
  llm_code?: string | undefined;
  status?: number | undefined;
  /** The model's raw answer, for invalid or truncated output. */
  raw?: string | undefined;
}

export function deadLetterPath(dir: string): string {
  return join(dir, STORE_DIR, DEAD_LETTER_FILE);
}

/**
 * Appends one line to DIR/.run/dead-letter.jsonl. One write per line (O_APPEND), so lines of
 * workers on one machine never interleave.
 */
export async function appendDeadLetter(dir: string, entry: DeadLetter): Promise<void> {
  const path = deadLetterPath(dir);
  await mkdir(join(dir, STORE_DIR), { recursive: true });
  await appendFile(path, JSON.stringify(entry) + '\n', 'utf8');
}
