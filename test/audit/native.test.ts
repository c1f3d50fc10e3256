import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditReport, type RuleName, parseThresholds, runAudit } from '../../pipeline/audit/index.js';
import type { LlmRequest, LlmResponse, Provider } from '../../pipeline/llm/types.js';
import { luhnValid } from '../../pipeline/stages/sensitive.js';
import { BANK, type Plant, SENSITIVE, writeNativeDataset } from './fixtures.js';
import { runAuditCli } from './run-cli.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'audit-native-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function dataset(name: string, plant: Plant = {}): Promise<string> {
  const dir = join(root, name);
  await writeNativeDataset(dir, plant);
  return dir;
}

/** A card number that passes Luhn and is outside the test ranges: a value that could be real. */
function realLookingCard(): string {
  const body = '471628539904112';
  for (let d = 0; d <= 9; d++)
    if (luhnValid(body + d)) return `${body.slice(0, 4)} ${body.slice(4, 8)} ${body.slice(8, 12)} ${body.slice(12)}${d}`;
  throw new Error('unreachable');
}

describe('audit of a native dataset', () => {
  it('passes a clean dataset on every rule, and --fail-on all exits 0', async () => {
    const dir = await dataset('clean');
    const { report } = await runAudit(dir);
    expect(() => AuditReport.parse(report)).not.toThrow();
    expect(report.input.format).toBe('native');
    expect(report.input.items).toBe(BANK.length);
    expect(report.failed).toEqual([]);
    expect(report.rules.split_contamination.status).toBe('skipped');
    expect(report.rules.filler_conflicts.status).toBe('pass');
    expect(report.rules.filler_conflicts.checked).toBeGreaterThan(0);
    expect(report.rules.sensitive_info.checked).toBeGreaterThan(BANK.length);
    expect(report.lengths.gold_uniquely_longest).toBeLessThanOrEqual(0.3);
    const cli = await runAuditCli([dir, '--fail-on', 'all']);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('gate: passed');
  });

  // `cli`: also run the command and check its exit code (once per rule: each run starts a process).
  const planted: Array<{ rule: RuleName; plant: Plant; id: RegExp; cli?: boolean; detail?: (d: Record<string, unknown>) => void }> = [
    { rule: 'option_bias', plant: { longGold: true }, id: /^overall$/, cli: true },
    { rule: 'blind_solvers', plant: { longGold: true }, id: /^overall$/, cli: true },
    {
      rule: 'query_leakage',
      cli: true,
      plant: { leakQuery: { item: 5, query: 'Which vegan dinner can I cook tonight that keeps my diet strict?' } },
      id: /^questions\.jsonl:6 \(u1-p005\)$/,
      detail: (d) => expect(d.shared).toEqual(expect.arrayContaining(['vegan', 'diet', 'strict'])),
    },
    {
      rule: 'explicitness',
      cli: true,
      plant: {
        explicit: {
          item: 2,
          turn: 'I collect vintage fountain pens, and the one I found at a flea market writes scratchily. How do I fix it?',
        },
      },
      id: /^questions\.jsonl:3 \(u0-p002\)$/,
      detail: (d) => expect(d.evidence).toBe('histories/8k/0.json#messages[7..8]'),
    },
    {
      rule: 'filler_conflicts',
      cli: true,
      plant: {
        filler: {
          pid: 1,
          topic: 'nutrition',
          messages: [
            { role: 'user', content: 'Can an endurance athlete keep to a strict vegan diet and still recover well?' },
            { role: 'assistant', content: 'Yes, with planning: watch B12, iron and total calories, and spread protein across the day.' },
          ],
        },
      },
      id: /^histories\/8k\/1\.json#messages\[\d+\.\.\d+\] \(filler f2\)$/,
      detail: (d) => expect(d.preference).toBe('Keeps a strict vegan diet'),
    },
    {
      rule: 'sensitive_info',
      cli: true,
      plant: { unmasked: { item: 7 } },
      id: /^questions\.jsonl:8 \(u1-p007\)$/,
      detail: (d) => expect(d).toMatchObject({ check: 'unmasked', value: SENSITIVE[1]!.value }),
    },
    {
      rule: 'sensitive_info',
      plant: { realValue: { field: 'credit_card', value: realLookingCard() } },
      id: /^users\.jsonl:1 s\d+$/,
      detail: (d) => expect(d).toMatchObject({ check: 'could_be_real', kind: 'card' }),
    },
    {
      rule: 'sensitive_info',
      plant: { realValue: { field: 'phone', value: '+1 (415) 867-2290' } },
      id: /^users\.jsonl:1 s\d+$/,
      detail: (d) => expect(d).toMatchObject({ check: 'could_be_real', kind: 'phone' }),
    },
  ];

  it.each(planted.map((p, i) => [`${p.rule} #${i}`, p] as const))('reports a planted leak (%s) and --fail-on exits 1', async (name, p) => {
    const dir = await dataset(name.replace(/\W+/g, '-'), p.plant);
    const { report } = await runAudit(dir);
    const rule = report.rules[p.rule];
    expect(rule.status).toBe('fail');
    const hit = rule.findings.find((f) => p.id.test(f.id));
    expect(hit, `no ${p.rule} finding with an id like ${p.id}: ${JSON.stringify(rule.findings.map((f) => f.id))}`).toBeDefined();
    p.detail?.(hit!.detail ?? {});
    // Only the planted rule fails (a longer gold trips both length rules, which is the point).
    const others = report.failed.filter((r) => r !== p.rule && !(p.plant.longGold && (r === 'option_bias' || r === 'blind_solvers')));
    expect(others).toEqual([]);
    expect((await runAudit(dir, { failOn: [p.rule] })).report.gate.exit_code).toBe(1);
    if (p.cli) {
      const cli = await runAuditCli([dir, '--fail-on', p.rule]);
      expect(cli.code).toBe(1);
      expect(cli.stdout).toContain(`gate: failed on ${p.rule}`);
    }
    // A gate on another rule is not tripped by this finding.
    const otherRule = p.rule === 'explicitness' ? 'query_leakage' : 'explicitness';
    expect((await runAudit(dir, { failOn: [otherRule] })).report.gate).toEqual({ fail_on: [otherRule], failed: [], exit_code: 0 });
  });

  it('names the uniquely-longest share and the example ids of a planted length bias', async () => {
    const dir = await dataset('long-gold', { longGold: true });
    const { report } = await runAudit(dir);
    expect(report.lengths.gold_uniquely_longest).toBe(1);
    const share = report.rules.option_bias.findings.find((f) => f.detail?.measure === 'uniquely_longest_share');
    expect(share?.message).toContain('100.0% of 12 questions');
    expect(share?.examples?.[0]).toBe('questions.jsonl:1 (u0-p000)');
    const blind = report.rules.blind_solvers.measures?.find((m) => m.measure === 'longest');
    expect(blind?.overall).toMatchObject({ n: 12, successes: 12, rate: 1 });
  });

  it('checks filler conflicts only where the run store tells filler from the user sessions', async () => {
    const dir = await dataset('no-store');
    await rm(join(dir, '.run'), { recursive: true, force: true });
    const { report } = await runAudit(dir);
    expect(report.rules.filler_conflicts.status).toBe('skipped');
    expect(report.input.notes.join(' ')).toContain('no run store');
  });

  it('asks a model judge, given no history, with --judge, and reuses its cached answers', async () => {
    const dir = await dataset('judged');
    const seen: string[] = [];
    // A fake OpenAI-compatible provider: always picks the gold's letter, and calls one query leaky.
    const fake: Provider = {
      name: 'openai',
      complete(request: LlmRequest): Promise<LlmResponse> {
        const input = request.task.input as { query: string; options?: string[] };
        seen.push(request.model);
        const text =
          request.task.promptId === 'judge-blind'
            ? JSON.stringify({ choice: 'ABCD'[BANK.findIndex((b) => input.options!.includes(b.gold)) % 4], confidence: 0.9 })
            : JSON.stringify({ leaks: input.query === BANK[3]!.query, reason: 'a café order points at drinks' });
        return Promise.resolve({
          text,
          usage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 },
          finishReason: 'stop',
          model: request.model,
        });
      },
    };
    const judge = { model: 'openai:judge-model', providers: { openai: fake }, cacheDir: join(root, 'judge-cache') };
    const { report } = await runAudit(dir, { judge });
    expect(report.judge).toMatchObject({ model: 'openai:judge-model', items: 12, calls: 24, cached: 0 });
    expect(new Set(seen)).toEqual(new Set(['judge-model']));
    const m = report.rules.blind_solvers.measures?.find((x) => x.measure === 'judge');
    expect(m?.overall).toMatchObject({ n: 12, successes: 12, rate: 1 });
    expect(report.rules.blind_solvers.findings.some((f) => f.id === 'overall' && f.detail?.measure === 'judge')).toBe(true);
    const leak = report.rules.query_leakage.findings;
    expect(leak).toHaveLength(1);
    expect(leak[0]).toMatchObject({ id: 'questions.jsonl:4 (u0-p003)', detail: { check: 'judge' } });
    const again = await runAudit(dir, { judge });
    expect(again.report.judge).toMatchObject({ calls: 0, cached: 24 });
  });

  it('exits 2 with one line on bad input, never a stack trace, and names the threshold it rejects', async () => {
    const missing = await runAuditCli([join(root, 'nothing-here')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: .*no such file or directory\n$/);
    const dir = await dataset('bad-flags');
    const badRule = await runAuditCli([dir, '--fail-on', 'length']);
    expect(badRule.code).toBe(2);
    expect(badRule.stderr).toContain('unknown rule `length`');
    expect(() => parseThresholds(['margin=2'])).toThrow(/`threshold margin`/);
    expect(() => parseThresholds(['slack=1'])).toThrow(/known: chance, confidence, margin/);
    expect(parseThresholds(['margin=0.1', 'min_slice=30'])).toMatchObject({ margin: 0.1, min_slice: 30, chance: 0.25 });
  });
});
