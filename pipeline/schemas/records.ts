import { z } from 'zod';

/** The ten task types of the published data (`conversation_scenario`). */
export const TASK_TYPES = [
  'personal_email',
  'professional_email',
  'creative_writing',
  'professional_writing',
  'chat_message',
  'social_media_post',
  'translation',
  'trouble_consult',
  'knowledge_query',
  'multimodal',
] as const;
export const TaskType = z.enum(TASK_TYPES);
export type TaskType = z.infer<typeof TaskType>;

/** Preference kinds we generate. `sensitive_info` is synthetic private data, not a taste. */
export const PREF_KINDS = [
  'stereotypical',
  'anti_stereotypical',
  'neutral',
  'therapy_background',
  'health_and_medical',
  'sensitive_info',
] as const;
export const PrefKind = z.enum(PREF_KINDS);
export type PrefKind = z.infer<typeof PrefKind>;

/** The published `pref_type` names. */
export const PUBLISHED_PREF_TYPE = {
  stereotypical: 'stereotypical_pref',
  anti_stereotypical: 'anti_stereotypical_pref',
  neutral: 'neutral_preferences',
  therapy_background: 'therapy_background',
  health_and_medical: 'health_and_medical_conditions',
  sensitive_info: 'sensitive_info',
} as const satisfies Record<PrefKind, string>;
export const PrefType = z.enum([
  'stereotypical_pref',
  'anti_stereotypical_pref',
  'neutral_preferences',
  'therapy_background',
  'health_and_medical_conditions',
  'ask_to_forget',
  'sensitive_info',
  'multimodal',
]);
export type PrefType = z.infer<typeof PrefType>;

export const Gender = z.enum(['female', 'male', 'nonbinary']);
export const AgeBand = z.enum(['18-29', '30-44', '45-64', '65+']);

export const SeedPersona = z.object({
  persona: z.string().trim().min(8, 'a seed persona needs at least 8 characters'),
});
export type SeedPersona = z.infer<typeof SeedPersona>;

export const Demographics = z.object({
  gender: Gender,
  age_band: AgeBand,
  sexual_orientation: z.string().min(1),
  ethnicity: z.string().min(1),
});
export type Demographics = z.infer<typeof Demographics>;

/** The structured profile the model expands a seed into. Field order is the system message's. */
export const Profile = z.object({
  name: z.string().min(2),
  age: z.number().int().min(18).max(100),
  gender: z.string().min(1),
  sexual_orientation: z.string().min(1),
  race: z.string().min(1),
  nationality: z.string().min(1),
  current_location: z.string().min(2),
  personality: z.object({
    traits: z.array(z.string().min(1)).min(2).max(8),
    hobbies: z.array(z.string().min(1)).min(1).max(8),
    values: z.array(z.string().min(1)).min(1).max(8),
  }),
  education: z.string().min(2),
  occupation: z.string().min(2),
  language_proficiency: z.array(z.string().min(1)).min(1).max(6),
  speaking_style: z.string().min(5),
  bio: z.string().min(20),
});
export type Profile = z.infer<typeof Profile>;

export const User = z.object({
  persona_id: z.number().int().min(0),
  short_persona: z.string().min(1),
  demographics: Demographics,
  profile: Profile,
});
export type User = z.infer<typeof User>;

/** A preference of one user, with the branches drawn for it. */
export const Preference = z.object({
  pref_id: z.string().min(1),
  persona_id: z.number().int().min(0),
  kind: PrefKind,
  statement: z.string().min(3),
  topic: z.string().min(1),
  who: z.enum(['self', 'others']),
  /** Who holds it when `who` is `others`, as the user calls them ("my sister Ines"). */
  person: z.string().min(1).nullable(),
  /** Later changed to this value (`updated`). */
  update: z.string().min(3).nullable(),
  /** Later asked to be forgotten. */
  forget: z.boolean(),
  /** Extra knowledge_query sessions that touch it again (repeated curiosity). */
  repeats: z.number().int().min(0),
  /** Synthetic sensitive value, for `sensitive_info` items. */
  sensitive: z.object({ field: z.string(), value: z.string() }).nullable(),
});
export type Preference = z.infer<typeof Preference>;

export const ChatMessage = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

/** Why a session exists: reveal a preference, its update, a forget request, or a repeat. */
export const SessionPurpose = z.enum(['reveal', 'update', 'forget', 'repeat']);
export type SessionPurpose = z.infer<typeof SessionPurpose>;

export const Session = z.object({
  session_id: z.string().min(1),
  persona_id: z.number().int().min(0),
  pref_id: z.string().min(1),
  purpose: SessionPurpose,
  scenario_id: z.string().min(1),
  task_type: TaskType,
  topic: z.string().min(1),
  messages: z.array(ChatMessage.extend({ role: z.enum(['user', 'assistant']) })).min(1),
  tokens: z.number().int().min(1),
});
export type Session = z.infer<typeof Session>;

export const FilterName = z.enum(['format', 'query_leakage', 'blind_solvability', 'gold_alignment', 'distractor_contamination']);
export type FilterName = z.infer<typeof FilterName>;

export const FilterOutcome = z.object({
  passed: z.boolean(),
  attempts: z.number().int().min(1),
  judge: z.string(),
  reason: z.string().optional(),
});

export const SizeLabel = z.string().regex(/^\d+(k|m)?$/i, 'expected a size like 32k, 128k or 1m');

/** One validated multiple-choice question, as written to questions.jsonl. */
export const Question = z.object({
  question_id: z.string().min(1),
  persona_id: z.number().int().min(0),
  user_query: z.string().min(1),
  correct_answer: z.string().min(1),
  incorrect_answers: z.array(z.string().min(1)).length(3),
  options: z.array(z.string().min(1)).length(4),
  answer: z.enum(['A', 'B', 'C', 'D']),
  preference: z.string().min(1),
  pref_type: PrefType,
  who: z.enum(['self', 'others']),
  updated: z.boolean(),
  prev_pref: z.string().nullable(),
  sensitive_info: z.boolean(),
  conversation_scenario: TaskType,
  topic_preference: z.string().min(1),
  topic_query: z.string().min(1),
  scenario_id: z.string().min(1),
  histories: z.record(SizeLabel, z.string()),
  evidence: z.object({
    session_id: z.string(),
    /** sha256 of the JSON of the evidence session's messages ([{role, content}, ...]). */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    messages: z.record(SizeLabel, z.tuple([z.number().int(), z.number().int()])),
  }),
  distance_tokens: z.record(SizeLabel, z.number().int().min(0)),
  filters: z.record(FilterName, FilterOutcome),
});
export type Question = z.infer<typeof Question>;

export const HistoryMetadata = z.object({
  total_messages: z.number().int().min(1),
  final_token_count: z.number().int().min(0),
  persona_id: z.number().int().min(0),
  size: SizeLabel,
  token_target: z.number().int().min(1),
  num_relevant_tokens: z.number().int().min(0),
  num_irrelevant_tokens: z.number().int().min(0),
  num_sessions: z.number().int().min(0),
  num_filler_sessions: z.number().int().min(0),
  tokenizer: z.string(),
});

export const HistoryFile = z.object({
  metadata: HistoryMetadata,
  chat_history: z.array(ChatMessage).min(1),
});
export type HistoryFile = z.infer<typeof HistoryFile>;
