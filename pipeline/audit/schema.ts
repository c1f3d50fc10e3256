import { z } from 'zod';

/** The rules the audit runs, in report order. `--fail-on` takes these names (or `all`). */
export const RULE_NAMES = [
  'option_bias',
  'blind_solvers',
  'query_leakage',
  'explicitness',
  'filler_conflicts',
  'sensitive_info',
  'split_contamination',
] as const;
export const RuleName = z.enum(RULE_NAMES);
export type RuleName = z.infer<typeof RuleName>;

/** The slice dimensions every rate is broken down by. */
export const SLICE_DIMS = ['who', 'updated', 'pref_type', 'conversation_scenario'] as const;
export const SliceDim = z.enum(SLICE_DIMS);
export type SliceDim = z.infer<typeof SliceDim>;

export const AuditFormat = z.enum(['native', 'personamem-v2']);
export type AuditFormat = z.infer<typeof AuditFormat>;

export const AuditMessage = z.object({ role: z.string(), content: z.string() });
export type AuditMessage = z.infer<typeof AuditMessage>;

/** Where a record came from, relative to the audited directory. */
export const SourceRef = z.object({
  file: z.string(),
  /** 1-based line of a JSONL file. */
  line: z.number().int().min(1).optional(),
  /** 1-based data row of a CSV file (the header is not counted). */
  row: z.number().int().min(1).optional(),
  /** Path inside a JSON file, e.g. `conversations.personal_email[2]`. */
  element: z.string().optional(),
});
export type SourceRef = z.infer<typeof SourceRef>;

/**
 * One multiple-choice question, whatever layout it was read from. `id` is a readable pointer back to
 * the source (`questions.jsonl:12`, `benchmark/text/val.csv:row 7`,
 * `raw_data/x.json#conversations.personal_email[2]`).
 */
export const AuditItem = z.object({
  id: z.string().min(1),
  source: SourceRef,
  question_id: z.string().nullable(),
  persona_id: z.string(),
  /** `benchmark`, `train`, `val`, or `all` when the layout has no splits. */
  split: z.string(),
  user_query: z.string().min(1),
  correct_answer: z.string().min(1),
  incorrect_answers: z.array(z.string().min(1)).min(1),
  /** The options in the order shown to a model (the gold is one of them); for the published layouts, a seeded shuffle. */
  options: z.array(z.string()).min(2),
  preference: z.string(),
  prev_pref: z.string().nullable(),
  pref_type: z.string(),
  who: z.string(),
  updated: z.boolean(),
  sensitive_info: z.boolean(),
  conversation_scenario: z.string(),
  topic_preference: z.string().nullable(),
  topic_query: z.string().nullable(),
  /** The session that reveals the tested preference, when the source holds it. */
  evidence: z.array(AuditMessage).nullable(),
  /** Where the evidence messages were read (file and message range or element). */
  evidence_ref: z.string().nullable(),
  /** Quirks met while reading (a dropped null distractor, a missing column, ...). */
  notes: z.array(z.string()),
});
export type AuditItem = z.infer<typeof AuditItem>;

/** A preference of a user, as far as the source tells it. */
export const AuditPreference = z.object({
  statement: z.string().min(1),
  topic: z.string().nullable(),
  update: z.string().nullable(),
});
export type AuditPreference = z.infer<typeof AuditPreference>;

export const AuditSensitiveValue = z.object({ field: z.string(), value: z.string(), ref: z.string() });
export type AuditSensitiveValue = z.infer<typeof AuditSensitiveValue>;

export const AuditUser = z.object({
  persona_id: z.string(),
  ref: z.string(),
  preferences: z.array(AuditPreference),
  sensitive: z.array(AuditSensitiveValue),
});
export type AuditUser = z.infer<typeof AuditUser>;

/**
 * A stretch of a history that is not one of the user's own sessions: a filler conversation, or
 * another user's session. `topic` is known only for native filler read from the run store.
 */
export const AuditSegment = z.object({
  ref: z.string(),
  topic: z.string().nullable(),
  messages: z.array(AuditMessage),
});
export type AuditSegment = z.infer<typeof AuditSegment>;

export const AuditHistory = z.object({
  file: z.string(),
  persona_id: z.string(),
  /**
   * `known` when the user's own sessions could be told apart from the rest (native run store, or
   * the published raw persona file); otherwise filler conflicts cannot be checked in this history.
   */
  provenance: z.enum(['known', 'unknown']),
  segments: z.array(AuditSegment),
});
export type AuditHistory = z.infer<typeof AuditHistory>;

/** Everything a reader hands to the rules. */
export const AuditDataset = z.object({
  format: AuditFormat,
  /** `native`, `published` (benchmark CSVs) or `raw` (raw persona files alone). */
  layout: z.enum(['native', 'published', 'raw']),
  root: z.string(),
  files: z.array(z.string()),
  items: z.array(AuditItem),
  users: z.array(AuditUser),
  histories: z.array(AuditHistory),
  /** Records that could not be read as questions, with why (statement-only raw elements are counted, not listed). */
  skipped: z.array(z.object({ ref: z.string(), reason: z.string() })),
  notes: z.array(z.string()),
});
export type AuditDataset = z.infer<typeof AuditDataset>;

/**
 * Thresholds of the rules. Every field has a default; `--threshold key=value` overrides one.
 * Documented in the README ("Audit").
 */
