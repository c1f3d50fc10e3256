/**
 * Token efficiency, from a generated dataset's manifest (cost.efficiency, written by
 * pipeline/dataset/write.ts through pipeline/cost/ledger.ts), checked against its usage totals.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { type Row, notAvailable, num } from './table.js';

const Manifest = z.object({
  usage: z.object({
    total: z.object({
      calls: z.number(),
      input_tokens: z.number(),
      output_tokens: z.number(),
      cache_read_tokens: z.number(),
      cache_write_tokens: z.number(),
    }),
  }),
  cost: z.object({
    efficiency: z.object({
      accepted_questions: z.number(),
      billed_tokens: z.number(),
      billed_tokens_per_question: z.number().nullable(),
      input_tokens_per_question: z.number().nullable(),
      output_tokens_per_question: z.number().nullable(),
      dataset_text_tokens: z.number(),
      billed_tokens_per_dataset_token: z.number().nullable(),
    }),
  }),
  counts: z.object({ users: z.number(), questions: z.number() }),
});

export async function benchEfficiency(dir: string): Promise<Row[]> {
  const bench = 'token efficiency';
  const parsed = Manifest.safeParse(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')));
  if (!parsed.success)
    return [notAvailable(bench, 'manifest cost block', `manifest.json has no usable cost.efficiency (${parsed.error.issues[0]?.message})`)];
  const { usage, cost, counts } = parsed.data;
  const e = cost.efficiency;
  const t = usage.total;
  const billed = t.input_tokens + t.output_tokens + t.cache_read_tokens + t.cache_write_tokens;
  // The manifest's figures must agree with its own totals.
  if (billed !== e.billed_tokens || counts.questions !== e.accepted_questions) {
    return [
      notAvailable(
        bench,
        'manifest cost block',
        `cost.efficiency (${e.billed_tokens} billed, ${e.accepted_questions} questions) disagrees with usage.total (${billed}) or counts (${counts.questions})`,
      ),
    ];
  }
  const perQuestion = billed / e.accepted_questions;
  const perTextToken = billed / e.dataset_text_tokens;
  const scope = `${num(counts.users)} users, ${num(e.accepted_questions)} accepted questions, ${num(t.calls)} calls`;
  return [
    {
      bench,
      case: `billed tokens per accepted question (${scope})`,
      result: `${num(perQuestion)} tokens (input ${num(e.input_tokens_per_question ?? 0)} + output ${num(e.output_tokens_per_question ?? 0)})`,
      reference: '',
      ratio: '',
      runs: '1 dataset',
      figures: {
        billed_tokens: billed,
        accepted_questions: e.accepted_questions,
        billed_tokens_per_question: Number(perQuestion.toFixed(1)),
        input_tokens_per_question: e.input_tokens_per_question,
        output_tokens_per_question: e.output_tokens_per_question,
        calls: t.calls,
      },
    },
    {
      bench,
      case: `billed tokens per token of dataset text (sessions, fillers, queries and options)`,
      result: `${num(perTextToken, 2)} (${num(billed)} billed for ${num(e.dataset_text_tokens)} tokens of text)`,
      reference: '',
      ratio: '',
      runs: '1 dataset',
      figures: {
        billed_tokens: billed,
        dataset_text_tokens: e.dataset_text_tokens,
        billed_per_text_token: Number(perTextToken.toFixed(3)),
      },
    },
  ];
}
