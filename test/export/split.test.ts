import { describe, expect, it } from 'vitest';
import { PersonagenError } from '../../pipeline/core/errors.js';
import { Rng } from '../../pipeline/core/rng.js';
import { type SplitItem, missingCoverage, parseRatios, splitQuestions } from '../../pipeline/export/index.js';
import { PrefType, TASK_TYPES } from '../../pipeline/schemas/records.js';

/** 600 questions over 25 users; a few values occur once, at the end, so coverage has to look for them. */
function items(): SplitItem[] {
  const rng = Rng.derive('split-test');
  const common = PrefType.options.filter((t) => t !== 'sensitive_info' && t !== 'multimodal');
  const out: SplitItem[] = Array.from({ length: 600 }, (_, i) => ({
    id: `u${i % 25}-q${String(i).padStart(3, '0')}`,
    persona_id: i % 25,
    conversation_scenario: rng.pick(TASK_TYPES.filter((t) => t !== 'multimodal')),
    pref_type: rng.pick(common),
    who: rng.chance(0.2) ? 'others' : 'self',
    updated: rng.chance(0.5),
    sensitive_info: false,
  }));
  out.push({
    id: 'u3-q900',
    persona_id: 3,
    conversation_scenario: 'multimodal',
    pref_type: 'multimodal',
    who: 'self',
    updated: false,
    sensitive_info: false,
  });
  out.push({
    id: 'u9-q901',
    persona_id: 9,
    conversation_scenario: 'trouble_consult',
    pref_type: 'sensitive_info',
    who: 'self',
    updated: false,
    sensitive_info: true,
  });
  out.push({
    id: 'u25-q902',
    persona_id: 25,
    conversation_scenario: 'translation',
    pref_type: 'neutral_preferences',
    who: 'others',
    updated: true,
    sensitive_info: false,
  });
  return out;
}

describe('benchmark, train and val splits', () => {
  it('covers every persona_id, conversation_scenario, pref_type, who, updated and sensitive_info value in the benchmark split', () => {
    const all = items();
    const { splits } = splitQuestions(all, { benchmarkSize: 40, ratios: [0.9, 0.1], seed: '3' });
    const byId = new Map(all.map((q) => [q.id, q]));
    expect(splits.benchmark).toHaveLength(40);
    expect(
      missingCoverage(
        all,
        splits.benchmark.map((id) => byId.get(id)!),
      ),
    ).toEqual([]);
  });

  it('gives the same split for the same seed, whatever order the questions come in, and another for another seed', () => {
    const all = items();
    const options = { benchmarkSize: 60, ratios: [0.8, 0.2] as const, seed: 'alpha' };
    const a = splitQuestions(all, options);
    const b = splitQuestions(Rng.derive('shuffle').shuffle(all), options);
    const sorted = (r: typeof a) => Object.fromEntries(Object.entries(r.splits).map(([k, v]) => [k, [...v].sort()]));
    expect(sorted(b)).toEqual(sorted(a));
    expect(splitQuestions(all, options)).toEqual(a);
    expect(sorted(splitQuestions(all, { ...options, seed: 'beta' }))).not.toEqual(sorted(a));
  });

  it('puts every question in exactly one split and shares the rest out by the ratios', () => {
    const all = items();
    const { splits } = splitQuestions(all, { benchmarkSize: 100, ratios: [0.9, 0.1], seed: '1' });
    const ids = [...splits.benchmark, ...splits.train, ...splits.val];
    expect(new Set(ids).size).toBe(all.length);
    expect(ids).toHaveLength(all.length);
    expect(splits.val).toHaveLength(Math.round((all.length - 100) * 0.1));
  });

  it('takes every question into the benchmark when there are fewer than asked for', () => {
    const all = items().slice(0, 50);
    const { splits } = splitQuestions(all, { benchmarkSize: 5000, ratios: [0.9, 0.1], seed: '1' });
    expect(splits.benchmark).toEqual(all.map((q) => q.id));
    expect(splits.train).toEqual([]);
    expect(splits.val).toEqual([]);
  });

  it('refuses a benchmark size too small to cover every persona, naming the size it needs', () => {
    expect(() => splitQuestions(items(), { benchmarkSize: 10, ratios: [0.9, 0.1], seed: '1' })).toThrow(/covering them takes \d+/);
  });

  it('reads --split as two shares adding up to 1', () => {
    expect(parseRatios('0.9,0.1')).toEqual([0.9, 0.1]);
    expect(parseRatios(' 0.75 , 0.25 ')).toEqual([0.75, 0.25]);
    expect(() => parseRatios('0.9,0.2')).toThrow(PersonagenError);
    expect(() => parseRatios('1')).toThrow(/two non-negative shares/);
  });
});
