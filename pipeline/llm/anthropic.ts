import Anthropic from '@anthropic-ai/sdk';
import { PersonagenError } from '../core/errors.js';
import { llmCodeForStatus, parseRetryAfter, redactSecret } from './parse.js';
import { LlmError, type CallOptions, type FinishReason, type LlmRequest, type LlmResponse, type Provider } from './types.js';

export interface AnthropicProviderOptions {
  /** API key (the SDK sends it as a bearer token). Never appears in error messages. */
  apiKey: string;
  /** Base URL of the Messages API, e.g. a proxy. @default "https://api.anthropic.com" */
  baseURL?: string | undefined;
  /** Retries of transient failures (429, 5xx, 529, timeouts, dropped connections) inside the SDK. @default 4 */
  maxRetries?: number | undefined;
  /** Time allowed for one HTTP attempt, in milliseconds. @default 120000 */
  timeoutMs?: number | undefined;
}

/** A provider that asks Claude for one JSON object through a single forced tool call. */
export function createAnthropicProvider(options: AnthropicProviderOptions): Provider {
  const { apiKey, maxRetries = 4, timeoutMs = 120_000 } = options;
  if (typeof apiKey !== 'string' || apiKey.trim() === '') {
    throw new PersonagenError('bad_config', 'Expected `apiKey` to be a non-empty string for the anthropic provider.');
  }
  checkOptions({ maxRetries, timeoutMs });

  const client = new Anthropic({
    apiKey,
    // null rather than undefined: the SDK would otherwise read ANTHROPIC_BASE_URL itself, and the
    // environment is read in one place (config/env.ts).
    baseURL: options.baseURL ?? null,
    maxRetries,
    timeout: timeoutMs,
  });

  return {
    name: 'anthropic',
    async complete(request: LlmRequest, callOptions: CallOptions = {}): Promise<LlmResponse> {
      const params = buildParams(request);
      let message: Anthropic.Message;
      try {
        message = await client.messages.create(params, {
          signal: callOptions.signal ?? null,
        });
      } catch (error) {
        throw toLlmError(error, apiKey, callOptions.signal);
      }
      return readMessage(message, request.output.name);
    },
  };
}

function checkOptions({ maxRetries, timeoutMs }: { maxRetries: number; timeoutMs: number }): void {
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new PersonagenError('bad_config', `Expected \`maxRetries\` to be an integer >= 0, got ${maxRetries}.`);
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new PersonagenError('bad_config', `Expected \`timeoutMs\` to be an integer >= 1, got ${timeoutMs}.`);
  }
}

/** Shared with the batch backend (batch-anthropic.ts), which sends the same requests. */
export function buildParams(request: LlmRequest): Anthropic.MessageCreateParamsNonStreaming {
  const { name, jsonSchema } = request.output;
  const { $schema: _dialect, description, ...schema } = jsonSchema;
  if (schema['type'] !== 'object') {
    throw new LlmError(
      'bad_request',
      `Expected \`output.jsonSchema.type\` to be "object" for output \`${name}\`, got ${JSON.stringify(schema['type'])}.`,
    );
  }
  const tool: Anthropic.Tool = {
    name,
    description:
      typeof description === 'string' && description.trim() !== '' ? description : `Record the complete answer as one ${name} object.`,
    input_schema: schema as Anthropic.Tool.InputSchema,
  };
  return {
    model: request.model,
    max_tokens: request.maxTokens,
    // No `temperature`: API version 2026-10-21, which this SDK major sends, answers 400 to any
    // sampling parameter, even at its default value, so request.temperature is not sent.
    // The API rejects an empty text block, and an empty prefix has nothing to cache.
    ...(request.system === ''
      ? {}
      : {
          system: [
            {
              type: 'text' as const,
              text: request.system,
              cache_control: { type: 'ephemeral' as const },
            },
          ],
        }),
    messages: request.messages.map((m) => ({
      role: m.role,
      content: m.content,
    })),
    tools: [tool],
    tool_choice: { type: 'tool', name },
  };
}

