import type { Command } from 'commander';
import { importDataset } from '../export/index.js';

export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .argument('<path>', 'PersonaMem-v2 files: a directory in the published layout, a raw_data/ folder, or one raw persona file')
    .description('Read published PersonaMem-v2 files into a native dataset directory (for validate, audit and export)')
    .requiredOption('-o, --out <dir>', 'native dataset directory to write (replaced only if it holds a previous import)')
    .option('--json', 'print the result, with every problem, as JSON')
    .action(async (path: string, o: Record<string, unknown>) => {
      const result = await importDataset({ path, out: String(o.out) });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      const shown = result.problems.slice(0, 50);
      for (const p of shown) process.stderr.write(`warning: ${p.file}${p.where ? ` ${p.where}` : ''}: ${p.message}\n`);
      if (result.problems.length > shown.length) {
        process.stderr.write(
          `warning: ... and ${result.problems.length - shown.length} more (all listed in manifest.json under import.problems)\n`,
        );
      }
      for (const f of result.filled) process.stderr.write(`note: ${f}\n`);
      process.stdout.write(
        `imported ${result.questions} questions, ${result.users} users, ${result.sessions} sessions and ${result.histories} histories into ${result.out} (${result.problems.length} problems reported)\n`,
      );
    });
}
