/**
 * o200k_base token counting: our counter (pipeline/core/tokenizer.ts, gpt-tokenizer) against
 * `tiktoken` (OpenAI's tokenizer compiled to WASM) and `js-tiktoken` (pure JS), each counting the
 * same messages one by one, as a history's token count is made. Counts must be identical.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { getEncoding } from 'js-tiktoken';
import { get_encoding } from 'tiktoken';
import { o200k } from '../../pipeline/core/tokenizer.js';
import { median, repeat, timeSync } from './measure.js';
import { type Row, num, runsLabel } from './table.js';

interface HistoryJson {
  metadata?: { final_token_count?: number };
  chat_history: Array<{ content: string }>;
}

export interface Corpus {
  messages: string[];
  sources: string[];
  /** Sum of the reference files' recorded final_token_count (their metadata), when present. */
  recorded: number | undefined;
  referenceMessages: number;
}

/** The published 32k histories, then generated histories (a 128k one), as lists of message texts. */
export async function loadCorpus(referenceDir: string, generated: readonly string[]): Promise<Corpus> {
  const messages: string[] = [];
  const sources: string[] = [];
  let recorded: number | undefined;
  const files = (await readdir(referenceDir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort();
  for (const f of files) {
    const h = JSON.parse(await readFile(join(referenceDir, f), 'utf8')) as HistoryJson;
    messages.push(...h.chat_history.map((m) => m.content));
    if (typeof h.metadata?.final_token_count === 'number') recorded = (recorded ?? 0) + h.metadata.final_token_count;
    sources.push(`reference ${f}`);
  }
  const referenceMessages = messages.length;
  for (const path of generated) {
    const h = JSON.parse(await readFile(path, 'utf8')) as HistoryJson;
    messages.push(...h.chat_history.map((m) => m.content));
    sources.push(`generated ${path}`);
  }
  return { messages, sources, recorded, referenceMessages };
}

interface Counter {
  name: string;
  count: (text: string) => number;
  close?: () => void;
}

export interface TokenizerResult {
  rows: Row[];
  /** Set when the implementations disagree on some message: the bench must fail. */
  mismatch: string | undefined;
}

export async function benchTokenizers(corpus: Corpus, options: { budgetMs: number; maxRuns: number }): Promise<TokenizerResult> {
  const wasm = get_encoding('o200k_base');
  const js = getEncoding('o200k_base');
  const counters: Counter[] = [
    { name: 'ours: gpt-tokenizer (pipeline/core/tokenizer.ts)', count: (t) => o200k.count(t) },
    { name: 'tiktoken (WASM)', count: (t) => wasm.encode(t).length, close: () => wasm.free() },
    { name: 'js-tiktoken (pure JS)', count: (t) => js.encode(t).length },
  ];
  const texts = corpus.messages;
  const chars = texts.reduce((n, t) => n + t.length, 0);
  const results: Array<{ name: string; counts: number[]; total: number; tps: number; runs: number }> = [];
  try {
    for (const c of counters) {
      // The first pass warms caches and the JIT; it also gives the counts that are compared.
      const counts = texts.map((t) => c.count(t));
      const total = counts.reduce((a, b) => a + b, 0);
      const times = await repeat(async () => timeSync(() => texts.reduce((n, t) => n + c.count(t), 0)).ms, {
        min: 3,
        max: options.maxRuns,
        budgetMs: options.budgetMs / counters.length,
      });
      const ms = median(times);
      results.push({ name: c.name, counts, total, tps: (total / ms) * 1000, runs: times.length });
    }
  } finally {
    for (const c of counters) c.close?.();
  }

  let mismatch: string | undefined;
  const [ours, ...others] = results;
  for (const other of others) {
    const at = ours!.counts.findIndex((n, i) => n !== other.counts[i]);
    if (at >= 0) {
      mismatch ??= `${other.name} counts message ${at} as ${other.counts[at]} tokens, ours as ${ours!.counts[at]}`;
    }
  }
  const refTokens = ours!.counts.slice(0, corpus.referenceMessages).reduce((a, b) => a + b, 0);
  const wasmResult = results[1]!;
  const rows = results.map((r): Row => ({
    bench: 'tokenizer',
    case: r.name,
    result: `${num(r.tps / 1e6, 2)} M tokens/s (${num(r.total)} tokens, ${num(texts.length)} messages, ${num(chars / 1e6, 2)} M chars)`,
    reference: r === wasmResult ? '' : `tiktoken ${num(wasmResult.tps / 1e6, 2)} M tokens/s`,
    ratio: r === wasmResult ? '' : `${num(r.tps / wasmResult.tps, 2)}x`,
    runs: runsLabel(r.runs),
    figures: {
      tokens_per_second: Math.round(r.tps),
      tokens: r.total,
      messages: texts.length,
      chars,
      counts_identical: mismatch === undefined,
      reference_tokens: refTokens,
      reference_recorded_tokens: corpus.recorded ?? null,
    },
  }));
  return { rows, mismatch };
}
