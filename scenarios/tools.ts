import { readFileSync } from 'node:fs';
import { InputError } from '../pipeline/core/errors.js';
import { writeFileAtomic } from '../pipeline/core/files.js';
import { parseJsonl } from '../pipeline/core/jsonl.js';
import { TASK_TYPES } from '../pipeline/schemas/records.js';
import { CATALOG_FILE, type Catalog, type CatalogProblem, type Scenario, ScenarioSchema, closestTopics, readCatalog } from './catalog.js';
import { titleClash } from './similarity.js';

/** Task types every shipped catalog must cover, and how often. */
export const MIN_PER_TASK_TYPE = 30;

export interface CatalogCheck {
  file: string;
  scenarios: number;
  perTaskType: Record<string, number>;
  perTopic: Record<string, number>;
  problems: CatalogProblem[];
}

/** Checks one catalog file: schema per line, known topics, unique ids, no near-duplicate titles. */
export function checkCatalogFile(file: string, taxonomyFile?: string, options: { coverage?: boolean } = {}): CatalogCheck {
  const { catalog, problems } = readCatalog({ catalog: file, ...(taxonomyFile ? { taxonomy: taxonomyFile } : {}) });
  const { records } = parseJsonl(readFileSync(file, 'utf8'), ScenarioSchema);
  const lineOf = new Map(records.map((r) => [r.value.id, r.line]));
  const seen: Array<{ title: string; id: string; line: number }> = [];
  for (const s of catalog.scenarios) {
    const line = lineOf.get(s.id) ?? 0;
    for (const prev of seen) {
      const why = titleClash(prev.title, s.title);
      if (why) {
        problems.push({
          file,
          line,
          field: 'title',
          message: `"${s.title}" duplicates "${prev.title}" (${prev.id}, line ${prev.line}): ${why}`,
        });
        break;
      }
    }
    seen.push({ title: s.title, id: s.id, line });
  }
  const perTaskType: Record<string, number> = Object.fromEntries(TASK_TYPES.map((t) => [t, 0]));
  const perTopic: Record<string, number> = Object.fromEntries([...catalog.topics.keys()].map((t) => [t, 0]));
  for (const s of catalog.scenarios) {
    for (const t of s.task_types) perTaskType[t] = (perTaskType[t] ?? 0) + 1;
    perTopic[s.topic] = (perTopic[s.topic] ?? 0) + 1;
  }
  if (options.coverage) {
    for (const t of TASK_TYPES) {
      if ((perTaskType[t] ?? 0) < MIN_PER_TASK_TYPE) {
        problems.push({
          file,
          line: undefined,
          field: 'task_types',
          message: `only ${perTaskType[t] ?? 0} scenarios suit ${t}; at least ${MIN_PER_TASK_TYPE} are needed`,
        });
      }
    }
  }
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return { file, scenarios: catalog.scenarios.length, perTaskType, perTopic, problems };
}

/**
 * Adds a scenario to a catalog file after checking it against the schema, the taxonomy and every
 * existing scenario. Refuses (InputError, file untouched) a duplicate or near-duplicate, naming it,
 * and an unknown topic, suggesting the closest.
 */
export async function addScenario(
  candidate: unknown,
  options: { file?: string; source?: string; taxonomyFile?: string } = {},
): Promise<Scenario> {
  const file = options.file ?? CATALOG_FILE;
  const source = options.source ?? 'the new scenario';
  const parsed = ScenarioSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const missing = issue?.code === 'invalid_type' && (issue.input === undefined || /received undefined/.test(issue.message));
    throw new InputError(
      { file: source, field: issue?.path.join('.') || undefined },
      missing ? 'is missing' : (issue?.message ?? 'invalid scenario'),
    );
  }
  const s = parsed.data;
  const { catalog } = readCatalog({ catalog: file, ...(options.taxonomyFile ? { taxonomy: options.taxonomyFile } : {}) });
  assertAddable(catalog, s, source);
  const text = readFileSync(file, 'utf8');
  await writeFileAtomic(file, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${JSON.stringify(s)}\n`);
  return s;
}

function assertAddable(catalog: Catalog, s: Scenario, source: string): void {
  if (!catalog.topics.has(s.topic)) {
    throw new InputError(
      { file: source, field: 'topic' },
      `unknown topic \`${s.topic}\`; did you mean ${closestTopics(catalog, s.topic)
        .map((t) => `\`${t}\``)
        .join(', ')}?`,
    );
  }
  const sameId = catalog.scenarios.find((x) => x.id === s.id);
  if (sameId) throw new InputError({ file: source, field: 'id' }, `a scenario with id \`${s.id}\` exists ("${sameId.title}")`);
  for (const x of catalog.scenarios) {
    const why = titleClash(x.title, s.title);
    if (why) throw new InputError({ file: source, field: 'title' }, `"${s.title}" duplicates scenario \`${x.id}\` ("${x.title}"): ${why}`);
  }
}
