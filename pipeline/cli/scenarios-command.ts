import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { CATALOG_FILE, normalizeTopic, shippedCatalog } from '../../scenarios/index.js';
import { addScenario, checkCatalogFile } from '../../scenarios/tools.js';
import { InputError, PersonagenError } from '../core/errors.js';
import { TASK_TYPES } from '../schemas/records.js';

const list = (v: string) =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `personagen scenarios list | validate | stats | add`. */
export function registerScenariosCommand(program: Command): void {
  const cmd = program.command('scenarios').description('List, check, measure and extend the scenario catalog');

  cmd
    .command('list')
    .description('List scenarios')
    .option('--topic <topic>', 'only this topic (any alias)')
    .option('--task-type <type>', `only scenarios suiting this task type (${TASK_TYPES.join(', ')})`)
    .option('--json', 'JSON output')
    .action((o: { topic?: string; taskType?: string; json?: boolean }) => {
      const catalog = shippedCatalog();
      let rows = catalog.scenarios;
      if (o.topic) {
        const topic = normalizeTopic(catalog, o.topic);
        if (!topic) throw new PersonagenError('bad_input', `unknown topic \`${o.topic}\``);
        rows = rows.filter((s) => s.topic === topic);
      }
      if (o.taskType) {
        if (!(TASK_TYPES as readonly string[]).includes(o.taskType))
          throw new InvalidArgumentError(`Expected --task-type to be one of ${TASK_TYPES.join(', ')}, got ${o.taskType}`);
        rows = rows.filter((s) => s.task_types.includes(o.taskType as (typeof TASK_TYPES)[number]));
      }
      if (o.json) return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      process.stdout.write(
        `${table([['id', 'topic', 'task types', 'title'], ...rows.map((s) => [s.id, s.topic, s.task_types.join(','), s.title])])}\n${rows.length} scenarios\n`,
      );
    });

  cmd
    .command('validate')
    .argument('[files...]', 'catalog JSONL files (default: the shipped catalog)')
    .description('Check catalog files: fields, topics, duplicates and near-duplicates, task-type coverage')
    .option('--json', 'JSON output')
    .action((files: string[], o: { json?: boolean }) => {
      const targets = files.length > 0 ? files : [CATALOG_FILE];
      const results = targets.map((f) => checkCatalogFile(f, undefined, { coverage: files.length === 0 }));
      if (o.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      else {
        for (const r of results) {
          for (const p of r.problems)
            process.stdout.write(`${p.file}${p.line ? `:${p.line}` : ''}${p.field ? ` field \`${p.field}\`` : ''}: ${p.message}\n`);
          const cover = Object.entries(r.perTaskType)
            .map(([t, n]) => `${t} ${n}`)
            .join(', ');
          process.stdout.write(`${r.file}: ${r.scenarios} scenarios, ${r.problems.length} problems (per task type: ${cover})\n`);
        }
      }
      if (results.some((r) => r.problems.length > 0)) process.exitCode = 1;
    });

  cmd
    .command('stats')
    .description('Coverage: scenarios per topic and per task type; with --dataset, how often each was used')
    .option('--dataset <dir>', 'a generated dataset directory')
    .option('--json', 'JSON output')
    .action(async (o: { dataset?: string; json?: boolean }) => {
      const check = checkCatalogFile(CATALOG_FILE);
      let uses: Record<string, number> | undefined;
      if (o.dataset) {
        const path = join(o.dataset, 'manifest.json');
        let manifest: { scenario_coverage?: { uses?: Record<string, number> } };
        try {
          manifest = JSON.parse(await readFile(path, 'utf8')) as typeof manifest;
        } catch (error) {
          throw new InputError({ file: path }, `cannot read the dataset manifest (${(error as Error).message})`);
        }
        uses = manifest.scenario_coverage?.uses ?? {};
      }
      const catalog = shippedCatalog();
      const useCounts = uses ? catalog.scenarios.map((s) => uses![s.id] ?? 0).sort((a, b) => a - b) : [];
      const spread = uses
        ? {
            used: useCounts.filter((n) => n > 0).length,
            unused: useCounts.filter((n) => n === 0).length,
            min: useCounts[0] ?? 0,
            median: useCounts[Math.floor(useCounts.length / 2)] ?? 0,
            max: useCounts[useCounts.length - 1] ?? 0,
          }
        : undefined;
      if (o.json)
        return void process.stdout.write(
          `${JSON.stringify({ scenarios: check.scenarios, per_task_type: check.perTaskType, per_topic: check.perTopic, ...(uses ? { uses, spread } : {}) }, null, 2)}\n`,
        );
      process.stdout.write(
        `${table([['task type', 'scenarios'], ...Object.entries(check.perTaskType).map(([k, v]) => [k, String(v)])])}\n\n`,
      );
      process.stdout.write(`${table([['topic', 'scenarios'], ...Object.entries(check.perTopic).map(([k, v]) => [k, String(v)])])}\n`);
      if (spread)
        process.stdout.write(
          `\nscenario use in ${o.dataset}: ${spread.used} used, ${spread.unused} unused; uses per scenario min ${spread.min}, median ${spread.median}, max ${spread.max}\n`,
        );
    });

  cmd
    .command('add')
    .description('Add a scenario (from flags or a JSON/YAML file), refusing duplicates and unknown topics')
    .option('--file <file>', 'a JSON or YAML file holding the scenario')
    .option('--id <id>', 'kebab-case id')
    .option('--title <title>', 'title, 3-12 words')
    .option('--topic <topic>', 'canonical topic id')
    .option('--task-types <list>', 'comma-separated task types', list)
    .option('--situation <text>', 'the situation, 10-80 words')
    .option('--user-goal <text>', 'what the user wants, 5-40 words')
    .option('--pref-kinds <list>', 'comma-separated preference kinds', list)
    .option('--catalog <file>', 'catalog file to extend (default: the shipped catalog)')
    .action(async (o: Record<string, unknown>) => {
      let candidate: unknown;
      let source = 'flags';
      if (o.file) {
        source = String(o.file);
        let text: string;
        try {
          text = await readFile(source, 'utf8');
        } catch (error) {
          throw new InputError({ file: source }, `cannot read (${(error as Error).message})`);
        }
        try {
          candidate = source.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
        } catch (error) {
          throw new InputError(
            { file: source },
            `not valid ${source.endsWith('.json') ? 'JSON' : 'YAML'} (${(error as Error).message.split('\n')[0]})`,
          );
        }
      } else {
        candidate = {
          id: o.id,
          title: o.title,
          topic: o.topic,
          task_types: o.taskTypes,
          situation: o.situation,
          user_goal: o.userGoal,
          pref_kinds: o.prefKinds,
        };
      }
      const added = await addScenario(candidate, { source, ...(o.catalog ? { file: String(o.catalog) } : {}) });
      process.stdout.write(`added ${added.id} to ${o.catalog ? String(o.catalog) : CATALOG_FILE}\n`);
    });
}
