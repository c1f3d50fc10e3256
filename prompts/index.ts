import type { PromptModule } from './contract.js';
import { fillerPrompt } from './filler.js';
import { alignJudgePrompt, blindJudgePrompt, leakJudgePrompt } from './judges.js';
import { preferencesPrompt, updatesPrompt } from './preferences.js';
import { profilePrompt } from './profile.js';
import { questionPrompt } from './question.js';
import { sessionPrompt } from './session.js';

export { definePrompt } from './contract.js';
export type { PromptModule } from './contract.js';
export { fillerPrompt } from './filler.js';
export { alignJudgePrompt, blindJudgePrompt, leakJudgePrompt } from './judges.js';
export { BLIND_HEURISTICS, META_PATTERNS, blindHeuristics, contentWords, wordCount } from './lexical.js';
export type { BlindHeuristic } from './lexical.js';
export { candidatesFor, preferencesPrompt, updatesPrompt } from './preferences.js';
export { profilePrompt } from './profile.js';
export { questionPrompt } from './question.js';
export type { QuestionInput, QuestionOutput } from './question.js';
export { sessionPrompt } from './session.js';
export type { SessionInput } from './session.js';
export type { PersonaBrief } from './shared.js';
export { offlineBank } from './offline/bank.js';

/** Every prompt, for the offline provider and the manifest's prompt hashes. */
export const ALL_PROMPTS: ReadonlyArray<PromptModule<unknown, unknown>> = [
  profilePrompt,
  preferencesPrompt,
  updatesPrompt,
  sessionPrompt,
  questionPrompt,
  blindJudgePrompt,
  leakJudgePrompt,
  alignJudgePrompt,
  fillerPrompt,
] as unknown as ReadonlyArray<PromptModule<unknown, unknown>>;
