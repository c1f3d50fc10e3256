import type OpenAI from 'openai';
import { toFile } from 'openai';
import type { BatchBackend, BatchOutcome } from './batch.js';
import { type OpenAIProviderOptions, buildParams, openAIClient, openAISettings, readCompletion, toLlmError } from './openai.js';
import { llmCodeForStatus } from './parse.js';

/** Batches looked at when searching for one by its label (newest first). */
const FIND_LIMIT = 500;

interface OutputLine {
  custom_id: string;
  response: { status_code: number; body: unknown } | null;
  error: { code?: string | null; message?: string | null } | null;
}

/**
 * The OpenAI Batch API: the requests as a JSONL file (`POST /v1/files`, purpose `batch`), a batch
 * over it (`POST /v1/batches`, labelled with our local id in `metadata`), status checks, and the
 * output and error files. Every request of one batch uses the same model (the API requires it).
 */
export function createOpenAIBatchBackend(options: OpenAIProviderOptions): BatchBackend {
  const settings = openAISettings(options, 'Expected `apiKey` for the OpenAI batch API; it may be left out only with a `baseURL`.');
  const { apiKey, tokenLimitParam } = settings;
  const client = openAIClient(settings);
  const fail = (signal: AbortSignal) => (error: unknown) => {
    throw toLlmError(error, apiKey, signal);
  };

  async function lines(fileId: string, signal: AbortSignal): Promise<OutputLine[]> {
    const response = await client.files.content(fileId, { signal }).catch(fail(signal));
    const text = await response.text();
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as OutputLine);
  }

  return {
    provider: 'openai',
    async submit(items, localId, signal) {
      const jsonl = items
        .map(({ customId, request }) =>
          JSON.stringify({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body: buildParams(request, tokenLimitParam) }),
        )
        .join('\n');
      const file = await client.files
        .create({ file: await toFile(Buffer.from(jsonl + '\n'), `personagen-${localId}.jsonl`), purpose: 'batch' }, { signal })
        .catch(fail(signal));
      const batch = await client.batches
        .create(
          { input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { personagen_batch: localId } },
          { signal },
        )
        .catch(fail(signal));
      return { batchId: batch.id };
    },
    async find(localId, signal) {
      let seen = 0;
      try {
        for await (const batch of client.batches.list({ limit: 100 }, { signal })) {
          if (batch.metadata?.['personagen_batch'] === localId) return batch.id;
          if (++seen >= FIND_LIMIT) break;
        }
      } catch (error) {
        fail(signal)(error);
      }
      return undefined;
    },
    async status(batchId, signal) {
      const batch = await client.batches.retrieve(batchId, { signal }).catch(fail(signal));
      return ['completed', 'failed', 'expired', 'cancelled'].includes(batch.status) ? 'ended' : 'in_progress';
    },
    async results(batchId, signal) {
      const batch = await client.batches.retrieve(batchId, { signal }).catch(fail(signal));
      const outcomes = new Map<string, BatchOutcome>();
      if (batch.output_file_id) {
        for (const line of await lines(batch.output_file_id, signal)) outcomes.set(line.custom_id, outcomeOf(line));
      }
      if (batch.error_file_id) {
        for (const line of await lines(batch.error_file_id, signal)) outcomes.set(line.custom_id, outcomeOf(line));
      }
      const reason = batch.errors?.data?.map((e) => e.message).join('; ');
      const missing: BatchOutcome =
        batch.status === 'expired'
          ? { type: 'expired' }
          : batch.status === 'cancelled'
            ? { type: 'canceled' }
            : batch.status === 'failed'
              ? { type: 'errored', retryable: false, message: `the batch failed validation${reason ? `: ${reason}` : ''}` }
              : { type: 'errored', retryable: true, message: 'the request is missing from the batch output' };
      return { outcomes, missing };
    },
    read: (raw, request) => readCompletion(raw as OpenAI.ChatCompletion, request.model),
  };
}

function outcomeOf(line: OutputLine): BatchOutcome {
  const code = line.error?.code ?? undefined;
  if (code === 'batch_expired') return { type: 'expired' };
  if (code === 'batch_cancelled') return { type: 'canceled' };
  const status = line.response?.status_code;
  if (status === 200 && line.response?.body) return { type: 'succeeded', raw: line.response.body };
  const message = line.error?.message ?? (line.response ? JSON.stringify(line.response.body).slice(0, 300) : 'no response');
  const retryable =
    status !== undefined
      ? ['rate_limited', 'overloaded', 'server_error', 'timeout'].includes(llmCodeForStatus(status))
      : code === undefined;
  return { type: 'errored', retryable, message: `${status ?? code ?? 'error'}: ${message}` };
}