/** Shared with the batch backend (batch-anthropic.ts), which sends the same requests. */
export function readMessage(message: Anthropic.Message, toolName: string): LlmResponse {
  const toolUse = message.content.find((block): block is Anthropic.ToolUseBlock => block.type === 'tool_use' && block.name === toolName);
  // Without a tool call (a refusal, or an answer cut off before the call) the text blocks are
  // the answer, kept so that the parse error can show what came back.
  const text =
    toolUse !== undefined
      ? JSON.stringify(toolUse.input)
      : message.content
          .filter((block): block is Anthropic.TextBlock => block.type === 'text')
          .map((block) => block.text)
          .join('');
  const usage = message.usage;
  return {
    text,
    finishReason: finishReasonOf(message.stop_reason),
    model: message.model,
    usage: {
      inputTokens: usage.input_tokens,
      outputTokens: usage.output_tokens,
      cacheReadTokens: usage.cache_read_input_tokens ?? 0,
      cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
    },
  };
}

function finishReasonOf(stopReason: Anthropic.StopReason | null): FinishReason {
  switch (stopReason) {
    case 'end_turn':
    case 'tool_use':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'refusal':
      return 'refusal';
    default:
      return 'other';
  }
}

/** Sorts whatever the SDK threw (after its own retries) into an LlmError that never names the key. */
export function toLlmError(error: unknown, apiKey: string, signal: AbortSignal | undefined): LlmError {
  if (error instanceof LlmError) return error;
  const rawMessage = error instanceof Error ? error.message : String(error);
  const message = redactSecret(rawMessage, apiKey);
  // Keep the SDK error for its stack, unless it carries the key (a server that echoes it back).
  const cause = message === rawMessage && !bodyMentions(error, apiKey) ? error : undefined;

  if (signal?.aborted || error instanceof Anthropic.APIUserAbortError) {
    return new LlmError('aborted', 'The Anthropic request was aborted.', {
      cause,
    });
  }
  if (error instanceof Anthropic.APIConnectionTimeoutError) {
    return new LlmError('timeout', `The Anthropic request timed out: ${message}`, { cause });
  }
  if (error instanceof Anthropic.APIConnectionError) {
    return new LlmError('connection', `Could not reach the Anthropic API: ${message}${causeSuffix(error, apiKey)}`, { cause });
  }
  if (error instanceof Anthropic.APIError && error.status !== undefined) {
    const code = llmCodeForStatus(error.status, error.type);
    // The SDK's own message is the whole JSON body; its parsed fields read better.
    const detail = error.apiMessage ? `${error.status} ${error.type ?? 'error'}: ${redactSecret(error.apiMessage, apiKey)}` : message;
    const requestId = error.requestID ? ` (request-id ${error.requestID})` : '';
    return new LlmError(code, `Anthropic API error ${detail}${requestId}`, {
      status: error.status,
      retryAfterSeconds: parseRetryAfter(error.headers),
      cause,
    });
  }
  if (error instanceof Anthropic.AnthropicError) {
    // Raised by the SDK before sending (bad options); nothing a retry would change.
    return new LlmError('bad_request', `Anthropic request rejected by the client: ${message}`, {
      cause,
    });
  }
  // Thrown while reading a 200 response: the connection dropped mid-body (undici's
  // "terminated") or the body is not the JSON it claims to be. Both are worth another try.
  return new LlmError('connection', `The Anthropic response could not be read: ${message}${causeSuffix(error, apiKey)}`, { cause });
}

/** The low-level reason under a fetch failure ("other side closed", "ECONNREFUSED"). */
function causeSuffix(error: unknown, apiKey: string): string {
  const inner = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  if (!inner) return '';
  const innerCause = inner.cause instanceof Error ? ` (${inner.cause.message})` : '';
  return redactSecret(` (${inner.message}${innerCause})`, apiKey);
}

function bodyMentions(error: unknown, secret: string): boolean {
  if (!(error instanceof Anthropic.APIError)) return false;
  try {
    return JSON.stringify(error.error ?? null).includes(secret);
  } catch {
    return true;
  }
}
