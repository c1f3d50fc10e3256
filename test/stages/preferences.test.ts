import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../pipeline/engine/runtime.js';
import type { Preference } from '../../pipeline/schemas/records.js';
import type { PreferencesStageOutput } from '../../pipeline/stages/preferences.js';
import { offlineRuntime, removeDir, runUser, tempDir } from '../helpers/offline-run.js';

const USERS = 4;
const COUNTS = { stereotypical: 7, anti_stereotypical: 6, neutral: 9, therapy_background: 4, health_and_medical: 3, sensitive_info: 8 };

let dir: string;
let rt: Runtime;
let outputs: PreferencesStageOutput[];
let all: Preference[];

/** Luhn checksum, written out here so the test does not trust the code under test. */
function passesLuhn(number: string): boolean {
  const digits = number.replace(/\D/g, '').split('').reverse().map(Number);
  const sum = digits.reduce((s, d, i) => s + (i % 2 === 1 ? (d * 2 > 9 ? d * 2 - 9 : d * 2) : d), 0);
  return sum % 10 === 0;
}

beforeAll(async () => {
  dir = await tempDir('preferences');
  rt = await offlineRuntime(dir, { users: USERS, seed: 5, sizes: ['8k'], preferences: COUNTS });
  outputs = [];
  for (let pid = 0; pid < USERS; pid++) outputs.push((await runUser(rt, pid, 'preferences')).prefs);
  all = outputs.flatMap((o) => o.preferences);
});

afterAll(async () => {
  await removeDir(dir);
});

describe('preferences stage', () => {
  it('yields the configured number of preferences of each kind', () => {
    for (const out of outputs) {
      for (const [kind, count] of Object.entries(COUNTS)) {
        expect(
          out.preferences.filter((p) => p.kind === kind),
          kind,
        ).toHaveLength(count);
      }
    }
  });

  it('records what it asked for and kept per kind, matching what it returns', () => {
    for (const out of outputs) {
      for (const [kind, stats] of Object.entries(out.verify)) {
        expect(stats.asked).toBe(COUNTS[kind as keyof typeof COUNTS]);
        expect(stats.kept).toBe(out.preferences.filter((p) => p.kind === kind).length);
        expect(stats.kept + stats.duplicates + stats.unknown_topic).toBeLessThanOrEqual(stats.asked);
      }
    }
  });

  it('gives every preference of a user a distinct id and a distinct statement', () => {
    for (const out of outputs) {
      const ids = out.preferences.map((p) => p.pref_id);
      expect(new Set(ids).size).toBe(ids.length);
      const statements = out.preferences.map((p) => p.statement.trim().toLowerCase());
      expect(new Set(statements).size).toBe(statements.length);
    }
  });

  it('files every preference under a topic of the taxonomy', () => {
    for (const p of all) expect(rt.catalog.topics.has(p.topic), `${p.pref_id} topic ${p.topic}`).toBe(true);
  });

  it('gives preferences to other people only among neutral ones, always naming the person', () => {
    const others = all.filter((p) => p.who === 'others');
    expect(others.length).toBeGreaterThan(0);
    for (const p of others) {
      expect(p.kind).toBe('neutral');
      expect(p.person).toMatch(/^my \S/);
      expect(p.update).toBeNull();
      expect(p.forget).toBe(false);
    }
    for (const p of all.filter((q) => q.who === 'self')) expect(p.person).toBeNull();
  });

  it('updates a preference only to a new statement that differs from the old one', () => {
    const updated = all.filter((p) => p.update !== null);
    expect(updated.length).toBeGreaterThan(0);
    for (const p of updated) {
      expect(p.update!.trim().toLowerCase()).not.toBe(p.statement.trim().toLowerCase());
      expect(p.update!.length).toBeGreaterThan(4);
    }
  });

  it('never both updates and forgets the same preference', () => {
    const forgotten = all.filter((p) => p.forget);
    expect(forgotten.length).toBeGreaterThan(0);
    for (const p of forgotten) expect(p.update).toBeNull();
  });

  it('keeps sensitive values in reserved ranges that belong to no one', () => {
    const sensitive = all.filter((p) => p.kind === 'sensitive_info');
    expect(sensitive).toHaveLength(USERS * COUNTS.sensitive_info);
    const fields = new Set<string>();
    for (const p of sensitive) {
      expect(p.sensitive).not.toBeNull();
      const { field, value } = p.sensitive!;
      fields.add(field);
      expect(p.statement).toContain(value);
      if (field === 'phone') expect(value).toMatch(/\b555-01\d\d$/);
      if (field === 'email') expect(value).toMatch(/^[a-z0-9.]+@example\.com$/);
      if (field === 'ssn') expect(value).toMatch(/^9\d\d-\d\d-\d{4}$/);
      if (field === 'card') {
        expect(value.replace(/\s/g, '')).toMatch(/^\d{16}$/);
        expect(passesLuhn(value)).toBe(false);
      }
    }
    for (const field of ['phone', 'email', 'ssn', 'card']) expect(fields.has(field), field).toBe(true);
    for (const p of all.filter((q) => q.kind !== 'sensitive_info')) expect(p.sensitive).toBeNull();
  });

  it('gives each user different sensitive values', () => {
    const phones = outputs.map((o) => o.preferences.find((p) => p.sensitive?.field === 'phone')?.sensitive?.value);
    expect(new Set(phones).size).toBe(USERS);
  });
});
