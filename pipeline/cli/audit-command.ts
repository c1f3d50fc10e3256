import { resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type AuditReport, formatAuditText, parseFailOn, parseThresholds, renderAuditHtml, runAudit } from '../audit/index.js';
import type { FormatChoice, JudgeOptions } from '../audit/index.js';
import { PersonagenError } from '../core/errors.js';
import { writeFileAtomic } from '../core/files.js';

export interface AuditCommandOptions {
  cwd: string;
  path: string;
  format: FormatChoice;
  json: boolean;
  html?: string | undefined;
  failOn?: string | undefined;
  judge?: string | undefined;
  judgeLimit?: number | undefined;
  thresholds: string[];
  /** Where the text or JSON goes. @default process.stdout */
  out?: { write(text: string): unknown } | undefined;
  /** Replace the judge's providers (tests). */
  judgeOptions?: Partial<JudgeOptions> | undefined;
}

/** Runs the audit and writes its outputs; returns the report (its gate says the exit code). */
export async function auditCommand(o: AuditCommandOptions): Promise<AuditReport> {
  if (o.judgeLimit !== undefined && !o.judge) throw new PersonagenError('bad_config', '`--judge-limit` needs `--judge MODEL`');
  const failOn = o.failOn === undefined ? [] : parseFailOn(o.failOn);
  const thresholds = parseThresholds(o.thresholds);
  const { report } = await runAudit(resolve(o.cwd, o.path), {
    format: o.format,
    thresholds,
    failOn,
    ...(o.judge ? { judge: { ...o.judgeOptions, model: o.judge, limit: o.judgeLimit } } : {}),
  });
  if (o.html) await writeFileAtomic(resolve(o.cwd, o.html), renderAuditHtml(report));
  const out = o.out ?? process.stdout;
  out.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatAuditText(report)}\n${o.html ? `\nwrote ${o.html}\n` : ''}`);
  return report;
}

const positiveInt = (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError(`Expected \`--judge-limit\` to be an integer >= 1, got ${value}`);
  return Number(value);
};

export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .argument('<path>', 'a dataset directory (ours, or the published PersonaMem-v2 layout), or one raw persona file or question CSV')
    .description(
      'Audit a dataset for answers found without the history: option bias, blind solvers, leaks, sensitive values, split overlap',
    )
    .addOption(new Option('--format <format>', 'input layout').choices(['auto', 'native', 'personamem-v2']).default('auto'))
    .option('--json', 'print the report as JSON (schema personagen-audit/1)')
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .option('--fail-on <rules>', 'exit 1 when one of these rules has findings: all, or a comma-separated list')
    .option('--judge <model>', 'also ask a model, given no history (e.g. anthropic:claude-haiku-4-5, openai:gpt-4.1-mini, offline)')
    .option('--judge-limit <n>', 'judge at most this many questions, spread over the dataset', positiveInt)
    .option(
      '--threshold <key=value>',
      'override a rule threshold (chance, confidence, margin, max_uniquely_longest, min_slice, leak_min_shared, explicit_coverage, conflict_coverage, duplicate_jaccard); repeatable',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .action(async (path: string, o: Record<string, unknown>) => {
      const report = await auditCommand({
        cwd: process.cwd(),
        path,
        format: o.format as FormatChoice,
        json: Boolean(o.json),
        html: o.html as string | undefined,
        failOn: o.failOn as string | undefined,
        judge: o.judge as string | undefined,
        judgeLimit: o.judgeLimit as number | undefined,
        thresholds: (o.threshold as string[] | undefined) ?? [],
      });
      if (report.gate.exit_code !== 0) process.exitCode = report.gate.exit_code;
    });
}
