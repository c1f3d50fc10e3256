import { PersonagenError } from '../core/errors.js';
import { describeZodIssue } from '../core/jsonl.js';
import { type JudgeOptions, runJudge } from './judge.js';
import { type FormatChoice, readAuditDataset } from './read.js';
import { blindSolvers, lengthProfile, optionBias, scoreItems } from './rules/bias.js';
import type { JudgeVerdict, RuleContext } from './rules/common.js';
import { fillerConflicts } from './rules/conflicts.js';
import { splitContamination } from './rules/contamination.js';
import { explicitness, queryLeakage } from './rules/leakage.js';
import { sensitiveInfo } from './rules/sensitive.js';
import {
  AUDIT_SCHEMA_ID,
  type AuditDataset,
  AuditReport,
  AuditThresholds,
  type AuditThresholdsInput,
  RULE_NAMES,
  type RuleName,
  type RuleResult,
} from './schema.js';

export interface AuditOptions {
  /** @default "auto" */
  format?: FormatChoice | undefined;
  /** Overrides of the rule thresholds; the rest keep their defaults. */
  thresholds?: AuditThresholdsInput | undefined;
  /** Rules whose findings make the exit code 1. @default [] */
  failOn?: readonly RuleName[] | undefined;
  /** Model checks (blind judge, leak judge); none when absent. */
  judge?: JudgeOptions | undefined;
}

/** Reads `--fail-on`: `all`, or rule names separated by commas. */
export function parseFailOn(text: string): RuleName[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0)
    throw new PersonagenError('bad_config', `\`--fail-on\`: expected \`all\` or rule names (${RULE_NAMES.join(', ')}), got nothing`);
  if (parts.includes('all')) return [...RULE_NAMES];
  const unknown = parts.filter((p) => !(RULE_NAMES as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw new PersonagenError(
      'bad_config',
      `\`--fail-on\`: unknown rule ${unknown.map((u) => `\`${u}\``).join(', ')}; expected \`all\` or some of ${RULE_NAMES.join(', ')}`,
    );
  return RULE_NAMES.filter((r) => parts.includes(r));
}

/** Reads `--threshold key=value` pairs into validated thresholds (defaults for the rest). */
export function parseThresholds(pairs: readonly string[]): AuditThresholds {
  const input: Record<string, number> = {};
  for (const pair of pairs) {
    const m = /^\s*([a-z_]+)\s*=\s*(.+?)\s*$/.exec(pair);
    if (!m) throw new PersonagenError('bad_config', `\`--threshold\`: expected key=value (e.g. margin=0.05), got ${pair}`);
    const value = Number(m[2]);
    if (!Number.isFinite(value)) throw new PersonagenError('bad_config', `\`--threshold ${m[1]}\`: expected a number, got ${m[2]}`);
    input[m[1]!] = value;
  }
  return checkThresholds(input);
}

function checkThresholds(input: AuditThresholdsInput | undefined): AuditThresholds {
  const parsed = AuditThresholds.safeParse(input ?? {});
  if (!parsed.success) {
    const { field, message } = describeZodIssue(parsed.error);
    throw new PersonagenError(
      'bad_config',
      `\`threshold${field ? ` ${field}` : ''}\`: ${message} (known: ${Object.keys(AuditThresholds.shape).join(', ')})`,
    );
  }
  return parsed.data;
}

/** Runs every rule on a dataset already read, and builds the report. */
export async function auditDataset(dataset: AuditDataset, options: Omit<AuditOptions, 'format'> = {}): Promise<AuditReport> {
  const thresholds = checkThresholds(options.thresholds);
  let judge: Map<string, JudgeVerdict> | null = null;
  let judgeSummary: AuditReport['judge'] = null;
  if (options.judge) {
    const j = await runJudge(dataset.items, options.judge);
    judge = j.verdicts;
    judgeSummary = j.summary;
  }
  const ctx: RuleContext = { dataset, thresholds, judge };
  const scored = scoreItems(dataset.items);
  const rules: Record<RuleName, RuleResult> = {
    option_bias: optionBias(scored, ctx),
    blind_solvers: blindSolvers(scored, ctx),
    query_leakage: queryLeakage(ctx),
    explicitness: explicitness(ctx),
    filler_conflicts: fillerConflicts(ctx),
    sensitive_info: sensitiveInfo(ctx),
    split_contamination: splitContamination(ctx),
  };
  const failed = RULE_NAMES.filter((r) => rules[r].status === 'fail');
  const failOn = [...(options.failOn ?? [])];
  const gated = failOn.filter((r) => failed.includes(r));
  const splits: Record<string, number> = {};
  for (const i of dataset.items) splits[i.split] = (splits[i.split] ?? 0) + 1;
  return AuditReport.parse({
    schema: AUDIT_SCHEMA_ID,
    input: {
      path: dataset.root,
      format: dataset.format,
      layout: dataset.layout,
      files: dataset.files,
      items: dataset.items.length,
      items_not_4_options: dataset.items.length - scored.length,
      users: dataset.users.length,
      histories: dataset.histories.length,
      splits,
      skipped: dataset.skipped,
      notes: dataset.notes,
    },
    thresholds,
    lengths: lengthProfile(scored),
    judge: judgeSummary,
    rules,
    failed,
    gate: { fail_on: failOn, failed: gated, exit_code: gated.length > 0 ? 1 : 0 },
  });
}

/** Reads a dataset (ours or the published layout) and audits it. */
export async function runAudit(path: string, options: AuditOptions = {}): Promise<{ report: AuditReport; dataset: AuditDataset }> {
  const thresholds = checkThresholds(options.thresholds);
  const dataset = await readAuditDataset(path, options.format ?? 'auto');
  const report = await auditDataset(dataset, { ...options, thresholds });
  return { report, dataset };
}
