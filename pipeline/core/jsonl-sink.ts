import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * A JSONL file written line by line into a temporary file beside its destination, then renamed over
 * it: readers see the old file or the whole new one, and the writer never holds all lines in memory.
 */
export class JsonlSink {
  private readonly hash = createHash('sha256');
  lines = 0;

  private constructor(
    private readonly path: string,
    private readonly tmp: string,
    private readonly handle: FileHandle,
  ) {}

  static async open(path: string): Promise<JsonlSink> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
    return new JsonlSink(path, tmp, await open(tmp, 'w'));
  }

  /** One JSON.stringify per line. */
  async write(record: unknown): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    this.hash.update(line);
    this.lines++;
    await this.handle.write(line);
  }

  /** Drops the temporary file; the destination keeps whatever it held before. */
  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.tmp, { force: true });
  }

  /** Flushes, renames into place and returns the file's sha256. */
  async commit(): Promise<string> {
    try {
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
    try {
      await rename(this.tmp, this.path);
    } catch (error) {
      await rm(this.tmp, { force: true });
      throw error;
    }
    return this.hash.digest('hex');
  }
}
