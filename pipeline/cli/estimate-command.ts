import { type Command, InvalidArgumentError } from 'commander';
import { DEFAULT_SAMPLE, estimate, formatEstimate } from '../cost/estimate.js';

const positiveInt = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`Expected \`${name}\` to be an integer >= 1, got ${value}`);
  return Number(value);
};

/** `personagen estimate`: what a run would cost, priced from an offline run in a scratch store. */
export function registerEstimateCommand(program: Command): void {
  program
    .command('estimate')
    .description('Estimate what a run costs: runs it offline in a scratch store and prices every call (no network)')
    .option('-c, --config <file>', 'config file (JSON or YAML) of the run to price')
    .option('-u, --users <n>', 'number of users (overrides the config)', positiveInt('users'))
    .option(
      '--models <list>',
      'models to price every stage with, comma-separated (default: the config\u2019s, or a few Claude and GPT models)',
    )
    .option(
      '--sample <n>',
      `users actually run offline when there are more; the rest is scaled (default ${DEFAULT_SAMPLE})`,
      positiveInt('sample'),
    )
    .option('--json', 'print the estimate as JSON')
    .action(async (o: { config?: string; users?: number; models?: string; sample?: number; json?: boolean }) => {
      const result = await estimate({
        cwd: process.cwd(),
        configFile: o.config,
        users: o.users,
        sample: o.sample,
        models: o.models
          ?.split(',')
          .map((m) => m.trim())
          .filter(Boolean),
      });
      process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatEstimate(result)}\n`);
    });
}
