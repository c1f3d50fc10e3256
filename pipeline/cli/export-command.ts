import { type Command, InvalidArgumentError, Option } from 'commander';
import { EXPORT_FORMATS, exportDataset } from '../export/index.js';
import { parseRatios } from '../export/split.js';

const positiveInt = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`Expected \`${name}\` to be an integer >= 1, got ${value}`);
  return Number(value);
};

const ratios = (value: string) => {
  try {
    return parseRatios(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .argument('<dir>', 'a dataset directory (written by generate or import)')
    .description('Write a dataset in a published layout (PersonaMem-v2: question CSVs, chat histories, raw persona files, dataset card)')
    .addOption(new Option('--format <name>', 'output layout').choices([...EXPORT_FORMATS]).default('personamem-v2'))
    .requiredOption('-o, --out <dir>', 'output directory (replaced only if it holds a previous export)')
    .option('--benchmark-size <n>', 'questions in the benchmark split (all when fewer)', positiveInt('benchmark-size'), 5000)
    .option('--split <train,val>', 'shares of the other questions for train and val', ratios, [0.9, 0.1] as [number, number])
    .option('--seed <seed>', 'split seed (default: the dataset seed)')
    .option('--parquet', 'also write benchmark/parquet/<split>.parquet')
    .option('--size-32k <size>', 'native history size for the 32k columns (default: 32k, else the closest size)')
    .option('--size-128k <size>', 'native history size for the 128k columns, or "none" (default: 128k, else the closest size)')
    .option('--license <id>', 'license field of the dataset card (default: the dataset’s, else cc-by-4.0)')
    .option('--json', 'print a JSON summary on stdout')
    .action(async (dir: string, o: Record<string, unknown>) => {
      const size128 = o.size128k === undefined ? undefined : o.size128k === 'none' ? null : String(o.size128k);
      const result = await exportDataset({
        dir,
        out: String(o.out),
        format: o.format as (typeof EXPORT_FORMATS)[number],
        benchmarkSize: o.benchmarkSize as number,
        ratios: o.split as [number, number],
        seed: o.seed === undefined ? undefined : String(o.seed),
        parquet: Boolean(o.parquet),
        slots: { '32k': o.size32k === undefined ? undefined : String(o.size32k), '128k': size128 },
        license: o.license === undefined ? undefined : String(o.license),
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
      process.stdout.write(
        `wrote ${result.rows.benchmark} benchmark, ${result.rows.train} train and ${result.rows.val} val questions for ${result.personas} users to ${result.out} (32k ← ${result.slots['32k']}, 128k ← ${result.slots['128k'] ?? 'empty'})\n`,
      );
    });
}
