import { z } from 'zod';
import type { PromptModule } from '../../prompts/contract.js';
import { hashOf } from '../core/hash.js';
import type { ResponseCache } from './cache.js';
import { parseJsonOutput } from './parse.js';
import { LlmError, type LlmRequest, type LlmResponse, type LlmUsage, type Provider, type ProviderName } from './types.js';
import type { UsageLedger } from './usage.js';

export interface ModelChoice {
  provider: ProviderName;
  model: string;
}

export interface LlmClientOptions {
  providers: Partial<Record<ProviderName, Provider>>;
  cache: ResponseCache;
  /** Which provider and model each stage uses. */
  modelFor: (stage: string) => ModelChoice;
  temperature: number;
  maxTokens: number;
  /** Extra attempts after an answer that is not valid JSON of the right shape. */
  contentRetries: number;
}

export interface RunOptions {
  stage: string;
  /** Sample index (draft number): part of the cache key. */
  sample?: number | undefined;
  signal?: AbortSignal | undefined;
  ledger: UsageLedger;
}

/** Which stage, provider and model a call is for. */
export interface CallMeta {
  stage: string;
  provider: ProviderName;
  model: string;
}

/** What a guard hands back for an admitted call: settled with the usage it billed, or cancelled when it failed. */
export interface CallTicket {
  settle(usage: LlmUsage): void;
  cancel(): void;
}

/**
 * Consulted before every call that reaches a provider (answers from the response cache are free and
 * skip it): the budget guard (pipeline/cost/budget.ts) admits the call or throws to stop new work.
 */
export interface CallGuard {
  admit(call: CallMeta, request: LlmRequest): Promise<CallTicket>;
}

/**
 * Response-cache key of a request: the fully rendered request. The offline provider's answer depends
 * on the structured input; a network provider's on the text only.
 */
export function cacheKeyOf(provider: ProviderName, request: LlmRequest): string {
  const { task, ...wire } = request;
  return hashOf({
    provider,
    ...wire,
    task: provider === 'offline' ? task : { promptId: task.promptId, promptVersion: task.promptVersion },
  });
}

const jsonSchemaCache = new WeakMap<object, Record<string, unknown>>();

/** JSON schema of a prompt's output, derived from its zod schema (never written twice). */
export function outputJsonSchema(prompt: PromptModule<unknown, unknown>): Record<string, unknown> {
  let schema = jsonSchemaCache.get(prompt);
  if (!schema) {
    schema = z.toJSONSchema(prompt.output, { target: 'draft-7', io: 'output' }) as Record<string, unknown>;
    delete schema.$schema;
    jsonSchemaCache.set(prompt, schema);
  }
  return schema;
}

/**
 * Runs a prompt: render → cache → provider → parse → validate. A content failure (invalid JSON,
 * schema mismatch) is asked again with the validator's message; transient transport errors are the
 * SDKs' to retry; everything else throws an LlmError.
 */
export class LlmClient {
  private guard: CallGuard | undefined;

  constructor(private readonly options: LlmClientOptions) {}

  /** Installs (or, with undefined, removes) the guard consulted before each call that reaches a provider. */
  setCallGuard(guard: CallGuard | undefined): void {
    this.guard = guard;
  }

  /** The provider and model a stage uses (named on every filter outcome and in the manifest). */
  modelFor(stage: string): ModelChoice {
    return this.options.modelFor(stage);
  }

  async run<I, O>(prompt: PromptModule<I, O>, input: I, run: RunOptions): Promise<O> {
    const checkedInput = prompt.input.parse(input);
    const choice = this.options.modelFor(run.stage);
    const provider = this.options.providers[choice.provider];
    if (!provider) throw new LlmError('bad_request', `No provider \`${choice.provider}\` is configured`);
    const { messages } = prompt.render(checkedInput);
    const base: LlmRequest = {
      model: choice.model,
      system: prompt.instructions,
      messages,
      output: { name: prompt.id.replace(/[^a-zA-Z0-9_-]/g, '_'), jsonSchema: outputJsonSchema(prompt as PromptModule<unknown, unknown>) },
      temperature: this.options.temperature,
      maxTokens: Math.min(this.options.maxTokens, prompt.maxTokens),
      sample: run.sample ?? 0,
      task: { promptId: prompt.id, promptVersion: prompt.version, input: checkedInput },
    };
    let request = base;
    let lastError: LlmError | undefined;
    for (let attempt = 0; attempt <= this.options.contentRetries; attempt++) {
      const response = await this.complete(provider, request, run);
      try {
        const value = parseJsonOutput(response);
        const result = prompt.output.safeParse(value);
        if (result.success) return result.data;
        const issue = result.error.issues[0];
        throw new LlmError(
          'invalid_output',
          `output does not match the schema of ${prompt.id}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
          { raw: response.text },
        );
      } catch (error) {
        if (!(error instanceof LlmError) || !['invalid_output', 'truncated', 'refused'].includes(error.llmCode)) throw error;
        lastError = error;
        // Ask again with the validator's message, as a new conversation turn (a new cache key).
        request = {
          ...base,
          messages: [
            ...base.messages,
            { role: 'assistant', content: response.text.slice(0, 4000) },
            {
              role: 'user',
              content: `That answer was rejected: ${error.message}. Reply again with one JSON object that matches the schema, and nothing else.`,
            },
          ],
        };
      }
    }
    throw lastError ?? new LlmError('invalid_output', `no valid answer for ${prompt.id}`);
  }

  private async complete(provider: Provider, request: LlmRequest, run: RunOptions): Promise<LlmResponse> {
    const key = cacheKeyOf(provider.name, request);
    const meta: CallMeta = { stage: run.stage, provider: provider.name, model: request.model };
    // Offline answers cost nothing to recompute: caching them would only add file writes.
    const cacheable = provider.name !== 'offline';
    const cached = cacheable ? await this.options.cache.get(key) : undefined;
    if (cached) {
      run.ledger.record(meta, cached.usage, true);
      return cached;
    }
    if (run.signal?.aborted) throw new LlmError('aborted', 'the call was aborted before it started');
    const ticket = await this.guard?.admit(meta, request);
    let response: LlmResponse;
    try {
      response = await provider.complete(request, { signal: run.signal });
    } catch (error) {
      ticket?.cancel();
      throw error;
    }
    try {
      if (cacheable) await this.options.cache.set(key, response);
    } finally {
      // Settled once the answer is kept, so a guard that waits for calls in flight waits for this too.
      ticket?.settle(response.usage);
    }
    run.ledger.record(meta, response.usage, false);
    return response;
  }
}