export const AuditThresholds = z.strictObject({
  /** Probability of a correct guess among 4 options. @default 0.25 */
  chance: z.number().gt(0).lt(1).default(0.25),
  /** Confidence level of the Wilson intervals. @default 0.95 */
  confidence: z.number().gt(0.5).lt(1).default(0.95),
  /** A bias or blind-solver rate is a finding when it exceeds chance by more than this and its interval lies above chance. @default 0.05 */
  margin: z.number().min(0).max(0.75).default(0.05),
  /** Overall share of questions whose gold is the uniquely longest option, at most. @default 0.3 */
  max_uniquely_longest: z.number().min(0).max(1).default(0.3),
  /** Slices smaller than this are reported but never produce a finding. @default 10 */
  min_slice: z.number().int().min(1).default(10),
  /** Shared content words between query and preference that make a leak. @default 1 */
  leak_min_shared: z.number().int().min(1).default(1),
  /** Share of the preference's content words in one first-person sentence that makes it explicit. @default 0.6 */
  explicit_coverage: z.number().gt(0).max(1).default(0.6),
  /** Share of a preference's content words a filler must carry to conflict (and at least 2). @default 0.6 */
  conflict_coverage: z.number().gt(0).max(1).default(0.6),
  /** Jaccard similarity of normalised query tokens that makes two queries near-duplicates. @default 0.8 */
  duplicate_jaccard: z.number().gt(0).max(1).default(0.8),
});
export type AuditThresholds = z.infer<typeof AuditThresholds>;
export type AuditThresholdsInput = z.input<typeof AuditThresholds>;

/** A rate with its Wilson interval, tested against chance. */
export const RateStat = z.object({
  n: z.number().int().min(0),
  /** Hits; fractional for blind solvers, which score 1/4 when they cannot decide. */
  successes: z.number().min(0),
  rate: z.number().min(0).max(1),
  ci: z.tuple([z.number(), z.number()]),
  /** One-sided exact binomial p-value of a rate this high under chance (successes rounded). */
  p_value: z.number().min(0).max(1),
});
export type RateStat = z.infer<typeof RateStat>;

/** One measure (e.g. "gold is uniquely longest"), overall and per slice value. */
export const MeasureStats = z.object({
  measure: z.string(),
  label: z.string(),
  overall: RateStat,
  slices: z.record(SliceDim, z.record(z.string(), RateStat)),
});
export type MeasureStats = z.infer<typeof MeasureStats>;

export const Finding = z.object({
  rule: RuleName,
  /** The record (item id), file, or scope (`overall`, `who=others`) the finding is about. */
  id: z.string(),
  message: z.string(),
  /** Ids of example items (bias findings), or of the other records involved (contamination). */
  examples: z.array(z.string()).optional(),
  /** Rule-specific details: shared words, the value found, the similarity, ... */
  detail: z.record(z.string(), z.unknown()).optional(),
});
export type Finding = z.infer<typeof Finding>;

export const RuleResult = z.object({
  rule: RuleName,
  /** `fail` when the rule has findings; `skipped` when the input cannot be checked for it (with `reason`). */
  status: z.enum(['pass', 'fail', 'skipped']),
  summary: z.string(),
  /** Records (items, segments, values, queries) the rule looked at. */
  checked: z.number().int().min(0),
  findings: z.array(Finding),
  reason: z.string().optional(),
  measures: z.array(MeasureStats).optional(),
});
export type RuleResult = z.infer<typeof RuleResult>;

export const AUDIT_SCHEMA_ID = 'personagen-audit/1';

/** The report: what `--json` prints and the HTML page draws. */
export const AuditReport = z.object({
  schema: z.literal(AUDIT_SCHEMA_ID),
  input: z.object({
    path: z.string(),
    format: AuditFormat,
    layout: z.enum(['native', 'published', 'raw']),
    files: z.array(z.string()),
    items: z.number().int(),
    /** Items with other than 4 options, left out of the bias and blind-solver rates. */
    items_not_4_options: z.number().int(),
    users: z.number().int(),
    histories: z.number().int(),
    splits: z.record(z.string(), z.number().int()),
    skipped: z.array(z.object({ ref: z.string(), reason: z.string() })),
    notes: z.array(z.string()),
  }),
  thresholds: AuditThresholds,
  /** Length of options in characters: the gold's mean, the distractors' mean, how often the gold ranks 1st..4th longest, and how often it is the uniquely longest. */
  lengths: z.object({
    gold_mean: z.number(),
    distractor_mean: z.number(),
    gold_rank: z.array(z.number().int()).length(4),
    /** Share of questions whose gold is the uniquely longest option (limit: `max_uniquely_longest`). */
    gold_uniquely_longest: z.number().min(0).max(1),
  }),
  judge: z
    .object({
      model: z.string(),
      items: z.number().int(),
      calls: z.number().int(),
      cached: z.number().int(),
      input_tokens: z.number().int(),
      output_tokens: z.number().int(),
    })
    .nullable(),
  rules: z.object(Object.fromEntries(RULE_NAMES.map((r) => [r, RuleResult])) as Record<RuleName, typeof RuleResult>),
  /** Rules with findings. */
  failed: z.array(RuleName),
  /** The gate: rules chosen with `--fail-on`, those of them that failed, and the exit code. */
  gate: z.object({ fail_on: z.array(RuleName), failed: z.array(RuleName), exit_code: z.union([z.literal(0), z.literal(1)]) }),
});
export type AuditReport = z.infer<typeof AuditReport>;
