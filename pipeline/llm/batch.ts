import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { type Config, LLM_STAGES, readEnv, stageProvider } from '../config/index.js';
import { PersonagenError } from '../core/errors.js';
import { writeFileAtomic } from '../core/files.js';
import { type RuntimeOptions, STORE_DIR } from '../engine/runtime.js';
import { createAnthropicBatchBackend } from './batch-anthropic.js';
import { createOpenAIBatchBackend } from './batch-openai.js';
import { cacheKeyOf } from './client.js';
import { type CallOptions, type LlmRequest, type LlmResponse, type Provider, LlmError } from './types.js';

/** What became of one request of a finished batch. */
export type BatchOutcome =
  | {
      type: 'succeeded';
      /** The provider's answer as sent (a Message, a ChatCompletion), read with the request that asked it. */ raw: unknown;
    }
  | { type: 'errored'; retryable: boolean; message: string }
  | { type: 'expired' }
  | { type: 'canceled' };

const BatchOutcomeSchema = z.union([
  z.object({ type: z.literal('succeeded'), raw: z.unknown() }),
  z.object({ type: z.literal('errored'), retryable: z.boolean(), message: z.string() }),
  z.object({ type: z.literal('expired') }),
  z.object({ type: z.literal('canceled') }),
]);

/** One provider's batch API: submit, check, collect. The SDK retries transient HTTP failures of each call. */
export interface BatchBackend {
  readonly provider: 'anthropic' | 'openai';
  /** Sends the requests as one batch; `localId` is ours, for `find`. */
  submit(
    items: ReadonlyArray<{ customId: string; request: LlmRequest }>,
    localId: string,
    signal: AbortSignal,
  ): Promise<{ batchId: string }>;
  /** The id of a batch sent under `localId` whose id never reached the run store (a crash in between), when the API can tell. */
  find(localId: string, signal: AbortSignal): Promise<string | undefined>;
  /** Whether the batch has ended (every request answered, expired, failed or canceled). */
  status(batchId: string, signal: AbortSignal): Promise<'in_progress' | 'ended'>;
  /** Outcomes of an ended batch by custom id; `missing` is the outcome of a request the results leave out. */
  results(batchId: string, signal: AbortSignal): Promise<{ outcomes: Map<string, BatchOutcome>; missing: BatchOutcome }>;
  /** Reads a succeeded answer for the request that asked it. */
  read(raw: unknown, request: LlmRequest): LlmResponse;
}

/**
 * A batch as the run store records it, under DIR/.run/batches/<provider>/<local_id>.json. It is
 * written (durably) before the batch is sent and again, with the provider's batch id, before the
 * first poll, so a restarted run finds every request it already paid for.
 */
export const BatchRecord = z.object({
  local_id: z.string().regex(/^[a-z0-9-]+$/),
  provider: z.enum(['anthropic', 'openai']),
  model: z.string(),
  /** submitting: written, maybe sent; submitted: sent, id known; ended: results kept; not_submitted: refused by the API. */
  state: z.enum(['submitting', 'submitted', 'ended', 'not_submitted']),
  batch_id: z.string().nullable(),
  /** Custom ids of the requests: the response-cache key of each. */
  requests: z.array(z.string()),
  submitted_at: z.string().nullable(),
});
export type BatchRecord = z.infer<typeof BatchRecord>;

export interface BatchingProviderOptions {
  backend: BatchBackend;
  /** Directory of this provider's batch records, e.g. DIR/.run/batches/anthropic. */
  dir: string;
  /** How long requests are collected before a batch is sent, in milliseconds. @default 2000 */
  window_ms?: number | undefined;
  /** Requests per batch, at most. @default 10000 */
  max_requests?: number | undefined;
  /** Time between status checks, in milliseconds. @default 30000 */
  poll_ms?: number | undefined;
  /** Submissions of one request, at most (expired and failed requests are sent again until then). @default 3 */
  max_submissions?: number | undefined;
}

export interface BatchingProvider extends Provider {
  /** Stops polling and fails the requests still waiting (their batches stay recorded, to re-attach later). */
  close(): Promise<void>;
}

interface Waiting {
  customId: string;
  request: LlmRequest;
  resolve: (record: BatchRecord) => void;
  reject: (error: unknown) => void;
}

/**
 * A provider that sends requests through a batch API at its discount. Requests arriving within a
 * short window are collected per model, recorded in the run store, submitted as one batch, polled
 * until the batch ends, and each caller gets its own answer. The response cache stays the source
 * of truth (LlmClient asks it first and keeps every answer); the records only make sure that a
 * request already sent is never sent again: a restarted run re-attaches to its batches, and only
 * requests that expired, were canceled or failed with a transient error are resubmitted.
 */
