import { z } from 'zod';
import { sampleDemographics } from '../../personas/index.js';
import { profilePrompt } from '../../prompts/index.js';
import type { PersonaBrief } from '../../prompts/index.js';
import { User } from '../schemas/records.js';
import type { StageContext } from './context.js';

export const ProfileStageInput = z.object({ persona_id: z.number().int().min(0), short_persona: z.string().min(1) });
export type ProfileStageInput = z.infer<typeof ProfileStageInput>;
export const ProfileStageOutput = User;

/** Seed persona → user: demographics drawn from the weight tables, profile written by the model. */
export async function profileStage(input: ProfileStageInput, ctx: StageContext): Promise<User> {
  const { persona_id, short_persona } = ProfileStageInput.parse(input);
  const demographics = sampleDemographics(ctx.rng('user', persona_id, 'demographics'));
  const profile = await ctx.llm.run(
    profilePrompt,
    { short_persona, demographics },
    { stage: 'profile', ledger: ctx.ledger, signal: ctx.signal },
  );
  return User.parse({ persona_id, short_persona, demographics, profile });
}

/** The part of a user that prompts see. */
export function personaBrief(user: User): PersonaBrief {
  return {
    name: user.profile.name,
    age: user.profile.age,
    gender: user.demographics.gender,
    age_band: user.demographics.age_band,
    occupation: user.profile.occupation,
    location: user.profile.current_location,
    speaking_style: user.profile.speaking_style,
    languages: user.profile.language_proficiency,
  };
}
