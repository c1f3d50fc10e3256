import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { readIfExists, writeFileAtomic } from '../core/files.js';
import type { UsageRow } from '../llm/usage.js';

export interface Artifact<T> {
  output: T;
  /** Model usage spent producing it (kept so a resumed run still accounts for it). */
  usage: UsageRow[];
}

/**
 * The run store: a directory of stage artifacts under keys derived from their inputs. Writes are
 * atomic, so an artifact is either whole or absent; resuming skips every artifact that exists.
 */
export class RunStore {
  readonly root: string;
  /**
   * Recently read or written artifacts, parsed: a user's profile and preferences are read by every
   * one of their sessions and questions. Bounded, and only ever holds what is on disk.
   */
  private readonly recent = new Map<string, Artifact<unknown>>();
  private static readonly RECENT_MAX = 4096;

  constructor(root: string) {
    this.root = root;
  }

  private remember(key: string, artifact: Artifact<unknown>): void {
    if (this.recent.size >= RunStore.RECENT_MAX) this.recent.delete(this.recent.keys().next().value as string);
    this.recent.set(key, artifact);
  }

  path(key: string): string {
    return join(this.root, `${key}.json`);
  }

  /** Whether an artifact exists, without reading it. */
  async has(key: string): Promise<boolean> {
    if (this.recent.has(key)) return true;
    try {
      await access(this.path(key));
      return true;
    } catch {
      return false;
    }
  }

  async get<S extends z.ZodType>(key: string, schema: S): Promise<Artifact<z.infer<S>> | undefined> {
    // Already validated against this key's schema when it was read or written; callers never mutate it.
    const known = this.recent.get(key);
    if (known) return known as Artifact<z.infer<S>>;
    const text = await readIfExists(this.path(key));
    if (text === undefined) return undefined;
    let parsed: { output: unknown; usage: UsageRow[] };
    try {
      parsed = JSON.parse(text) as { output: unknown; usage: UsageRow[] };
    } catch {
      return undefined; // cannot happen with atomic writes; treat as absent and redo the work
    }
    const result = schema.safeParse(parsed.output);
    if (!result.success) return undefined;
    const artifact = { output: result.data as z.infer<S>, usage: parsed.usage };
    this.remember(key, artifact);
    return artifact;
  }

  async put<T>(key: string, artifact: Artifact<T>): Promise<void> {
    await writeFileAtomic(this.path(key), JSON.stringify(artifact), { durable: false });
    this.remember(key, artifact as Artifact<unknown>);
  }

  /** Returns the stored artifact, or computes, stores and returns it. */
  async memo<S extends z.ZodType>(key: string, schema: S, compute: () => Promise<Artifact<z.infer<S>>>): Promise<Artifact<z.infer<S>>> {
    const hit = await this.get(key, schema);
    if (hit) return hit;
    const fresh = await compute();
    await this.put(key, { output: schema.parse(fresh.output), usage: fresh.usage });
    return fresh;
  }
}

export const keys = {
  user: (pid: number) => `users/${pid}/user`,
  preferences: (pid: number) => `users/${pid}/preferences`,
  plan: (pid: number) => `users/${pid}/plan`,
  session: (pid: number, sid: string) => `users/${pid}/sessions/${sid}`,
  question: (pid: number, prefId: string) => `users/${pid}/questions/${prefId}`,
  filler: (index: number) => `filler/${index}`,
};
