import Anthropic from '@anthropic-ai/sdk';
import { PersonagenError } from '../core/errors.js';
import { type AnthropicProviderOptions, buildParams, readMessage, toLlmError } from './anthropic.js';
import type { BatchBackend, BatchOutcome } from './batch.js';

/** Error types of a batch request that another submission may get past. */
const TRANSIENT = new Set(['api_error', 'overloaded_error', 'rate_limit_error', 'timeout_error']);

/**
 * The Anthropic Message Batches API: one `POST /v1/messages/batches` with every request's params
 * (the same params a single call sends, prompt caching included), status checks, and the JSONL
 * results. The SDK retries transient HTTP failures of each of these calls.
 */
export function createAnthropicBatchBackend(options: AnthropicProviderOptions): BatchBackend {
  const { apiKey, maxRetries = 4, timeoutMs = 120_000 } = options;
  if (typeof apiKey !== 'string' || apiKey.trim() === '') {
    throw new PersonagenError('bad_config', 'Expected `apiKey` to be a non-empty string for the anthropic batch API.');
  }
  // null rather than undefined: the environment is read in one place (config/env.ts), not by the SDK.
  const client = new Anthropic({ apiKey, baseURL: options.baseURL ?? null, maxRetries, timeout: timeoutMs });
  const fail = (signal: AbortSignal) => (error: unknown) => {
    throw toLlmError(error, apiKey, signal);
  };

  return {
    provider: 'anthropic',
    async submit(items, _localId, signal) {
      const batch = await client.messages.batches
        .create({ requests: items.map(({ customId, request }) => ({ custom_id: customId, params: buildParams(request) })) }, { signal })
        .catch(fail(signal));
      return { batchId: batch.id };
    },
    // The Message Batches API keeps no label of ours to look a batch up by.
    find: () => Promise.resolve(undefined),
    async status(batchId, signal) {
      const batch = await client.messages.batches.retrieve(batchId, {}, { signal }).catch(fail(signal));
      return batch.processing_status === 'ended' ? 'ended' : 'in_progress';
    },
    async results(batchId, signal) {
      const outcomes = new Map<string, BatchOutcome>();
      const lines = await client.messages.batches.results(batchId, {}, { signal }).catch(fail(signal));
      try {
        for await (const line of lines) {
          const r = line.result;
          if (r.type === 'succeeded') outcomes.set(line.custom_id, { type: 'succeeded', raw: r.message });
          else if (r.type === 'errored') {
            const e = r.error.error;
            outcomes.set(line.custom_id, { type: 'errored', retryable: TRANSIENT.has(e.type), message: `${e.type}: ${e.message}` });
          } else outcomes.set(line.custom_id, { type: r.type });
        }
      } catch (error) {
        fail(signal)(error);
      }
      return { outcomes, missing: { type: 'errored', retryable: true, message: 'the request is missing from the batch results' } };
    },
    read: (raw, request) => readMessage(raw as Anthropic.Message, request.output.name),
  };
}
