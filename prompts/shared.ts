import { z } from 'zod';
import { AgeBand, Gender } from '../pipeline/schemas/records.js';

/** What prompts need to know of a user: enough to personalise, never the preference lists. */
export const PersonaBrief = z.object({
  name: z.string(),
  age: z.number().int(),
  gender: Gender,
  age_band: AgeBand,
  occupation: z.string(),
  location: z.string(),
  speaking_style: z.string(),
  languages: z.array(z.string()),
});
export type PersonaBrief = z.infer<typeof PersonaBrief>;

export function briefText(p: PersonaBrief): string {
  return `${p.name}, ${p.age}, ${p.gender}, ${p.occupation}, lives in ${p.location}. Writes to chatbots like this: ${p.speaking_style}.`;
}
