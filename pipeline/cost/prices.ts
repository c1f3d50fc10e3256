import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type Config, ProviderName } from '../config/index.js';
import { PersonagenError } from '../core/errors.js';
import type { LlmUsage } from '../llm/types.js';

export const PRICES_FILE = join(dirname(fileURLToPath(import.meta.url)), 'prices.json');

const usdPerMillion = z.number().min(0);

/** One model's prices, USD per million tokens. */
export const ModelPrice = z.strictObject({
  provider: ProviderName,
  input: usdPerMillion,
  output: usdPerMillion,
  cache_write: usdPerMillion,
  cache_read: usdPerMillion,
  /** Share taken off every token type when the call goes through the provider's batch API. */
  batch_discount: z.number().min(0).max(1),
  /** Shortest prefix the provider caches; shorter prefixes are billed as plain input. */
  min_cache_tokens: z.number().int().min(0),
});
export type ModelPrice = z.infer<typeof ModelPrice>;

/** The bundled price table (pipeline/cost/prices.json): data, with the date it was read. */
export const PriceTable = z.strictObject({
  read_on: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD'),
  currency: z.literal('USD'),
  unit: z.literal('per million tokens'),
  sources: z.record(z.string(), z.string()),
  note: z.string(),
  models: z.record(z.string().min(1), ModelPrice),
});
export type PriceTable = z.infer<typeof PriceTable>;

export type BillingMode = 'standard' | 'batch';

let bundled: PriceTable | undefined;

/** The bundled table, read and checked once. */
export function bundledPrices(): PriceTable {
  if (!bundled) {
    const result = PriceTable.safeParse(JSON.parse(readFileSync(PRICES_FILE, 'utf8')));
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new PersonagenError('internal', `${PRICES_FILE}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
    }
    bundled = result.data;
  }
  return bundled;
}

/** Model names the providers report with a date or alias suffix, e.g. `claude-sonnet-4-5-20250929`, `gpt-4.1-mini-2025-04-14`. */
function baseName(model: string): string {
  return model.replace(/-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$/, '');
}

/**
 * Prices for a run: the bundled table with the config's `prices` block over it. Lookups accept
 * dated model names (`gpt-4.1-mini-2025-04-14` is priced as `gpt-4.1-mini`).
 */
export class Prices {
  readonly readOn: string;
  private readonly models: Map<string, ModelPrice>;

  constructor(table: PriceTable, overrides: NonNullable<Config['prices']> = {}) {
    this.readOn = table.read_on;
    this.models = new Map(Object.entries(table.models));
    for (const [model, over] of Object.entries(overrides)) {
      const base = this.models.get(model) ?? this.models.get(baseName(model));
      if (!base && (over.input === undefined || over.output === undefined)) {
        throw new PersonagenError(
          'bad_config',
          `\`prices.${model}\`: the bundled table has no price for this model, so both \`input\` and \`output\` are needed`,
        );
      }
      const input = over.input ?? base!.input;
      this.models.set(model, {
        // A model the table lacks is most often served by an OpenAI-compatible server.
        provider: over.provider ?? base?.provider ?? 'openai',
        input,
        output: over.output ?? base!.output,
        cache_write: over.cache_write ?? base?.cache_write ?? input,
        cache_read: over.cache_read ?? base?.cache_read ?? input,
        batch_discount: over.batch_discount ?? base?.batch_discount ?? 0,
        min_cache_tokens: over.min_cache_tokens ?? base?.min_cache_tokens ?? 1024,
      });
    }
  }

  /** The price of a model, or undefined when neither the table nor the config knows it. */
  find(model: string): ModelPrice | undefined {
    return this.models.get(model) ?? this.models.get(baseName(model));
  }

  /** The price of a model; throws a config error naming the `prices` block when it is unknown. */
  require(model: string): ModelPrice {
    const price = this.find(model);
    if (!price) {
      throw new PersonagenError(
        'bad_config',
        `no price for model \`${model}\`; add it to the config, e.g. prices: { "${model}": { input: 1.0, output: 4.0 } } (USD per million tokens)`,
      );
    }
    return price;
  }

  /** Every model the table knows, sorted. */
  names(): string[] {
    return [...this.models.keys()].sort();
  }
}

/** Prices for a config (bundled table + its `prices` block). */
export function pricesFor(config: Pick<Config, 'prices'>): Prices {
  return new Prices(bundledPrices(), config.prices ?? {});
}

/** USD of one call's (or many calls') usage at a model's prices. */
export function usdOf(usage: LlmUsage, price: ModelPrice, mode: BillingMode = 'standard'): number {
  const full =
    (usage.inputTokens * price.input +
      usage.outputTokens * price.output +
      usage.cacheWriteTokens * price.cache_write +
      usage.cacheReadTokens * price.cache_read) /
    1_000_000;
  return mode === 'batch' ? full * (1 - price.batch_discount) : full;
}

/** Rounds USD for reports: to a millionth of a dollar, so sums of rounded rows stay exact enough. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1_000_000) / 1_000_000;
}
