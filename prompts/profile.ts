import { z } from 'zod';
import { Demographics, Profile } from '../pipeline/schemas/records.js';
import { definePrompt } from './contract.js';
import { EDUCATION, HOBBIES, REGIONS, SPEAKING_STYLES, TRAITS, VALUES, regionOf } from './offline/people.js';
import { capitalize } from './offline/text.js';

export const ProfileInput = z.object({
  short_persona: z.string().min(1),
  demographics: Demographics,
});
export type ProfileInput = z.infer<typeof ProfileInput>;

const AGE_RANGE = { '18-29': [19, 29], '30-44': [30, 44], '45-64': [45, 64], '65+': [65, 84] } as const;

/** "A retired ferry mechanic in Tromsø who ..." → occupation and place, when the seed says them. */
export function readSeed(seed: string): { occupation?: string; place?: string } {
  const m = /^(?:an?|the)\s+(.+?)\s+(?:in|from|on|near|outside)\s+(?:the\s+)?([A-ZÀ-Ý][\p{L}'’.-]*(?:[ ,]+[A-ZÀ-Ý][\p{L}'’.-]*)*)/u.exec(
    seed.trim(),
  );
  if (!m) return {};
  return { occupation: m[1]!.replace(/^(?:\d+-year-old|young|retired|former|newly)\s+/i, (w) => w), place: m[2]!.replace(/[,\s]+$/, '') };
}

export const profilePrompt = definePrompt({
  id: 'profile',
  version: 1,
  maxTokens: 1200,
  instructions: [
    'You expand a one-line seed persona into a realistic, specific user profile for a personalization benchmark.',
    'The demographics given are fixed: keep gender, age band, sexual orientation and ethnicity exactly consistent with them.',
    'Fill every field of the JSON schema. Be concrete (a real city, a real occupation, traits with texture), avoid clichés and',
    'stereotypes, and keep the bio to 2-4 sentences. speaking_style describes how this person writes to a chatbot.',
    'Reply with one JSON object only.',
  ].join('\n'),
  input: ProfileInput,
  output: Profile,
  render: (input) => ({
    messages: [
      {
        role: 'user',
        content: `Seed persona: ${input.short_persona}\nDemographics: gender ${input.demographics.gender}; age band ${input.demographics.age_band}; sexual orientation ${input.demographics.sexual_orientation}; ethnicity ${input.demographics.ethnicity}.\nWrite the profile.`,
      },
    ],
  }),
  simulate: (input, rng) => {
    const d = input.demographics;
    const region = REGIONS[regionOf(d.ethnicity)];
    const firstNames = d.gender === 'female' ? region.female : d.gender === 'male' ? region.male : region.neutral;
    const [lo, hi] = AGE_RANGE[d.age_band];
    const age = lo + rng.int(hi - lo + 1);
    const seed = readSeed(input.short_persona);
    const [city, nationality] = rng.pick(region.places);
    const location = seed.place && seed.place.length <= 40 ? seed.place : city;
    const occupation = seed.occupation ? capitalize(seed.occupation) : 'Works in a local small business';
    const traits = rng.sample(TRAITS, 4);
    const hobbies = rng.sample(HOBBIES, 3);
    const values = rng.sample(VALUES, 3);
    const languages = ['English', ...rng.sample(region.languages, 1 + rng.int(2))];
    const name = `${rng.pick(firstNames)} ${rng.pick(region.surnames)}`;
    const first = name.split(' ')[0]!;
    return {
      name,
      age,
      gender: capitalize(d.gender === 'nonbinary' ? 'non-binary' : d.gender),
      sexual_orientation: capitalize(d.sexual_orientation),
      race: d.ethnicity,
      nationality,
      current_location: location,
      personality: { traits, hobbies, values },
      education: rng.pick(EDUCATION),
      occupation,
      language_proficiency: languages,
      speaking_style: rng.pick(SPEAKING_STYLES),
      bio: `${first} is ${age} and lives in ${location}. ${first} is ${input.short_persona.replace(/^(A|An|The)\b/, (m) => m.toLowerCase()).replace(/[.!?]+$/, '')}. Friends describe ${first} as ${traits[0]!.toLowerCase()} and ${traits[1]!.toLowerCase()}, and ${values[0]!.toLowerCase()} matters more than almost anything.`,
    };
  },
});
