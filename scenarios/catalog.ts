import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InputError } from '../pipeline/core/errors.js';
import { parseJsonl } from '../pipeline/core/jsonl.js';
import { PrefKind, TaskType } from '../pipeline/schemas/records.js';

const here = dirname(fileURLToPath(import.meta.url));
export const TAXONOMY_FILE = join(here, 'taxonomy.json');
export const CATALOG_FILE = join(here, 'catalog.jsonl');

export const TopicSchema = z.object({
  id: z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected a snake_case id'),
  label: z.string().min(2),
  description: z.string().min(5),
  aliases: z.array(z.string().min(1)),
});
export const TaxonomySchema = z.object({
  version: z.number().int().min(1),
  domains: z
    .array(z.object({ id: z.string().regex(/^[a-z][a-z0-9_]*$/), label: z.string().min(2), topics: z.array(TopicSchema).min(1) }))
    .min(1),
});
export type Taxonomy = z.infer<typeof TaxonomySchema>;

const wordsBetween = (min: number, max: number) =>
  z.string().refine((s) => {
    const n = s.trim().split(/\s+/).length;
    return n >= min && n <= max;
  }, `expected ${min}-${max} words`);

/** A concrete situation in which a user talks to a chatbot. */
export const ScenarioSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9]+(?:[-_][a-z0-9]+)*$/, 'expected a kebab-case id'),
  title: wordsBetween(3, 12),
  topic: z.string().min(1),
  task_types: z.array(TaskType).min(1),
  situation: wordsBetween(10, 80),
  user_goal: wordsBetween(5, 40),
  pref_kinds: z.array(PrefKind).min(1),
});
export type Scenario = z.infer<typeof ScenarioSchema>;

/** Lower case, letters and digits only: "Mental_health", "Mental Health" and "mentalhealth" meet here. */
export function normalizeLabel(label: string): string {
  return label
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
}

export interface TopicInfo {
  id: string;
  label: string;
  domain: string;
}

export interface Catalog {
  taxonomy: Taxonomy;
  topics: Map<string, TopicInfo>;
  scenarios: Scenario[];
  /** Maps a normalised label to a topic id. */
  aliases: Map<string, string>;
}

/** Levenshtein distance: the fewest single-character insertions, deletions and substitutions from `a` to `b`. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

export function buildCatalog(taxonomy: Taxonomy, scenarios: Scenario[]): Catalog {
  const topics = new Map<string, TopicInfo>();
  const aliases = new Map<string, string>();
  for (const domain of taxonomy.domains) {
    for (const topic of domain.topics) {
      topics.set(topic.id, { id: topic.id, label: topic.label, domain: domain.id });
      for (const alias of [topic.id, topic.label, ...topic.aliases]) {
        const key = normalizeLabel(alias);
        if (key && !aliases.has(key)) aliases.set(key, topic.id);
      }
    }
  }
  return { taxonomy, topics, scenarios, aliases };
}

/**
 * Maps any topic label (ours, the published data's, a model's) to a canonical topic id: exact alias
 * first, then the closest alias within a small edit distance, then an alias contained in the label.
 * Returns undefined when nothing is close: such a label is rejected, never stored raw.
 */
export function normalizeTopic(catalog: Catalog, label: string): string | undefined {
  const key = normalizeLabel(label);
  if (!key) return undefined;
  const exact = catalog.aliases.get(key);
  if (exact) return exact;
  let best: { id: string; d: number } | undefined;
  for (const [alias, id] of catalog.aliases) {
    const d = editDistance(key, alias);
    if (d <= Math.max(1, Math.floor(alias.length / 5)) && (!best || d < best.d)) best = { id, d };
  }
  if (best) return best.id;
  let contained: { id: string; len: number } | undefined;
  for (const [alias, id] of catalog.aliases) {
    if (alias.length >= 4 && key.includes(alias) && (!contained || alias.length > contained.len)) contained = { id, len: alias.length };
  }
  return contained?.id;
}

/** The closest topic ids to an unknown label, for "did you mean" messages. */
export function closestTopics(catalog: Catalog, label: string, n = 3): string[] {
  const key = normalizeLabel(label);
  const scored = [...catalog.aliases].map(([alias, id]) => ({ id, d: editDistance(key, alias) }));
  scored.sort((a, b) => a.d - b.d || a.id.localeCompare(b.id));
  const best = scored[0]?.d ?? 0;
  // Only suggestions about as close as the best one: a list of far-off topics helps nobody.
  return [...new Set(scored.filter((s) => s.d <= best + 2).map((s) => s.id))].slice(0, n);
}

export interface CatalogProblem {
  file: string;
  line: number | undefined;
  field: string | undefined;
  message: string;
}

/** Reads and checks a taxonomy and catalog; every problem names file, line and field. */
export function readCatalog(files: { taxonomy?: string; catalog?: string } = {}): { catalog: Catalog; problems: CatalogProblem[] } {
  const taxonomyFile = files.taxonomy ?? TAXONOMY_FILE;
  const catalogFile = files.catalog ?? CATALOG_FILE;
  const problems: CatalogProblem[] = [];
  let taxonomyJson: unknown;
  try {
    taxonomyJson = JSON.parse(readFileSync(taxonomyFile, 'utf8'));
  } catch (error) {
    throw new InputError({ file: taxonomyFile }, `cannot read the taxonomy (${(error as Error).message})`);
  }
  const tax = TaxonomySchema.safeParse(taxonomyJson);
  if (!tax.success) {
    const issue = tax.error.issues[0];
    throw new InputError({ file: taxonomyFile, field: issue?.path.join('.') }, issue?.message ?? 'invalid taxonomy');
  }
  const { records, problems: lineProblems } = parseJsonl(readFileSync(catalogFile, 'utf8'), ScenarioSchema);
  for (const p of lineProblems) problems.push({ file: catalogFile, ...p });
  const catalog = buildCatalog(tax.data, []);
  const seen = new Map<string, number>();
  for (const { line, value } of records) {
    if (!catalog.topics.has(value.topic)) {
      problems.push({
        file: catalogFile,
        line,
        field: 'topic',
        message: `unknown topic \`${value.topic}\`; closest: ${closestTopics(catalog, value.topic).join(', ')}`,
      });
      continue;
    }
    const prev = seen.get(value.id);
    if (prev !== undefined) {
      problems.push({ file: catalogFile, line, field: 'id', message: `duplicate id \`${value.id}\` (first on line ${prev})` });
      continue;
    }
    seen.set(value.id, line);
    catalog.scenarios.push(value);
  }
  return { catalog, problems };
}

let cached: Catalog | undefined;

/** The shipped catalog, loaded once; throws on the first problem. */
export function shippedCatalog(): Catalog {
  if (cached) return cached;
  const { catalog, problems } = readCatalog();
  const first = problems[0];
  if (first) throw new InputError({ file: first.file, line: first.line, field: first.field }, first.message);
  cached = catalog;
  return catalog;
}
