export { DEAD_LETTER_FILE, type DeadLetter, appendDeadLetter, deadLetterPath } from './dead-letter.js';
export { CHILD_OPTIONS, JobData, type JobDataOf, jobId, jobOptions, userFlow } from './jobs.js';
export { PACE, RateLimiter, estimateInputTokens, limitProvider, retryAfterMs, type LimitedProviderOptions } from './limiter.js';
export { type ProcessorContext, type UnitProcessor, classify, processorFor } from './processors.js';
export {
  BullmqSettings,
  DEFAULT_REDIS_URL,
  JOB_KINDS,
  type JobKind,
  QueueRun,
  RUN_FILE,
  bullmqSettings,
  lockMs,
  openQueueRun,
  queueName,
  readQueueRun,
  redisOptions,
  redisUrlFor,
  runKey,
  shownRedisUrl,
} from './settings.js';
export { type StartWorkerOptions, type WorkerHandle, loadRunConfig, startWorker } from './worker.js';
