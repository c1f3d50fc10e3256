import type { z } from 'zod';
import type { Rng } from '../pipeline/core/rng.js';
import type { ChatMessage } from '../pipeline/llm/types.js';

/**
 * A prompt is a contract: its id and version, the zod schemas of its input and output, how it
 * renders the messages, and how the offline provider simulates its answer. The JSON schema sent to
 * a provider is derived from `output`; nothing about the output is written twice.
 */
export interface PromptModule<I, O> {
  readonly id: string;
  readonly version: number;
  /** The stable instructions (system prompt). Hashed into the manifest. */
  readonly instructions: string;
  readonly input: z.ZodType<I>;
  readonly output: z.ZodType<O>;
  /** Output tokens a model is asked to stay within. */
  readonly maxTokens: number;
  /** Renders the request; the system prompt is always `instructions` (stable prefix first). */
  render(input: I): { messages: ChatMessage[] };
  /** The offline provider's answer: deterministic given the input and the random source. */
  simulate(input: I, rng: Rng): O;
}

export function definePrompt<I, O>(module: PromptModule<I, O>): PromptModule<I, O> {
  return module;
}
