import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demographicTables, readSeeds, sampleDemographics } from '../../personas/index.js';
import { Rng } from '../../pipeline/core/rng.js';
import type { Runtime } from '../../pipeline/engine/runtime.js';
import { stageContext } from '../../pipeline/engine/runtime.js';
import { profileUnit } from '../../pipeline/engine/units.js';
import { User } from '../../pipeline/schemas/records.js';
import { profileStage } from '../../pipeline/stages/profile.js';
import { offlineRuntime, removeDir, tempDir } from '../helpers/offline-run.js';

const USERS = 12;
const AGE_BOUNDS = { '18-29': [18, 29], '30-44': [30, 44], '45-64': [45, 64], '65+': [65, 100] } as const;

let dirs: string[] = [];
let rt: Runtime;
let users: User[];

beforeAll(async () => {
  dirs = [await tempDir('profile')];
  rt = await offlineRuntime(dirs[0]!, { users: USERS, seed: 11, sizes: ['8k'] });
  users = await Promise.all(Array.from({ length: USERS }, (_, pid) => profileUnit(rt, pid)));
});

afterAll(async () => {
  await Promise.all(dirs.map(removeDir));
});

describe('profile stage', () => {
  it('gives schema-valid users numbered by persona id', () => {
    users.forEach((user, pid) => {
      expect(User.safeParse(user).success).toBe(true);
      expect(user.persona_id).toBe(pid);
    });
  });

  it('draws demographics only from values the weight tables give a positive weight', () => {
    const { tables } = demographicTables();
    for (const { demographics: d } of users) {
      expect(tables.gender.weights[d.gender]).toBeGreaterThan(0);
      expect(tables.age_band.weights[d.age_band]).toBeGreaterThan(0);
      expect(tables.sexual_orientation.weights[d.sexual_orientation]).toBeGreaterThan(0);
      expect(tables.ethnicity.weights[d.ethnicity]).toBeGreaterThan(0);
    }
  });

  it('writes a profile that agrees with the drawn demographics', () => {
    for (const { demographics: d, profile } of users) {
      const [lo, hi] = AGE_BOUNDS[d.age_band];
      expect(profile.age).toBeGreaterThanOrEqual(lo);
      expect(profile.age).toBeLessThanOrEqual(hi);
      expect(profile.race).toBe(d.ethnicity);
      expect(profile.sexual_orientation.toLowerCase()).toBe(d.sexual_orientation.toLowerCase());
      expect(profile.gender.toLowerCase().replace('-', '')).toBe(d.gender);
    }
  });

  it('expands a distinct bundled seed persona for each user', () => {
    const seeds = new Set(readSeeds().seeds);
    for (const user of users) expect(seeds.has(user.short_persona)).toBe(true);
    expect(new Set(users.map((u) => u.short_persona)).size).toBe(USERS);
  });

  it('gives the same users for the same seed in another directory, and other users for another seed', async () => {
    const same = await tempDir('profile-same');
    const other = await tempDir('profile-other');
    dirs.push(same, other);
    const rtSame = await offlineRuntime(same, { users: 3, seed: 11, sizes: ['8k'] });
    const rtOther = await offlineRuntime(other, { users: 3, seed: 12, sizes: ['8k'] });
    for (let pid = 0; pid < 3; pid++) {
      expect(await profileUnit(rtSame, pid)).toEqual(users[pid]);
    }
    const others = await Promise.all([0, 1, 2].map((pid) => profileUnit(rtOther, pid)));
    expect(others).not.toEqual(users.slice(0, 3));
  });

  it('gives the same user from the stage function as from its unit', async () => {
    const user = users[4]!;
    const again = await profileStage({ persona_id: 4, short_persona: user.short_persona }, stageContext(rt));
    expect(again).toEqual(user);
  });

  it('reads a finished user from the run store without calling the model again', async () => {
    const before = rt.session.modelCalls;
    expect(await profileUnit(rt, 2)).toEqual(users[2]);
    expect(rt.session.modelCalls).toBe(before);
  });
});

describe('demographic sampling', () => {
  it('follows the table weights over many draws', () => {
    const { tables } = demographicTables();
    const runs = 4000;
    const genders: Record<string, number> = {};
    const ages: Record<string, number> = {};
    for (let i = 0; i < runs; i++) {
      const d = sampleDemographics(Rng.derive('demographics-share', i));
      genders[d.gender] = (genders[d.gender] ?? 0) + 1;
      ages[d.age_band] = (ages[d.age_band] ?? 0) + 1;
    }
    for (const [gender, weight] of Object.entries(tables.gender.weights)) {
      expect(Math.abs((genders[gender] ?? 0) / runs - weight)).toBeLessThan(0.03);
    }
    for (const [band, weight] of Object.entries(tables.age_band.weights)) {
      expect(Math.abs((ages[band] ?? 0) / runs - weight)).toBeLessThan(0.03);
    }
  });
});
