import type { LlmUsage } from './types.js';

export interface UsageRow extends LlmUsage {
  stage: string;
  provider: string;
  model: string;
  /** Calls that reached a provider. */
  calls: number;
  /** Calls answered from the response cache. */
  cacheHits: number;
}

/** The key usage rolls up under: one row per stage, provider and model. */
export function usageRowId(r: { stage: string; provider: string; model: string }): string {
  return `${r.stage}\u0000${r.provider}\u0000${r.model}`;
}

/** Usage accounting, rolled up by stage, provider and model. */
export class UsageLedger {
  private readonly rows = new Map<string, UsageRow>();

  record(key: { stage: string; provider: string; model: string }, usage: LlmUsage | undefined, cached: boolean): void {
    const id = usageRowId(key);
    let row = this.rows.get(id);
    if (!row) {
      row = { ...key, calls: 0, cacheHits: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
      this.rows.set(id, row);
    }
    if (cached) row.cacheHits++;
    else row.calls++;
    if (usage) {
      row.inputTokens += usage.inputTokens;
      row.outputTokens += usage.outputTokens;
      row.cacheReadTokens += usage.cacheReadTokens;
      row.cacheWriteTokens += usage.cacheWriteTokens;
    }
  }

  /** Adds rows recorded elsewhere (e.g. in another process). */
  merge(rows: readonly UsageRow[]): void {
    for (const r of rows) {
      const id = usageRowId(r);
      const row = this.rows.get(id);
      if (!row) {
        this.rows.set(id, { ...r });
        continue;
      }
      row.calls += r.calls;
      row.cacheHits += r.cacheHits;
      row.inputTokens += r.inputTokens;
      row.outputTokens += r.outputTokens;
      row.cacheReadTokens += r.cacheReadTokens;
      row.cacheWriteTokens += r.cacheWriteTokens;
    }
  }

  snapshot(): UsageRow[] {
    return [...this.rows.values()]
      .map((r) => ({ ...r }))
      .sort((a, b) => (a.stage + a.provider + a.model).localeCompare(b.stage + b.provider + b.model));
  }

  get modelCalls(): number {
    let n = 0;
    for (const r of this.rows.values()) n += r.calls;
    return n;
  }
}
