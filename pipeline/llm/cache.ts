import { join } from 'node:path';
import { readIfExists, writeFileAtomic } from '../core/files.js';
import type { LlmResponse } from './types.js';

/**
 * Content-addressed response cache: the key is the hash of the fully rendered request (provider,
 * model, messages, parameters, output schema, sample index). A re-asked call is free.
 */
export class ResponseCache {
  constructor(private readonly dir: string) {}

  private path(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  async get(key: string): Promise<LlmResponse | undefined> {
    const text = await readIfExists(this.path(key));
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as LlmResponse;
    } catch {
      return undefined; // an unreadable entry is a miss; it is overwritten atomically
    }
  }

  async set(key: string, response: LlmResponse): Promise<void> {
    await writeFileAtomic(this.path(key), JSON.stringify(response), { durable: false });
  }
}
