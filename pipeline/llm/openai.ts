import OpenAI from 'openai';
import { PersonagenError } from '../core/errors.js';
import { llmCodeForStatus, parseRetryAfter, redactSecret } from './parse.js';
import { LlmError, type CallOptions, type FinishReason, type LlmRequest, type LlmResponse, type Provider } from './types.js';

/** Sent when a local server needs no key; the SDK refuses to build a client without one. */
const PLACEHOLDER_KEY = 'no-key-required';

export interface OpenAIProviderOptions {
  /**
   * API key, sent as a bearer token. Required for api.openai.com; may be left out with a
   * `baseURL`, for local servers that check no key. Never appears in error messages.
   */
  apiKey?: string | undefined;
  /**
   * Base URL of an OpenAI-compatible server, e.g. "http://localhost:8000/v1" (vLLM),
   * "http://localhost:11434/v1" (Ollama), "http://localhost:8080/v1" (llama.cpp).
   * @default "https://api.openai.com/v1"
   */
  baseURL?: string | undefined;
  /** Retries of transient failures (429, 5xx, timeouts, dropped connections) inside the SDK. @default 4 */
  maxRetries?: number | undefined;
  /** Time allowed for one HTTP attempt, in milliseconds. @default 120000 */
  timeoutMs?: number | undefined;
  /**
   * Body field that carries the output token limit. OpenAI's reasoning models accept only
   * `max_completion_tokens`; several compatible servers know only the older `max_tokens`.
   * @default "max_completion_tokens" for api.openai.com, "max_tokens" when `baseURL` is given
   */
  tokenLimitParam?: 'max_tokens' | 'max_completion_tokens' | undefined;
}

/** A provider for the OpenAI Chat Completions API and servers that speak it. */
export function createOpenAIProvider(options: OpenAIProviderOptions): Provider {
  const settings = openAISettings(
    options,
    'Expected `apiKey` for the OpenAI API; it may be left out only with a `baseURL` of a compatible server.',
  );
  const { maxRetries, timeoutMs } = settings;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new PersonagenError('bad_config', `Expected \`maxRetries\` to be an integer >= 0, got ${maxRetries}.`);
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new PersonagenError('bad_config', `Expected \`timeoutMs\` to be an integer >= 1, got ${timeoutMs}.`);
  }
  const { apiKey, tokenLimitParam } = settings;
  const client = openAIClient(settings);

  return {
    name: 'openai',
    async complete(request: LlmRequest, callOptions: CallOptions = {}): Promise<LlmResponse> {
      const params = buildParams(request, tokenLimitParam);
      let completion: OpenAI.ChatCompletion;
      try {
        completion = await client.chat.completions.create(params, {
          signal: callOptions.signal ?? null,
        });
      } catch (error) {
        throw toLlmError(error, apiKey, callOptions.signal);
      }
      return readCompletion(completion, request.model);
    },
  };
}

/** The options with their defaults; shared with the batch backend (batch-openai.ts). */
export interface OpenAISettings {
  /** Undefined when left out or blank. */
  apiKey: string | undefined;
  baseURL: string | undefined;
  maxRetries: number;
  timeoutMs: number;
  tokenLimitParam: 'max_tokens' | 'max_completion_tokens';
}

/** Fills in the defaults; throws `missingKey` when there is neither a key nor a `baseURL`. */
export function openAISettings(options: OpenAIProviderOptions, missingKey: string): OpenAISettings {
  const { baseURL, maxRetries = 4, timeoutMs = 120_000 } = options;
  const apiKey = options.apiKey?.trim() ? options.apiKey : undefined;
  if (apiKey === undefined && !baseURL) throw new PersonagenError('bad_config', missingKey);
  const tokenLimitParam = options.tokenLimitParam ?? (baseURL ? 'max_tokens' : 'max_completion_tokens');
  return { apiKey, baseURL, maxRetries, timeoutMs, tokenLimitParam };
}

/** The SDK client for these settings; shared with the batch backend (batch-openai.ts). */
export function openAIClient(settings: OpenAISettings): OpenAI {
  return new OpenAI({
    apiKey: settings.apiKey ?? PLACEHOLDER_KEY,
    // Explicit nulls keep the SDK from reading OPENAI_* variables itself; the environment is
    // read in one place (config/env.ts).
    baseURL: settings.baseURL ?? null,
    organization: null,
    project: null,
    adminAPIKey: null,
    maxRetries: settings.maxRetries,
    timeout: settings.timeoutMs,
  });
}

