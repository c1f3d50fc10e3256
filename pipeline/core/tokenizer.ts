import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

/**
 * Token counting. o200k_base through gpt-tokenizer: exact (it reproduces the published histories'
 * counts) and the fastest of the JS implementations measured (see scripts/bench.ts).
 */
export interface Tokenizer {
  readonly name: string;
  count(text: string): number;
}

export const o200k: Tokenizer = {
  name: 'o200k_base',
  count: (text) => countTokens(text),
};

export function tokenizerFor(name: string): Tokenizer {
  if (name === 'o200k_base') return o200k;
  throw new Error(`Unknown tokenizer \`${name}\`; supported: o200k_base`);
}
