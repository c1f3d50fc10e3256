export { ConfigSchema, DEFAULT_MODELS, LLM_STAGES, ProviderName } from './schema.js';
export type { Config, ConfigInput, LlmStage } from './schema.js';
export { loadConfig, stageModel, stageProvider } from './load.js';
export type { ConfigResult, LoadConfigOptions } from './load.js';
export { readEnv } from './env.js';
export type { Env } from './env.js';
export { sizeTokens, sortSizes } from './sizes.js';
export { SCHEDULING_FIELDS, datasetConfig } from './scheduling.js';