export function createBatchingProvider(options: BatchingProviderOptions): BatchingProvider {
  const { backend, dir } = options;
  const windowMs = options.window_ms ?? 2000;
  const maxRequests = options.max_requests ?? 10_000;
  const pollMs = options.poll_ms ?? 30_000;
  const maxSubmissions = options.max_submissions ?? 3;
  const stop = new AbortController();

  const records = new Map<string, BatchRecord>();
  /** Custom id → local ids of the batches it was sent in, oldest first. */
  const sentIn = new Map<string, string[]>();
  const settled = new Map<string, Promise<Map<string, BatchOutcome> | undefined>>();
  const inflight = new Map<string, Promise<LlmResponse>>();
  const windows = new Map<string, { items: Waiting[]; timer: ReturnType<typeof setTimeout> | undefined }>();
  let loaded: Promise<void> | undefined;

  const recordPath = (localId: string) => join(dir, `${localId}.json`);
  const resultsPath = (localId: string) => join(dir, `${localId}.results.json`);
  // Durable: these files are what stands between a crash and paying twice.
  const writeRecord = (r: BatchRecord) => writeFileAtomic(recordPath(r.local_id), JSON.stringify(r, null, 1) + '\n', { durable: true });

  function track(r: BatchRecord): void {
    records.set(r.local_id, r);
    for (const id of r.requests) {
      const list = sentIn.get(id) ?? [];
      if (!list.includes(r.local_id)) list.push(r.local_id);
      sentIn.set(id, list);
    }
  }

  async function load(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.json') && !n.endsWith('.results.json')).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const name of names) {
      const parsed = BatchRecord.safeParse(JSON.parse(await readFile(join(dir, name), 'utf8')));
      if (!parsed.success)
        throw new PersonagenError('internal', `${join(dir, name)} is not a batch record: ${parsed.error.issues[0]?.message ?? ''}`);
      track(parsed.data);
    }
  }

  /** Outcomes of a recorded batch, waiting for it to end; undefined when it was never sent. Once per batch. */
  function outcomesOf(r: BatchRecord): Promise<Map<string, BatchOutcome> | undefined> {
    let p = settled.get(r.local_id);
    if (!p) {
      p = settle(r);
      settled.set(r.local_id, p);
      // A failure (a stop, an HTTP error) is not the batch's outcome: the next asker tries again.
      p.catch(() => settled.delete(r.local_id));
    }
    return p;
  }

  async function settle(r: BatchRecord): Promise<Map<string, BatchOutcome> | undefined> {
    if (r.state === 'not_submitted') return undefined;
    if (r.state === 'ended') return readResults(r);
    if (r.state === 'submitting') {
      // A failed search is not an answer: it throws, and the next asker searches again.
      const found = await backend.find(r.local_id, stop.signal).catch(rethrow);
      if (found === undefined) {
        r.state = 'not_submitted';
        await writeRecord(r);
        return undefined;
      }
      Object.assign(r, { state: 'submitted', batch_id: found });
      await writeRecord(r);
    }
    const batchId = r.batch_id!;
    while ((await backend.status(batchId, stop.signal).catch(rethrow)) !== 'ended') {
      await sleep(pollMs, undefined, { signal: stop.signal }).catch(rethrow);
    }
    const { outcomes, missing } = await backend.results(batchId, stop.signal).catch(rethrow);
    for (const id of r.requests) if (!outcomes.has(id)) outcomes.set(id, missing);
    await writeFileAtomic(resultsPath(r.local_id), JSON.stringify(Object.fromEntries(outcomes)), { durable: true });
    r.state = 'ended';
    await writeRecord(r);
    return outcomes;
  }

  async function readResults(r: BatchRecord): Promise<Map<string, BatchOutcome>> {
    const json = JSON.parse(await readFile(resultsPath(r.local_id), 'utf8')) as Record<string, unknown>;
    return new Map(Object.entries(json).map(([id, o]) => [id, BatchOutcomeSchema.parse(o) as BatchOutcome]));
  }

  function enqueue(customId: string, request: LlmRequest): Promise<BatchRecord> {
    return new Promise((resolve, reject) => {
      let w = windows.get(request.model);
      if (!w) windows.set(request.model, (w = { items: [], timer: undefined }));
      w.items.push({ customId, request, resolve, reject });
      if (w.items.length >= maxRequests) void flush(request.model);
      else w.timer ??= setTimeout(() => void flush(request.model), windowMs);
    });
  }

  async function flush(model: string): Promise<void> {
    const w = windows.get(model);
    if (!w || w.items.length === 0) return;
    windows.delete(model);
    if (w.timer) clearTimeout(w.timer);
    const items = w.items;
    const record: BatchRecord = {
      // Time first, so that records sort in the order they were made.
      local_id: `${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`,
      provider: backend.provider,
      model,
      state: 'submitting',
      batch_id: null,
      requests: items.map((i) => i.customId),
      submitted_at: null,
    };
    try {
      await writeRecord(record);
      track(record);
      const { batchId } = await backend.submit(items, record.local_id, stop.signal);
      Object.assign(record, { state: 'submitted', batch_id: batchId, submitted_at: new Date().toISOString() });
      await writeRecord(record);
    } catch (error) {
      // An answer of the API (an HTTP status) means the batch was refused and nothing will be billed;
      // without one (a timeout, a dropped connection) it may exist: `find` looks for it on restart.
      if (error instanceof LlmError && error.status !== undefined) {
        record.state = 'not_submitted';
        await writeRecord(record).catch(() => undefined);
      }
      for (const i of items) i.reject(error);
      return;
    }
    for (const i of items) i.resolve(record);
  }

  async function answer(customId: string, request: LlmRequest): Promise<LlmResponse> {
    await (loaded ??= load());
    let submissions = 0;
    let last = 'no batch answered it';
    const judge = (outcome: BatchOutcome | undefined): LlmResponse | undefined => {
      if (outcome?.type === 'succeeded') return backend.read(outcome.raw, request);
      if (outcome?.type === 'errored' && !outcome.retryable) {
        throw new LlmError('bad_request', `The ${backend.provider} batch API refused the request: ${outcome.message}`);
      }
      last = outcome?.type === 'errored' ? outcome.message : (outcome?.type ?? last);
      return undefined;
    };
    for (const localId of [...(sentIn.get(customId) ?? [])]) {
      const outcomes = await outcomesOf(records.get(localId)!);
      if (!outcomes) continue;
      submissions++;
      const response = judge(outcomes.get(customId));
      if (response) return response;
    }
    while (submissions < maxSubmissions) {
      const record = await enqueue(customId, request);
      submissions++;
      const outcomes = await outcomesOf(record);
      const response = judge(outcomes?.get(customId));
      if (response) return response;
    }
    throw new LlmError(
      'server_error',
      `The request was sent in ${submissions} ${backend.provider} batches without an answer (last: ${last}).`,
    );
  }

  function rethrow(error: unknown): never {
    if (stop.signal.aborted)
      throw new LlmError('aborted', 'Batch polling was stopped; the batch stays recorded and a restarted run picks it up.');
    throw error;
  }

  return {
    name: backend.provider,
    complete(request: LlmRequest, callOptions: CallOptions = {}): Promise<LlmResponse> {
      const customId = cacheKeyOf(backend.provider, request);
      let p = inflight.get(customId);
      if (!p) {
        // Two callers asking the same thing at once share one submission.
        p = answer(customId, request).finally(() => inflight.delete(customId));
        inflight.set(customId, p);
      }
      return withSignal(p, callOptions.signal);
    },
    async close(): Promise<void> {
      stop.abort();
      for (const [model, w] of windows) {
        if (w.timer) clearTimeout(w.timer);
        windows.delete(model);
        for (const i of w.items) i.reject(new LlmError('aborted', 'The batching provider was closed before the batch was sent.'));
      }
      await Promise.allSettled([...inflight.values()]);
    },
  };
}

function withSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new LlmError('aborted', 'The call was aborted.'));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new LlmError('aborted', 'The call was aborted; its batch goes on and a later run picks up the answer.'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Runtime options for a run in batch mode: the network providers its stages use are replaced by
 * batching ones (providers passed in explicitly are kept as given). Without `batch` in the config,
 * the options come back unchanged.
 */
export function withBatching(config: Config, runDir: string, options: RuntimeOptions = {}): RuntimeOptions {
  if (!config.batch?.enabled) return options;
  const env = options.env ?? readEnv();
  const providers = { ...options.providers };
  const used = new Set(LLM_STAGES.map((s) => stageProvider(config, s)));
  for (const name of ['anthropic', 'openai'] as const) {
    if (!used.has(name) || providers[name]) continue;
    const common = { maxRetries: config.llm.max_retries, timeoutMs: config.llm.timeout_ms };
    const baseURL = name === 'anthropic' ? env.ANTHROPIC_BASE_URL : (config.llm.base_url ?? env.OPENAI_BASE_URL);
    const backend =
      name === 'anthropic'
        ? createAnthropicBatchBackend({ apiKey: env.ANTHROPIC_API_KEY ?? '', ...(baseURL ? { baseURL } : {}), ...common })
        : createOpenAIBatchBackend({
            ...(env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY } : {}),
            ...(baseURL ? { baseURL } : {}),
            ...common,
          });
    providers[name] = createBatchingProvider({ backend, dir: join(runDir, STORE_DIR, 'batches', name), ...config.batch });
  }
  return { ...options, providers };
}
