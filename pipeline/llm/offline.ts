import type { PromptModule } from '../../prompts/contract.js';
import { hashOf } from '../core/hash.js';
import { Rng } from '../core/rng.js';
import type { Tokenizer } from '../core/tokenizer.js';
import { LlmError, type LlmRequest, type LlmResponse, type Provider } from './types.js';

/**
 * The offline provider: no network, deterministic. It answers each prompt with that prompt's own
 * simulation (template-made text from the bundled banks), seeded by the request, and counts tokens
 * as a model would bill them so that estimates are meaningful.
 */
export function createOfflineProvider(options: { prompts: ReadonlyArray<PromptModule<unknown, unknown>>; tokenizer: Tokenizer }): Provider {
  const byId = new Map(options.prompts.map((p) => [p.id, p]));
  return {
    name: 'offline',
    complete(request: LlmRequest): Promise<LlmResponse> {
      const prompt = byId.get(request.task.promptId);
      if (!prompt)
        return Promise.reject(
          new LlmError('bad_request', `The offline provider has no simulation for prompt \`${request.task.promptId}\``),
        );
      const rng = Rng.derive('offline', hashOf({ task: request.task, sample: request.sample, model: request.model }));
      const output = prompt.simulate(request.task.input, rng);
      const text = JSON.stringify(output);
      const inputTokens =
        options.tokenizer.count(request.system) + request.messages.reduce((n, m) => n + options.tokenizer.count(m.content), 0);
      return Promise.resolve({
        text,
        usage: { inputTokens, outputTokens: options.tokenizer.count(text), cacheReadTokens: 0, cacheWriteTokens: 0 },
        finishReason: 'stop',
        model: request.model,
      });
    },
  };
}
