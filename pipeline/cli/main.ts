import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { registerEstimateCommand } from './estimate-command.js';
import { BUDGET_EXIT_CODE, BudgetExceededError } from '../cost/budget.js';
import { registerWorkerCommand } from './worker-command.js';
import { registerDashboardCommand } from './dashboard-command.js';
import { registerExportCommand } from './export-command.js';
import { registerImportCommand } from './import-command.js';
import { registerAuditCommand } from './audit-command.js';
import type { ConfigInput } from '../config/index.js';
import { InputError, PersonagenError } from '../core/errors.js';
import { o200k } from '../core/tokenizer.js';
import { validateDataset } from '../dataset/validate.js';
import { LlmError } from '../llm/types.js';
import { generate, resume } from './generate.js';
import { registerScenariosCommand } from './scenarios-command.js';

const int = (name: string) => (value: string) => {
  if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`Expected \`${name}\` to be an integer, got ${value}`);
  return Number(value);
};

const usd = (name: string) => (value: string) => {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0))
    throw new InvalidArgumentError(`Expected \`${name}\` to be an amount of US dollars above 0, got ${value}`);
  return n;
};

function generateOverrides(o: Record<string, unknown>): ConfigInput {
  const overrides: Record<string, unknown> = {};
  if (o.users !== undefined) overrides.users = o.users;
  if (o.seed !== undefined) overrides.seed = /^\d+$/.test(String(o.seed)) ? Number(o.seed) : o.seed;
  if (o.sizes !== undefined)
    overrides.sizes = String(o.sizes)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (o.out !== undefined) overrides.out = o.out;
  if (o.concurrency !== undefined) overrides.concurrency = o.concurrency;
  if (o.seeds !== undefined) overrides.seeds = o.seeds;
  const llm: Record<string, unknown> = {};
  if (o.provider !== undefined) llm.provider = o.provider;
  if (o.model !== undefined) llm.model = o.model;
  if (o.baseUrl !== undefined) llm.base_url = o.baseUrl;
  if (Object.keys(llm).length) overrides.llm = llm;
  if (o.executor !== undefined) overrides.executor = o.executor;
  const bullmq: Record<string, unknown> = {};
  if (o.redis !== undefined) bullmq.redis = o.redis;
  if (o.workers !== undefined) bullmq.workers = o.workers;
  if (o.queuePrefix !== undefined) bullmq.queue_prefix = o.queuePrefix;
  if (Object.keys(bullmq).length) overrides.bullmq = bullmq;
  if (o.maxCost !== undefined) overrides.budget = { max_cost_usd: o.maxCost };
  if (o.batch === true) overrides.batch = { enabled: true };
  return overrides as ConfigInput;
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

export function buildProgram(): Command {
  const program = new Command('personagen')
    .description('Generate personalization benchmarks in the style of PersonaMem-v2.')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();

  program
    .command('generate')
    .description('Generate a dataset (users, sessions, questions, histories) into a directory')
    .option('-c, --config <file>', 'config file (JSON or YAML); flags override it')
    .option('-u, --users <n>', 'number of simulated users', int('users'))
    .option('--seed <seed>', 'run seed: same config and seed give the same bytes')
    .option('--sizes <list>', 'history sizes, comma-separated (e.g. 32k,128k or 8k,1m)')
    .addOption(new Option('--provider <name>', 'LLM provider for every stage').choices(['offline', 'anthropic', 'openai']))
    .option('--model <name>', 'model for every stage')
    .option('--base-url <url>', 'base URL of an OpenAI-compatible server')
    .option('-o, --out <dir>', 'output directory (default: output/demo)')
    .option('--concurrency <n>', 'work items in flight at once', int('concurrency'))
    .option('--seeds <file>', 'JSONL of seed personas ({"persona": "..."})')
    .addOption(
      new Option('--executor <name>', 'where the work runs: in this process, or BullMQ workers on Redis').choices(['local', 'bullmq']),
    )
    .option('--redis <url>', 'Redis URL for --executor bullmq (default: REDIS_URL, else redis://127.0.0.1:6379)')
    .option('--workers <n>', 'worker processes to start on this machine for --executor bullmq (0: external workers only)', int('workers'))
    .option('--queue-prefix <prefix>', 'key prefix of the queues in Redis (default: personagen)')
    .option('--max-cost <usd>', 'stop starting model calls before the spend would pass this many US dollars (exit code 3)', usd('max-cost'))
    .option('--batch', "send requests through the providers' batch APIs, at their discount (answers can take hours)")
    .option('--json', 'print a JSON summary on stdout')
    .option('--no-progress', 'no progress bar')
    .action(async (o: Record<string, unknown>) => {
      const result = await generate({
        cwd: process.cwd(),
        configFile: o.config as string | undefined,
        overrides: generateOverrides(o),
        progress: o.progress !== false && !o.json,
      });
      for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
      print(
        Boolean(o.json),
        result,
        `wrote ${result.questions} questions for ${result.users} users to ${result.out} in ${result.seconds}s (${result.model_calls} model calls, ${result.cache_hits} cached)`,
      );
    });

  program
    .command('resume')
    .argument('<dir>', 'a dataset directory whose run did not finish')
    .description('Continue a run after a crash or a stop, with the config it was started with')
    .option('--concurrency <n>', 'work items in flight at once', int('concurrency'))
    .addOption(
      new Option('--executor <name>', 'where the work runs: in this process, or BullMQ workers on Redis').choices(['local', 'bullmq']),
    )
    .option('--redis <url>', 'Redis URL for --executor bullmq (default: REDIS_URL, else redis://127.0.0.1:6379)')
    .option('--workers <n>', 'worker processes to start on this machine for --executor bullmq (0: external workers only)', int('workers'))
    .option('--max-cost <usd>', 'a new cost cap in US dollars (a run stopped at its cap continues with a higher one)', usd('max-cost'))
    .option('--json', 'print a JSON summary on stdout')
    .option('--no-progress', 'no progress bar')
    .action(async (dir: string, o: Record<string, unknown>) => {
      const result = await resume({
        cwd: process.cwd(),
        dir,
        progress: o.progress !== false && !o.json,
        overrides: generateOverrides(o),
      });
      print(
        Boolean(o.json),
        result,
        `wrote ${result.questions} questions for ${result.users} users to ${result.out} in ${result.seconds}s (${result.model_calls} model calls, ${result.cache_hits} cached)`,
      );
    });

  program
    .command('validate')
    .argument('<dir>', 'a dataset directory')
    .description('Re-check a dataset: schemas, history files, evidence, token counts, options, checksums')
    .option('--json', 'print the report as JSON')
    .action(async (dir: string, o: Record<string, unknown>) => {
      const report = await validateDataset(dir, o200k);
      const text = report.ok
        ? `ok: ${report.questions} questions, ${report.histories} histories checked`
        : `${report.problems.length} problems:\n${report.problems
            .slice(0, 100)
            .map((p) => `  ${p}`)
            .join('\n')}${report.problems.length > 100 ? `\n  ... and ${report.problems.length - 100} more` : ''}`;
      print(Boolean(o.json), report, text);
      if (!report.ok) process.exitCode = 1;
    });

  registerScenariosCommand(program);
  registerAuditCommand(program);
  registerExportCommand(program);
  registerImportCommand(program);
  registerWorkerCommand(program);
  registerDashboardCommand(program);
  registerEstimateCommand(program);
  // commands: each feature registers its own (one import above, one call here)
  return program;
}

/** The one error boundary: error classes to messages and exit codes, never a stack trace for bad input. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      return 2; // commander already printed one line naming the flag
    }
    if (error instanceof InputError || (error instanceof PersonagenError && (error.code === 'bad_config' || error.code === 'bad_input'))) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    if (error instanceof BudgetExceededError) {
      process.stderr.write(`${error.message}\n`);
      return BUDGET_EXIT_CODE;
    }
    if (error instanceof LlmError) {
      process.stderr.write(
        `error: model call failed (${error.llmCode}${error.status ? `, HTTP ${error.status}` : ''}): ${error.message}\nFinished work is kept; rerun the same command or \`personagen resume DIR\` to continue.\n`,
      );
      return 1;
    }
    if (error instanceof PersonagenError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    return 70;
  }
}
