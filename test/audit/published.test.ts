import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditReport, PUBLISHED_COLUMNS, readAuditDataset, runAudit } from '../../pipeline/audit/index.js';
import { BANK } from './fixtures.js';
import { runAuditCli } from './run-cli.js';

const REFERENCE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'reference', 'personamem-v2');
const PERSONA1 = 'raw_data/raw_data_250815_143643_persona1.json';

describe.skipIf(!existsSync(REFERENCE))('audit of the published PersonaMem-v2 files (shared/reference)', () => {
  it('reads the raw persona files as questions, with their quirks, and ids that point back at each element', async () => {
    const ds = await readAuditDataset(REFERENCE);
    expect(ds.format).toBe('personamem-v2');
    expect(ds.layout).toBe('raw');
    // 40 + 35 elements carry a user_query; the other 88 are statement and forget sessions.
    expect(ds.items).toHaveLength(75);
    expect(ds.notes.join(' ')).toContain('88 raw element(s) carry no user_query');
    const quirk = ds.items.find((i) => i.id === `${PERSONA1}#conversations.professional_email[1]`);
    expect(quirk?.incorrect_answers).toHaveLength(3);
    expect(quirk?.notes).toContain('incorrect_answers had 4 entries; 1 null or empty dropped');
    expect(quirk?.pref_type).toBe('ask_to_forget');
    expect(ds.users.map((u) => u.persona_id).sort()).toEqual(['1', '3']);
    expect(ds.histories).toEqual([expect.objectContaining({ persona_id: '3', provenance: 'known', segments: [] })]);
    expect(ds.skipped).toEqual([expect.objectContaining({ ref: 'example_debug.csv' })]);
  });

  it('finds the length bias: the gold is the uniquely longest option in 42 of 75 questions', async () => {
    const { report } = await runAudit(REFERENCE);
    expect(() => AuditReport.parse(report)).not.toThrow();
    expect(report.lengths.gold_uniquely_longest).toBeCloseTo(42 / 75, 4);
    expect(report.lengths.gold_rank).toEqual([46, 15, 12, 2]);
    const bias = report.rules.option_bias;
    expect(bias.status).toBe('fail');
    const share = bias.findings.find((f) => f.detail?.measure === 'uniquely_longest_share');
    expect(share?.message).toContain('56.0% of 75 questions');
    // Among the 71 questions where one option is uniquely longest (4 have a tie), it is the gold 42 times.
    const longest = bias.measures!.find((m) => m.measure === 'longest')!;
    expect(longest.overall).toMatchObject({ n: 71, successes: 42 });
    expect(longest.overall.ci[0]).toBeGreaterThan(0.25);
    // And the gold is almost never the shortest: a solver can rule the shortest option out.
    const shortest = bias.findings.find((f) => f.id === 'overall' && f.detail?.measure === 'shortest');
    expect(shortest?.detail?.direction).toBe('below');

    // The example ids point at elements whose gold really is the longest option.
    const raw = JSON.parse(await readFile(join(REFERENCE, PERSONA1), 'utf8')) as Record<
      string,
      { conversations: Record<string, unknown[]> }
    >;
    for (const id of share!.examples!.filter((e) => e.startsWith(PERSONA1))) {
      const [, type, index] = /#conversations\.(\w+)\[(\d+)\]$/.exec(id)!;
      const el = raw['1']!.conversations[type!]![Number(index)] as { correct_answer: string; incorrect_answers: Array<string | null> };
      for (const wrong of el.incorrect_answers) if (wrong) expect(el.correct_answer.length).toBeGreaterThan(wrong.length);
    }
    const blind = report.rules.blind_solvers.findings.find((f) => f.id === 'overall' && f.detail?.measure === 'longest');
    expect(blind?.detail?.rate).toBeGreaterThan(0.5);
  });

  it('flags the synthetic secrets that could be real and leaves Luhn-failing cards alone', async () => {
    const { report } = await runAudit(REFERENCE);
    const real = report.rules.sensitive_info.findings.filter((f) => f.detail?.check === 'could_be_real');
    expect(real.map((f) => f.id).sort()).toEqual([
      `${PERSONA1}#sensitive_information.email_address`,
      `${PERSONA1}#sensitive_information.phone_number`,
      `${PERSONA1}#sensitive_information.ssn`,
      'raw_data/raw_data_250815_143643_persona3.json#sensitive_information.email_address',
      'raw_data/raw_data_250815_143643_persona3.json#sensitive_information.phone_number',
      'raw_data/raw_data_250815_143643_persona3.json#sensitive_information.social_security_number',
    ]);
    expect(report.rules.split_contamination.status).toBe('skipped');
    expect(report.rules.filler_conflicts.status).toBe('pass');
  });

  it('exits 1 with --fail-on option_bias and prints one JSON report with --json', async () => {
    const cli = await runAuditCli([REFERENCE, '--fail-on', 'option_bias', '--json']);
    expect(cli.code).toBe(1);
    const report = AuditReport.parse(JSON.parse(cli.stdout));
    expect(report.gate).toEqual({ fail_on: ['option_bias'], failed: ['option_bias'], exit_code: 1 });
  });
});

