import { describe, expect, it } from 'vitest';
import { binomialUpperTail, couldBeReal, nearDuplicates, scanText, wilson } from '../../pipeline/audit/index.js';
import { Rng } from '../../pipeline/core/rng.js';
import { BANK } from './fixtures.js';

describe('audit statistics', () => {
  it('gives the Wilson interval a statistics table gives', () => {
    // 42 of 75 at 95%: the textbook formula gives 0.4475 .. 0.6668.
    const [lo, hi] = wilson(42, 75);
    expect(lo).toBeCloseTo(0.4475, 3);
    expect(hi).toBeCloseTo(0.6668, 3);
    expect(wilson(0, 12)[1]).toBeCloseTo(0.2425, 3);
    expect(wilson(0, 0)).toEqual([0, 1]);
  });

  it('gives exact binomial tail probabilities against chance', () => {
    expect(binomialUpperTail(0, 10, 0.25)).toBe(1);
    expect(binomialUpperTail(10, 10, 0.25)).toBeCloseTo(0.25 ** 10, 12);
    // P(X >= 3 | n = 4, p = 1/4) = 4 * (1/4)^3 * 3/4 + (1/4)^4 = 13/256.
    expect(binomialUpperTail(3, 4, 0.25)).toBeCloseTo(13 / 256, 12);
    expect(binomialUpperTail(30_000, 100_000, 0.25)).toBeLessThan(1e-100);
  });
});

describe('sensitive values', () => {
  it('accepts values in reserved ranges and flags ones that could be real', () => {
    expect(couldBeReal('phone', '+1 (212) 555-0153')).toBeNull();
    expect(couldBeReal('phone', '+52-442-839-5614')).toMatch(/555-01xx/);
    expect(couldBeReal('phone', '(415) 555-2671')).toMatch(/555-01xx/);
    expect(couldBeReal('ssn', '941-56-9617')).toBeNull();
    expect(couldBeReal('ssn', '666-12-3456')).toBeNull();
    expect(couldBeReal('ssn', '732-58-9146')).toMatch(/SSN/);
    expect(couldBeReal('card', '4000 0012 3456 7899')).toBeNull();
    expect(couldBeReal('card', '4111 1111 1111 1111')).toBeNull();
    expect(couldBeReal('card', '4539 1488 0343 6467')).toMatch(/Luhn/);
    expect(couldBeReal('card', '4539 1488 0343 6468')).toBeNull();
    expect(couldBeReal('email', 'nia.dlamini45@example.com')).toBeNull();
    expect(couldBeReal('email', 'ops@lab.test')).toBeNull();
    expect(couldBeReal('email', 'mariana@examplemail.com')).toMatch(/reserved domains/);
  });

  it('finds emails, SSNs, Luhn-valid card numbers and phone numbers in free text', () => {
    const found = scanText('Write to kim@example.net or call (212) 555-0199; SSN 912-33-4410; card 4539 1488 0343 6467, not 1234 5678.');
    expect(found.map((f) => f.kind).sort()).toEqual(['card', 'email', 'phone', 'ssn']);
  });
});

describe('near-duplicate queries', () => {
  const vocabulary = [
    ...new Set(
      BANK.flatMap((b) => [b.query, b.gold, ...b.distractors])
        .join(' ')
        .toLowerCase()
        .match(/[a-z]+/g) ?? [],
    ),
  ];

  it('finds every planted near-duplicate among 20,000 queries quickly, and only those', () => {
    const rng = Rng.derive('audit-test', 'queries');
    const texts: string[] = [];
    for (let i = 0; i < 20_000; i++) texts.push(Array.from({ length: 10 + rng.int(6) }, () => rng.pick(vocabulary)).join(' '));
    // Planted: 50 pairs that differ by one added word (Jaccard >= 0.8) and 50 that differ by case and punctuation only.
    const planted: Array<[number, number]> = [];
    for (let k = 0; k < 50; k++) {
      texts.push(`${texts[k * 7]!} ${rng.pick(vocabulary)}zz`);
      planted.push([k * 7, texts.length - 1]);
      texts.push(`${texts[5000 + k * 11]!.toUpperCase()}?!`);
      planted.push([5000 + k * 11, texts.length - 1]);
    }
    const started = Date.now();
    const pairs = nearDuplicates(texts, 0.8, () => true);
    const seconds = (Date.now() - started) / 1000;
    expect(seconds).toBeLessThan(20);
    const found = new Set(pairs.map((p) => `${p.a}:${p.b}`));
    for (const [a, b] of planted) expect(found.has(`${a}:${b}`), `pair ${a}:${b}`).toBe(true);
    expect(pairs.every((p) => p.similarity >= 0.8)).toBe(true);
    expect(pairs).toHaveLength(planted.length);
  });

  it('keeps only the pairs the caller admits (e.g. across splits)', () => {
    const texts = [
      'what should I cook tonight for my friends',
      'What should I cook tonight for my friends?',
      'what should i cook tonight for my friends',
    ];
    expect(nearDuplicates(texts, 0.8, () => true)).toHaveLength(3);
    expect(nearDuplicates(texts, 0.8, (a, b) => a === 0 || b === 0)).toHaveLength(2);
  });
});
