import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import type { TaskType } from '../schemas/records.js';

/** The last eight published columns: token counts and distances, whole numbers (empty where a slot is absent). */
export const PUBLISHED_COUNT_COLUMNS = [
  'total_tokens_in_chat_history_32k',
  'total_tokens_in_chat_history_128k',
  'distance_from_related_snippet_to_query_32k',
  'distance_from_related_snippet_to_query_128k',
  'num_persona_relevant_tokens_32k',
  'num_persona_irrelevant_tokens_32k',
  'num_persona_relevant_tokens_128k',
  'num_persona_irrelevant_tokens_128k',
] as const;

/** The 27 columns of the published question CSVs, in the published order. */
export const PUBLISHED_COLUMNS = [
  'persona_id',
  'chat_history_32k_link',
  'chat_history_128k_link',
  'raw_persona_file',
  'short_persona',
  'expanded_persona',
  'user_query',
  'correct_answer',
  'incorrect_answers',
  'topic_query',
  'preference',
  'topic_preference',
  'conversation_scenario',
  'pref_type',
  'related_conversation_snippet',
  'who',
  'updated',
  'prev_pref',
  'sensitive_info',
  ...PUBLISHED_COUNT_COLUMNS,
] as const;
export type PublishedColumn = (typeof PUBLISHED_COLUMNS)[number];
export type PublishedRow = Record<PublishedColumn, string>;

/** The two history slots of the published layout. */
export const SLOTS = ['32k', '128k'] as const;
export type Slot = (typeof SLOTS)[number];

export const SPLITS = ['benchmark', 'train', 'val'] as const;
export type SplitName = (typeof SPLITS)[number];

/** Where each file of the published layout lives, relative to the export root. */
export const paths = {
  csv: (split: SplitName) => `benchmark/text/${split}.csv`,
  parquet: (split: SplitName) => `benchmark/parquet/${split}.parquet`,
  history: (slot: Slot, pid: number) => `chat_history_${slot}/chat_history_persona${pid}.json`,
  raw: (pid: number) => `raw_data/raw_data_persona${pid}.json`,
};

/** The list and section keys of a raw persona file, in the published order. */
export const RAW_LIST_KEYS = [
  'stereotypical_preferences',
  'anti_stereotypical_preferences',
  'neutral_preferences',
  'therapy_background',
  'health_and_medical_conditions',
] as const;
export const RAW_SECTION_KEYS = [
  ...RAW_LIST_KEYS,
  'sensitive_information',
  'matched_images',
  'preference_updates',
  'conversations',
] as const;

/** Published chat history metadata; the 128k files add the relevant/irrelevant split. */
export const PublishedHistoryMetadata = z.object({
  total_messages: z.number().int().min(0),
  final_token_count: z.number().int().min(0),
  persona_id: z.union([z.number().int(), z.string()]),
  input_filename: z.string().optional(),
  num_relevant_tokens: z.number().int().optional(),
  num_irrelevant_tokens: z.number().int().optional(),
});

/** A message as published: text content; extra keys (one file has `version`) are tolerated. */
export const PublishedMessage = z.looseObject({ role: z.string(), content: z.unknown() });

export const PublishedHistoryFile = z.object({
  metadata: PublishedHistoryMetadata,
  chat_history: z.array(PublishedMessage),
});

/** One element of a raw persona file's `conversations`; the Q&A fields are optional. */
export const RawElement = z.looseObject({
  preference: z.string(),
  pref_type: z.string(),
  who: z.string().optional(),
  conversations: z.array(PublishedMessage),
  updated: z.boolean().optional(),
  prev_pref: z.string().nullable().optional(),
  topic_preference: z.string().optional(),
  user_query: z.unknown().optional(),
  topic_query: z.string().optional(),
  correct_answer: z.string().optional(),
  incorrect_answers: z.array(z.unknown()).optional(),
  idx_repeat: z.number().int().optional(),
});
export type RawElement = z.infer<typeof RawElement>;

/** A raw persona object: free-form profile keys, then the stable list and section keys. */
export const RawPersona = z.looseObject({
  short_persona: z.string().optional(),
  stereotypical_preferences: z.array(z.string()).optional(),
  anti_stereotypical_preferences: z.array(z.string()).optional(),
  neutral_preferences: z.array(z.string()).optional(),
  therapy_background: z.array(z.string()).optional(),
  health_and_medical_conditions: z.array(z.string()).optional(),
  sensitive_information: z.record(z.string(), z.unknown()).optional(),
  matched_images: z.array(z.unknown()).optional(),
  preference_updates: z.record(z.string(), z.unknown()).optional(),
  conversations: z.record(z.string(), z.array(z.unknown())).optional(),
});
export type RawPersona = z.infer<typeof RawPersona>;

/** The order of the task types under a raw persona file's `conversations`, as published. */
export const RAW_CONVERSATION_ORDER = [
  'personal_email',
  'professional_email',
  'creative_writing',
  'professional_writing',
  'chat_message',
  'translation',
  'trouble_consult',
  'social_media_post',
  'knowledge_query',
  'multimodal',
] as const satisfies ReadonlyArray<TaskType>;

/**
 * Writes CSV text the way Python's csv module reads it: minimal quoting, `""` for a quote, and any
 * field with a carriage return quoted too (an unquoted `\r` would end the record for Python).
 */
export function toCsv(rows: readonly PublishedRow[]): string {
  return stringify(
    rows.map((r) => PUBLISHED_COLUMNS.map((c) => r[c])),
    { header: true, columns: [...PUBLISHED_COLUMNS], record_delimiter: 'unix', quoted_match: /\r/ },
  );
}

/** Reads CSV text with a header row into records keyed by column name. */
export function fromCsv(text: string): { header: string[]; rows: Array<Record<string, string>> } {
  const records = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][];
  const header = records[0] ?? [];
  const rows = records.slice(1).map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ''])));
  return { header, rows };
}
