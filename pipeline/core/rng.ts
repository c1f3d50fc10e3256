import { createHash } from 'node:crypto';

/**
 * Seeded random source. Every random choice in generation draws from one of these, derived from
 * (run seed, user, stage, item) so that the same config and seed give the same bytes whatever the
 * executor, the worker count or the order in which work runs.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  private constructor(a: number, b: number, c: number, d: number) {
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
  }

  /** A source for one scope, e.g. `Rng.derive(seed, 'user-3', 'sessions', 'pref-12')`. */
  static derive(...scope: Array<string | number>): Rng {
    const digest = createHash('sha256').update(scope.map(String).join('\u001f')).digest();
    return new Rng(digest.readUInt32LE(0), digest.readUInt32LE(4), digest.readUInt32LE(8), digest.readUInt32LE(12) | 1);
  }

  /** A child source for a sub-scope; drawing from it does not move this one. */
  child(...scope: Array<string | number>): Rng {
    return Rng.derive(this.a, this.b, this.c, this.d, ...scope);
  }

  /** Uniform in [0, 1). sfc32: small, fast, and good enough for sampling. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list');
    return items[this.int(items.length)] as T;
  }

  /** A new array, shuffled (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i] as T;
      out[i] = out[j] as T;
      out[j] = tmp;
    }
    return out;
  }

  /** `count` distinct items (or all, if fewer). */
  sample<T>(items: readonly T[], count: number): T[] {
    return this.shuffle(items).slice(0, Math.max(0, count));
  }

  /** A key of a weight table, with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const keys = Object.keys(weights).sort() as K[];
    const total = keys.reduce((sum, k) => sum + weights[k], 0);
    let r = this.next() * total;
    for (const k of keys) {
      r -= weights[k];
      if (r < 0) return k;
    }
    return keys[keys.length - 1] as K;
  }
}
