import { describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/core/rng.js';

const draws = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.next());
const LETTERS = 'abcdefghijklmnopqrst'.split('');

describe('Rng.derive', () => {
  it('gives the same sequence for the same scope', () => {
    expect(draws(Rng.derive(7, 'user', 3, 'sessions'), 200)).toEqual(draws(Rng.derive(7, 'user', 3, 'sessions'), 200));
  });

  it('gives different sequences for different seeds, users and stages', () => {
    const base = draws(Rng.derive(7, 'user', 3, 'sessions'), 20);
    for (const other of [Rng.derive(8, 'user', 3, 'sessions'), Rng.derive(7, 'user', 4, 'sessions'), Rng.derive(7, 'user', 3, 'plan')]) {
      expect(draws(other, 20)).not.toEqual(base);
    }
  });

  it('keeps scope parts apart, so ("ab", "c") and ("a", "bc") differ', () => {
    expect(draws(Rng.derive('ab', 'c'), 10)).not.toEqual(draws(Rng.derive('a', 'bc'), 10));
  });

  it('treats a number and its decimal string as the same scope part', () => {
    expect(draws(Rng.derive(1, 'user', 3), 10)).toEqual(draws(Rng.derive('1', 'user', '3'), 10));
  });

  it('draws floats in [0, 1) and integers in [0, n) that cover the whole range', () => {
    const rng = Rng.derive('range');
    const floats = draws(rng, 5000);
    expect(floats.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = floats.reduce((a, b) => a + b, 0) / floats.length;
    expect(mean).toBeGreaterThan(0.47);
    expect(mean).toBeLessThan(0.53);
    const ints = Array.from({ length: 2000 }, () => rng.int(7));
    expect(new Set(ints)).toEqual(new Set([0, 1, 2, 3, 4, 5, 6]));
  });
});

describe('Rng.child', () => {
  it('does not move the parent it was derived from', () => {
    const parent = Rng.derive('parent');
    const untouched = Rng.derive('parent');
    const child = parent.child('sub');
    draws(child, 50);
    expect(draws(parent, 20)).toEqual(draws(untouched, 20));
  });

  it('gives the same child for the same parent state and scope, and another for another scope', () => {
    const a = draws(Rng.derive('parent').child('x'), 20);
    expect(draws(Rng.derive('parent').child('x'), 20)).toEqual(a);
    expect(draws(Rng.derive('parent').child('y'), 20)).not.toEqual(a);
  });
});

describe('Rng.shuffle', () => {
  it('returns a permutation of the input and leaves the input as it was', () => {
    const input = [...LETTERS];
    const out = Rng.derive('shuffle').shuffle(input);
    expect(input).toEqual(LETTERS);
    expect([...out].sort()).toEqual(LETTERS);
    expect(out).not.toEqual(LETTERS);
  });

  it('gives the same order for the same scope and another order for another scope', () => {
    const a = Rng.derive('shuffle', 1).shuffle(LETTERS);
    expect(Rng.derive('shuffle', 1).shuffle(LETTERS)).toEqual(a);
    expect(Rng.derive('shuffle', 2).shuffle(LETTERS)).not.toEqual(a);
  });

  it('puts every item first about equally often', () => {
    const items = ['a', 'b', 'c', 'd', 'e'];
    const first: Record<string, number> = {};
    const runs = 5000;
    for (let i = 0; i < runs; i++) {
      const head = Rng.derive('shuffle-first', i).shuffle(items)[0]!;
      first[head] = (first[head] ?? 0) + 1;
    }
    for (const item of items) {
      expect(first[item] ?? 0).toBeGreaterThan(runs / items.length - 150);
      expect(first[item] ?? 0).toBeLessThan(runs / items.length + 150);
    }
  });
});

describe('Rng.sample', () => {
  it('returns the requested number of distinct items from the input, the same for the same scope', () => {
    const a = Rng.derive('sample').sample(LETTERS, 6);
    expect(a).toHaveLength(6);
    expect(new Set(a).size).toBe(6);
    expect(a.every((x) => LETTERS.includes(x))).toBe(true);
    expect(Rng.derive('sample').sample(LETTERS, 6)).toEqual(a);
  });

  it('returns every item when asked for more than there are, and none when asked for zero or fewer', () => {
    expect([...Rng.derive('all').sample(LETTERS, 50)].sort()).toEqual(LETTERS);
    expect(Rng.derive('none').sample(LETTERS, 0)).toEqual([]);
    expect(Rng.derive('none').sample(LETTERS, -3)).toEqual([]);
  });

  it('picks each item about equally often', () => {
    const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    const seen: Record<string, number> = {};
    const runs = 3000;
    for (let i = 0; i < runs; i++) for (const x of Rng.derive('sample-even', i).sample(items, 3)) seen[x] = (seen[x] ?? 0) + 1;
    const expected = (runs * 3) / items.length;
    for (const item of items) {
      expect(seen[item] ?? 0).toBeGreaterThan(expected * 0.85);
      expect(seen[item] ?? 0).toBeLessThan(expected * 1.15);
    }
  });
});

describe('Rng.weighted', () => {
  it('draws keys in proportion to their weights and never a key of weight zero', () => {
    const rng = Rng.derive('weighted');
    const weights = { low: 1, mid: 3, high: 6, never: 0 };
    const runs = 10_000;
    const seen: Record<string, number> = {};
    for (let i = 0; i < runs; i++) {
      const k = rng.weighted(weights);
      seen[k] = (seen[k] ?? 0) + 1;
    }
    expect(seen.never).toBeUndefined();
    for (const [key, share] of [
      ['low', 0.1],
      ['mid', 0.3],
      ['high', 0.6],
    ] as const) {
      expect(Math.abs((seen[key] ?? 0) / runs - share)).toBeLessThan(0.02);
    }
  });

  it('gives the same draws for the same scope whatever order the table lists its keys in', () => {
    const a = Rng.derive('weighted-order');
    const b = Rng.derive('weighted-order');
    const one = Array.from({ length: 50 }, () => a.weighted({ x: 2, y: 5, z: 3 }));
    const two = Array.from({ length: 50 }, () => b.weighted({ z: 3, x: 2, y: 5 }));
    expect(two).toEqual(one);
    expect(new Set(one).size).toBe(3);
  });
});

describe('Rng.pick', () => {
  it('picks an item of the list and refuses an empty list', () => {
    expect(LETTERS).toContain(Rng.derive('pick').pick(LETTERS));
    expect(() => Rng.derive('pick').pick([])).toThrow(/empty/);
  });
});
