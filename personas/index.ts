import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InputError } from '../pipeline/core/errors.js';
import type { Rng } from '../pipeline/core/rng.js';
import type { Demographics } from '../pipeline/schemas/records.js';

const here = dirname(fileURLToPath(import.meta.url));
export const SEEDS_FILE = join(here, 'seeds.jsonl');
export const DEMOGRAPHICS_FILE = join(here, 'demographics.json');

/** Persona Hub's shape, `{"persona": "..."}`, also with the key `input persona`. */
const SeedLine = z.union([z.object({ persona: z.string() }), z.object({ 'input persona': z.string() })]);

export interface SeedReadResult {
  seeds: string[];
  duplicates: number;
  problems: Array<{ line: number; message: string }>;
}

/** Reads seed personas from JSONL: drops duplicates, reports every bad line with its number. */
export function readSeeds(file: string = SEEDS_FILE): SeedReadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError({ file }, `cannot read the seed personas (${(error as Error).message})`);
  }
  const seen = new Set<string>();
  const seeds: string[] = [];
  const problems: Array<{ line: number; message: string }> = [];
  let duplicates = 0;
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      problems.push({ line: i + 1, message: 'invalid JSON' });
      return;
    }
    const parsed = SeedLine.safeParse(json);
    if (!parsed.success) {
      problems.push({ line: i + 1, message: 'expected an object with a string field `persona` (or `input persona`)' });
      return;
    }
    const persona = ('persona' in parsed.data ? parsed.data.persona : parsed.data['input persona']).replace(/\s+/g, ' ').trim();
    if (persona.length < 8) {
      problems.push({ line: i + 1, message: 'the persona is empty or too short (under 8 characters)' });
      return;
    }
    const key = persona.toLowerCase();
    if (seen.has(key)) {
      duplicates++;
      return;
    }
    seen.add(key);
    seeds.push(persona);
  });
  return { seeds, duplicates, problems };
}

const WeightTable = z.object({
  source: z.string().min(3),
  note: z.string().optional(),
  weights: z.record(z.string(), z.number().min(0)).refine((w) => Object.values(w).some((v) => v > 0), 'expected a positive weight'),
});
export const DemographicTables = z.object({
  version: z.number().int(),
  tables: z.object({ gender: WeightTable, age_band: WeightTable, sexual_orientation: WeightTable, ethnicity: WeightTable }),
});
export type DemographicTables = z.infer<typeof DemographicTables>;

let tables: DemographicTables | undefined;

export function demographicTables(file: string = DEMOGRAPHICS_FILE): DemographicTables {
  if (tables && file === DEMOGRAPHICS_FILE) return tables;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InputError({ file }, `cannot read the demographic tables (${(error as Error).message})`);
  }
  const parsed = DemographicTables.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError({ file, field: issue?.path.join('.') }, issue?.message ?? 'invalid tables');
  }
  if (file === DEMOGRAPHICS_FILE) tables = parsed.data;
  return parsed.data;
}

const GENDERS = ['female', 'male', 'nonbinary'] as const;
const AGE_BANDS = ['18-29', '30-44', '45-64', '65+'] as const;

/** Samples one user's demographics from the weight tables. */
export function sampleDemographics(rng: Rng, t: DemographicTables = demographicTables()): Demographics {
  const gender = rng.weighted(t.tables.gender.weights);
  const age = rng.weighted(t.tables.age_band.weights);
  return {
    gender: (GENDERS as readonly string[]).includes(gender) ? (gender as Demographics['gender']) : 'nonbinary',
    age_band: (AGE_BANDS as readonly string[]).includes(age) ? (age as Demographics['age_band']) : '30-44',
    sexual_orientation: rng.weighted(t.tables.sexual_orientation.weights),
    ethnicity: rng.weighted(t.tables.ethnicity.weights),
  };
}
