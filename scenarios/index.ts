export {
  CATALOG_FILE,
  ScenarioSchema,
  TAXONOMY_FILE,
  TaxonomySchema,
  buildCatalog,
  closestTopics,
  normalizeLabel,
  normalizeTopic,
  readCatalog,
  shippedCatalog,
} from './catalog.js';
export type { Catalog, CatalogProblem, Scenario, Taxonomy, TopicInfo } from './catalog.js';