/** Shared with the batch backend (batch-openai.ts), which sends the same requests. */
export function buildParams(
  request: LlmRequest,
  tokenLimitParam: 'max_tokens' | 'max_completion_tokens',
): OpenAI.ChatCompletionCreateParamsNonStreaming {
  const { name, jsonSchema } = request.output;
  const { $schema: _dialect, ...schema } = jsonSchema;
  const description = typeof schema['description'] === 'string' ? schema['description'] : undefined;
  return {
    model: request.model,
    messages: [
      // First, so that servers with prefix caching can reuse it across calls.
      { role: 'system', content: request.system },
      ...request.messages.map((m) => ({ role: m.role, content: m.content })),
    ],
    temperature: request.temperature,
    [tokenLimitParam]: request.maxTokens,
    response_format: {
      type: 'json_schema',
      // strict: false because strict mode rejects optional fields and open objects, which the
      // zod-derived schemas use; the answer is validated against the zod schema anyway.
      json_schema: {
        name,
        schema,
        strict: false,
        ...(description ? { description } : {}),
      },
    },
  };
}

/** Shared with the batch backend (batch-openai.ts), which sends the same requests. */
export function readCompletion(completion: OpenAI.ChatCompletion, requestedModel: string): LlmResponse {
  const choice = completion.choices[0];
  if (choice === undefined) {
    throw new LlmError('invalid_output', 'The OpenAI response has no choices.', {
      raw: JSON.stringify(completion),
    });
  }
  const { content, refusal } = choice.message;
  const usage = completion.usage;
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    text: content ?? refusal ?? '',
    finishReason: refusal ? 'refusal' : finishReasonOf(choice.finish_reason),
    // Some compatible servers leave `model` empty.
    model: completion.model || requestedModel,
    usage: {
      // prompt_tokens counts cached tokens too; subtracting them makes inputTokens mean the same
      // as for Anthropic (input billed at the full rate), so cost sums add up across providers.
      inputTokens: Math.max(0, (usage?.prompt_tokens ?? 0) - cached),
      outputTokens: usage?.completion_tokens ?? 0,
      cacheReadTokens: cached,
      cacheWriteTokens: 0,
    },
  };
}

function finishReasonOf(reason: OpenAI.ChatCompletion.Choice['finish_reason'] | null): FinishReason {
  switch (reason) {
    case 'stop':
      return 'stop';
    case 'length':
      return 'length';
    case 'content_filter':
      return 'refusal';
    default:
      return 'other';
  }
}

/** Sorts whatever the SDK threw (after its own retries) into an LlmError that never names the key. */
export function toLlmError(error: unknown, apiKey: string | undefined, signal: AbortSignal | undefined): LlmError {
  if (error instanceof LlmError) return error;
  const rawMessage = error instanceof Error ? error.message : String(error);
  const message = redactSecret(rawMessage, apiKey);
  // Keep the SDK error for its stack, unless it carries the key (a server that echoes it back).
  const cause = message === rawMessage && !bodyMentions(error, apiKey) ? error : undefined;

  if (signal?.aborted || error instanceof OpenAI.APIUserAbortError) {
    return new LlmError('aborted', 'The OpenAI request was aborted.', {
      cause,
    });
  }
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new LlmError('timeout', `The OpenAI request timed out: ${message}`, {
      cause,
    });
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new LlmError('connection', `Could not reach the OpenAI API: ${message}${causeSuffix(error, apiKey)}`, { cause });
  }
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    const type = typeof error.type === 'string' ? error.type : null;
    const requestId = error.requestID ? ` (x-request-id ${error.requestID})` : '';
    return new LlmError(llmCodeForStatus(error.status, type), `OpenAI API error ${message}${requestId}`, {
      status: error.status,
      retryAfterSeconds: parseRetryAfter(error.headers),
      cause,
    });
  }
  if (error instanceof OpenAI.OpenAIError) {
    // Raised by the SDK before sending (bad options); nothing a retry would change.
    return new LlmError('bad_request', `OpenAI request rejected by the client: ${message}`, {
      cause,
    });
  }
  // Thrown while reading a 200 response: the connection dropped mid-body (undici's
  // "terminated") or the body is not the JSON it claims to be. Both are worth another try.
  return new LlmError('connection', `The OpenAI response could not be read: ${message}${causeSuffix(error, apiKey)}`, { cause });
}

/** The low-level reason under a fetch failure ("other side closed", "ECONNREFUSED"). */
function causeSuffix(error: unknown, apiKey: string | undefined): string {
  const inner = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  if (!inner) return '';
  const innerCause = inner.cause instanceof Error ? ` (${inner.cause.message})` : '';
  return redactSecret(` (${inner.message}${innerCause})`, apiKey);
}

function bodyMentions(error: unknown, secret: string | undefined): boolean {
  if (!secret || !(error instanceof OpenAI.APIError)) return false;
  try {
    return JSON.stringify(error.error ?? null).includes(secret);
  } catch {
    return true;
  }
}
