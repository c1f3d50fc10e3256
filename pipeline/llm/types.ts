import { PersonagenError } from '../core/errors.js';

export type ChatRole = 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** A fully rendered request: everything that decides the answer, and so the cache key. */
export interface LlmRequest {
  /** Model name as the provider knows it. */
  model: string;
  /** Stable instructions. Sent as the system prompt (first, so that prefix caching can hit). */
  system: string;
  messages: ChatMessage[];
  /** Name and JSON schema of the expected JSON object, derived from the prompt's zod schema. */
  output: { name: string; jsonSchema: Record<string, unknown> };
  temperature: number;
  maxTokens: number;
  /** Sample index: asking the same thing again for a different draft changes it. */
  sample: number;
  /**
   * The prompt task this request renders, for the offline provider (which simulates the answer
   * from the structured input instead of reading text). Network providers ignore it.
   */
  task: { promptId: string; promptVersion: number; input: unknown };
}

export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export type FinishReason = 'stop' | 'length' | 'refusal' | 'other';

export interface LlmResponse {
  /** The raw text of the answer: a JSON object as text. */
  text: string;
  usage: LlmUsage;
  finishReason: FinishReason;
  /** The model that answered, as the provider reports it. */
  model: string;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
}

/** One interface for every provider; retries of transient errors happen inside (SDK `maxRetries`). */
export interface Provider {
  readonly name: ProviderName;
  complete(request: LlmRequest, options?: CallOptions): Promise<LlmResponse>;
}

export type ProviderName = 'offline' | 'anthropic' | 'openai';

export type LlmErrorCode =
  | 'rate_limited'
  | 'overloaded'
  | 'server_error'
  | 'timeout'
  | 'connection'
  | 'bad_request'
  | 'auth'
  | 'not_found'
  | 'aborted'
  | 'invalid_output'
  | 'truncated'
  | 'refused';

const RETRYABLE: ReadonlySet<LlmErrorCode> = new Set(['rate_limited', 'overloaded', 'server_error', 'timeout', 'connection']);

/** A provider failure, sorted into transient (worth retrying later) and permanent. */
export class LlmError extends PersonagenError {
  readonly llmCode: LlmErrorCode;
  readonly status: number | undefined;
  /** Seconds the provider asked us to wait (retry-after), when it said. */
  readonly retryAfterSeconds: number | undefined;
  /** The raw text of the answer, for invalid or truncated output (dead-letter files keep it). */
  readonly raw: string | undefined;
  constructor(
    llmCode: LlmErrorCode,
    message: string,
    extra: {
      status?: number | undefined;
      retryAfterSeconds?: number | undefined;
      raw?: string | undefined;
      cause?: unknown;
    } = {},
  ) {
    super(llmCode === 'invalid_output' ? 'invalid_output' : 'llm_error', message, {
      cause: extra.cause,
    });
    this.name = 'LlmError';
    this.llmCode = llmCode;
    this.status = extra.status;
    this.retryAfterSeconds = extra.retryAfterSeconds;
    this.raw = extra.raw;
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.llmCode);
  }
}