/** One CSV field, always quoted (quotes doubled), as the csv module writes them. */
const field = (v: string | number) => `"${String(v).replace(/"/g, '""')}"`;

describe('audit of the published table layout (benchmark/text CSVs)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'audit-published-'));
    const pid = 7;
    const history = `chat_history_32k/chat_history_persona${pid}.json`;
    const rowOf = (k: number, query = BANK[k]!.query) => {
      const b = BANK[k]!;
      const values: Record<(typeof PUBLISHED_COLUMNS)[number], string | number> = {
        persona_id: pid,
        chat_history_32k_link: history,
        chat_history_128k_link: '',
        raw_persona_file: `raw_data/raw_data_persona${pid}.json`,
        short_persona: 'A harbour pilot who restores boats and cooks for a big family',
        expanded_persona: JSON.stringify({ name: 'Tomas Reyes', age: 41 }, null, 2),
        user_query: `{'role': 'user', 'content': ${JSON.stringify(query)}}`,
        correct_answer: b.gold,
        incorrect_answers: JSON.stringify(b.distractors),
        topic_query: b.topic,
        preference: b.statement,
        topic_preference: b.topic,
        conversation_scenario: 'chat_message',
        pref_type: 'neutral_preferences',
        related_conversation_snippet: JSON.stringify([
          { role: 'user', content: b.evidence[0] },
          { role: 'assistant', content: b.evidence[1] },
        ]),
        who: b.who,
        updated: 'False',
        prev_pref: '',
        sensitive_info: 'False',
        total_tokens_in_chat_history_32k: 1200,
        total_tokens_in_chat_history_128k: '',
        distance_from_related_snippet_to_query_32k: 600,
        distance_from_related_snippet_to_query_128k: '',
        num_persona_relevant_tokens_32k: 1000,
        num_persona_irrelevant_tokens_32k: 200,
        num_persona_relevant_tokens_128k: '',
        num_persona_irrelevant_tokens_128k: '',
      };
      return PUBLISHED_COLUMNS.map((c) => field(values[c])).join(',');
    };
    const csv = (rows: string[]) => [PUBLISHED_COLUMNS.join(','), ...rows].join('\r\n') + '\r\n';
    await mkdir(join(dir, 'benchmark', 'text'), { recursive: true });
    await writeFile(join(dir, 'benchmark', 'text', 'train.csv'), csv([0, 1, 2, 3, 4, 5].map((k) => rowOf(k))));
    // Val row 5 asks the first train question again, nearly word for word.
    await writeFile(
      join(dir, 'benchmark', 'text', 'val.csv'),
      csv([...[6, 7, 8, 9].map((k) => rowOf(k)), rowOf(0, 'What could I do this weekend to unwind at home?')]),
    );
    await writeFile(join(dir, 'benchmark', 'text', 'benchmark.csv'), csv([10, 11].map((k) => rowOf(k))));
    const elements = BANK.map((b) => ({
      preference: b.statement,
      pref_type: 'neutral_preferences',
      who: 'self',
      updated: false,
      topic_preference: b.topic,
      conversations: [
        { role: 'user', content: b.evidence[0] },
        { role: 'assistant', content: b.evidence[1] },
      ],
    }));
    await mkdir(join(dir, 'raw_data'), { recursive: true });
    await writeFile(
      join(dir, 'raw_data', `raw_data_persona${pid}.json`),
      JSON.stringify({
        [pid]: {
          short_persona: 'A harbour pilot who restores boats and cooks for a big family',
          neutral_preferences: BANK.map((b) => b.statement),
          sensitive_information: { phone_number: '+1 (503) 555-0118', email_address: 'tomas.reyes@example.com' },
          preference_updates: {},
          conversations: { chat_message: elements },
        },
      }),
    );
    // The history: the user's sessions, and one stretch from elsewhere that talks about boat restoration.
    const chat = [{ role: 'system', content: 'You are an AI assistant helping a user with the following persona: ...' }];
    for (const e of elements.slice(0, 6)) chat.push(...e.conversations);
    chat.push(
      { role: 'user', content: 'Which varnish lasts longest on old wooden sailboats that I want to restore?' },
      { role: 'assistant', content: 'Traditional spar varnish with UV filters, built up in eight thin coats and sanded between each.' },
    );
    for (const e of elements.slice(6)) chat.push(...e.conversations);
    await mkdir(join(dir, 'chat_history_32k'), { recursive: true });
    await writeFile(join(dir, history), JSON.stringify({ metadata: { persona_id: pid, final_token_count: 1200 }, chat_history: chat }));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads every split with row ids, Python-literal queries and JSON answer lists', async () => {
    const ds = await readAuditDataset(dir, 'personamem-v2');
    expect(ds.layout).toBe('published');
    expect(ds.items).toHaveLength(13);
    expect(ds.items.filter((i) => i.split === 'val')).toHaveLength(5);
    const row = ds.items.find((i) => i.id === 'benchmark/text/val.csv:row 2')!;
    expect(row.user_query).toBe(BANK[7]!.query);
    expect(row.incorrect_answers).toEqual(BANK[7]!.distractors);
    expect(row.evidence?.[0]?.content).toBe(BANK[7]!.evidence[0]);
    expect(ds.items.find((i) => i.id === 'benchmark/text/benchmark.csv:row 2')?.user_query).toBe(BANK[11]!.query);
  });

  it('finds the near-duplicate query across train and val, and the foreign stretch in the history', async () => {
    const { report } = await runAudit(dir);
    expect(report.input.splits).toEqual({ train: 6, val: 5, benchmark: 2 });
    const dup = report.rules.split_contamination.findings;
    expect(dup).toHaveLength(1);
    expect(dup[0]).toMatchObject({ id: 'benchmark/text/train.csv:row 1', examples: ['benchmark/text/val.csv:row 5'] });
    expect(dup[0]!.detail?.similarity).toBeGreaterThanOrEqual(0.8);
    const conflict = report.rules.filler_conflicts.findings;
    expect(conflict).toHaveLength(1);
    expect(conflict[0]).toMatchObject({
      id: 'chat_history_32k/chat_history_persona7.json#messages[13..14]',
      detail: { preference: 'Restores old wooden sailboats' },
    });
    expect(report.rules.sensitive_info.status).toBe('pass');
    const cli = await runAuditCli([dir, '--fail-on', 'split_contamination']);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('benchmark/text/train.csv:row 1');
  });
});
