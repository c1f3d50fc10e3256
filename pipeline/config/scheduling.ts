/**
 * Config fields that decide how a run is scheduled, not what it generates. They stay out of the
 * manifest and out of the run store's config check, so a dataset's bytes do not depend on them.
 */
export const SCHEDULING_FIELDS = ['out', 'concurrency', 'executor', 'bullmq', 'rate_limits', 'budget', 'batch', 'prices'] as const;

export function datasetConfig<T extends object>(config: T): Partial<T> {
  const out = { ...config } as Record<string, unknown>;
  for (const key of SCHEDULING_FIELDS) delete out[key];
  return out as Partial<T>;
}
