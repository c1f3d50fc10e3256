export { auditDataset, parseFailOn, parseThresholds, runAudit } from './audit.js';
export type { AuditOptions } from './audit.js';
export { renderAuditHtml } from './html.js';
export { parseJudgeModel, runJudge } from './judge.js';
export type { JudgeOptions } from './judge.js';
export { readAuditDataset } from './read.js';
export type { FormatChoice } from './read.js';
export { PUBLISHED_COLUMNS, SPLITS as PUBLISHED_SPLITS } from '../export/layout.js';
export { nearDuplicates } from './rules/contamination.js';
export { couldBeReal, scanText } from './rules/sensitive.js';
export {
  AUDIT_SCHEMA_ID,
  AuditDataset,
  AuditFormat,
  AuditItem,
  AuditReport,
  AuditThresholds,
  Finding,
  MeasureStats,
  RULE_NAMES,
  RateStat,
  RuleName,
  RuleResult,
  SLICE_DIMS,
} from './schema.js';
export type { AuditThresholdsInput } from './schema.js';
export { binomialUpperTail, wilson } from './stats.js';
export { formatAuditText } from './text.js';
