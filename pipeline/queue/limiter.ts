import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import pLimit from 'p-limit';
import type { Tokenizer } from '../core/tokenizer.js';
import { LlmError, type CallOptions, type LlmRequest, type LlmResponse, type Provider } from '../llm/types.js';
import type { RateLimits } from './settings.js';

/**
 * Share of each configured limit the limiter paces at. Calls are spaced evenly, and a provider
 * counting in a sliding minute would refuse one call in two at exactly 100% (timer jitter puts a
 * call a few ms early), so it aims a little under.
 */
export const PACE = 0.98;

// GCRA with no burst, one "theoretical arrival time" (TAT, ms) per dimension: a call may start at
// the latest TAT of its dimensions (or when a 429 said), and moves each TAT on by its cost. Times
// come from Redis, so every worker on every machine shares one clock.
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local start = math.max(now, tonumber(redis.call('GET', KEYS[4]) or '0'))
local tat = {}
for i = 1, 3 do
  if tonumber(ARGV[i]) > 0 then
    tat[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
    if tat[i] > start then start = tat[i] end
  end
end
for i = 1, 3 do
  local per = tonumber(ARGV[i])
  if per > 0 then
    local cost = tonumber(ARGV[i + 3])
    local nt = start + cost * per
    redis.call('SET', KEYS[i], string.format('%.3f', nt), 'PX', math.max(1, math.ceil(nt - now) + 60000))
  end
end
return math.ceil(start - now)
`;

// Corrects the token dimensions once a call has returned: the input estimate by the real count,
// and the output tokens, known only now.
const SETTLE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, 2 do
  local per = tonumber(ARGV[i])
  local delta = tonumber(ARGV[i + 2])
  if per > 0 and delta ~= 0 then
    local tat = math.max(now, tonumber(redis.call('GET', KEYS[i]) or '0'))
    local nt = math.max(now, tat + delta * per)
    redis.call('SET', KEYS[i], string.format('%.3f', nt), 'PX', math.max(1, math.ceil(nt - now) + 60000))
  end
end
return 1
`;

// After a 429: nobody calls this model before the provider said to (keeps the later of two).
const BLOCK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[1])
if untilMs > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], tostring(untilMs), 'PX', tonumber(ARGV[1]) + 1000)
end
return 1
`;

type LimiterRedis = Redis & {
  personagenReserve(...args: Array<string | number>): Promise<number>;
  personagenSettle(...args: Array<string | number>): Promise<number>;
  personagenBlock(...args: Array<string | number>): Promise<number>;
};

/**
 * Rate limits per (provider, model), shared by every worker through Redis: requests, input tokens
 * and output tokens per minute, and the pause a 429 asks for.
 */
export class RateLimiter {
  private readonly redis: LimiterRedis;

  /**
   * @param redis a connection of its own (the limiter's calls must not queue behind blocking ones)
   * @param prefix key prefix: runs under one prefix share limits, as they share the provider account
   */
  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly config: RateLimits,
  ) {
    redis.defineCommand('personagenReserve', { numberOfKeys: 4, lua: RESERVE });
    redis.defineCommand('personagenSettle', { numberOfKeys: 2, lua: SETTLE });
    redis.defineCommand('personagenBlock', { numberOfKeys: 1, lua: BLOCK });
    this.redis = redis as LimiterRedis;
  }

  private keys(provider: string, model: string) {
    const base = `${this.prefix}:limits:${provider}:${model}`;
    return { req: `${base}:req`, input: `${base}:in`, output: `${base}:out`, block: `${base}:block` };
  }

  /** Milliseconds per unit of each dimension (0 = not limited). */
  private pacing(provider: string, model: string): [number, number, number] | undefined {
    const limit = this.config[`${provider}:${model}`];
    if (!limit) return undefined;
    const per = (perMinute: number | undefined) => (perMinute ? 60_000 / (perMinute * PACE) : 0);
    return [per(limit.rpm), per(limit.input_tpm), per(limit.output_tpm)];
  }

  /** Whether any limit is set for this model. */
  limits(provider: string, model: string): boolean {
    return this.pacing(provider, model) !== undefined;
  }

  /** Whether calls to this model count input tokens (worth estimating them before the call). */
  countsInput(provider: string, model: string): boolean {
    return (this.pacing(provider, model)?.[1] ?? 0) > 0;
  }

  /** Reserves the next slot for one call and waits for it; resolves when the call may start. */
  async acquire(provider: string, model: string, inputTokens: number, signal?: AbortSignal): Promise<number> {
    const pace = this.pacing(provider, model) ?? [0, 0, 0];
    const k = this.keys(provider, model);
    const wait = await this.redis.personagenReserve(k.req, k.input, k.output, k.block, ...pace, 1, inputTokens, 0);
    if (wait > 0) {
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        throw new LlmError('aborted', 'the call was aborted while waiting for its rate limit');
      }
    }
    return wait;
  }

  /** Charges what a call really used: the difference to its input estimate, and its output. */
  async settle(provider: string, model: string, estimatedInput: number, input: number, output: number): Promise<void> {
    const pace = this.pacing(provider, model);
    if (!pace || (pace[1] === 0 && pace[2] === 0)) return;
    const k = this.keys(provider, model);
    await this.redis.personagenSettle(k.input, k.output, pace[1], pace[2], input - estimatedInput, output);
  }

  /** Holds every call to this model for `ms` (a 429 with retry-after). */
  async block(provider: string, model: string, ms: number): Promise<void> {
    await this.redis.personagenBlock(this.keys(provider, model).block, Math.max(1, Math.round(ms)));
  }
}

/** Rough token count of a request as sent: instructions, messages and the output schema. */
export function estimateInputTokens(request: LlmRequest, tokenizer: Tokenizer): number {
  let n = tokenizer.count(request.system) + tokenizer.count(JSON.stringify(request.output.jsonSchema));
  for (const m of request.messages) n += tokenizer.count(m.content) + 4;
  return n;
}

/** Delay a 429 asked for, or `fallbackMs` when it did not say. */
export function retryAfterMs(error: LlmError, fallbackMs: number): number {
  return error.retryAfterSeconds !== undefined ? Math.ceil(error.retryAfterSeconds * 1000) : fallbackMs;
}

export interface LimitedProviderOptions {
  limiter: RateLimiter;
  tokenizer: Tokenizer;
  /** Calls in flight through this provider in this process. */
  concurrency: number;
  /** Pause after a 429 that names no delay. */
  fallbackBlockMs: number;
}

/**
 * A provider that waits for its turn under the shared limits before each call, settles the tokens
 * after, and blocks the model for everyone when the provider answers 429. Cached answers never get
 * here (the response cache sits in front of the provider), so they cost no quota.
 */
export function limitProvider(inner: Provider, options: LimitedProviderOptions): Provider {
  const { limiter, tokenizer } = options;
  const gate = pLimit(options.concurrency);
  return {
    name: inner.name,
    complete: (request: LlmRequest, call: CallOptions = {}): Promise<LlmResponse> =>
      gate(async () => {
        if (call.signal?.aborted) throw new LlmError('aborted', 'the call was aborted before it started');
        // The offline provider never refuses: no round trip to Redis unless a limit is set for it.
        if (inner.name === 'offline' && !limiter.limits(inner.name, request.model)) return inner.complete(request, call);
        const estimate = limiter.countsInput(inner.name, request.model) ? estimateInputTokens(request, tokenizer) : 0;
        await limiter.acquire(inner.name, request.model, estimate, call.signal);
        let response: LlmResponse;
        try {
          response = await inner.complete(request, call);
        } catch (error) {
          if (error instanceof LlmError && error.llmCode === 'rate_limited') {
            await limiter.block(inner.name, request.model, retryAfterMs(error, options.fallbackBlockMs));
          }
          throw error;
        }
        const u = response.usage;
        await limiter.settle(inner.name, request.model, estimate, u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens, u.outputTokens);
        return response;
      }),
  };
}
