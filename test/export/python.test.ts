import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  PUBLISHED_COLUMNS,
  type PublishedRow,
  parsePythonLiteral,
  pythonStr,
  pythonUserQuery,
  toCsv,
} from '../../pipeline/export/index.js';

/** Queries that break naive quoting: quotes of both kinds, backslashes, control and non-Latin characters. */
const QUERIES = [
  'What should I cook for my sister tonight?',
  "Can you suggest a gift for my dad's 60th birthday?",
  'My coworker said "just wing it" about the talk. Should I?',
  `I'm torn: is it "too late" to start piano at 40?`,
  'Why does my script print C:\\Users\\ana\\notes instead of the file?',
  'Should the regex be \\d+ or [0-9]+? And what about \\n in it?',
  'Two lines:\nfirst one\tthen a tab\r\nand a Windows ending',
  'A trailing backslash \\',
  "Both \\' and \\\" escaped, plus a lone '",
  'Non-breaking\u00a0space, zero\u200bwidth, line\u2028separator and a bell \u0007',
  'Accents é ü ñ, Hebrew שלום, Devanagari नमस्ते, Japanese こんにちは, emoji 🧗',
];

function python(code: string, input: unknown): unknown {
  const r = spawnSync('python3', ['-c', code], { input: JSON.stringify(input), encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as unknown;
}

describe('Python literals of the published CSVs', () => {
  it("writes user_query cells that Python's ast.literal_eval reads back unchanged", () => {
    const cells = QUERIES.map(pythonUserQuery);
    const back = python(
      'import ast, json, sys\nprint(json.dumps([ast.literal_eval(c) for c in json.loads(sys.stdin.read())]))',
      cells,
    ) as Array<{ role: string; content: string }>;
    expect(back).toEqual(QUERIES.map((content) => ({ role: 'user', content })));
  });

  it("writes exactly what Python's repr writes", () => {
    const reprs = python(
      "import json, sys\nprint(json.dumps([repr({'role': 'user', 'content': q}) for q in json.loads(sys.stdin.read())]))",
      QUERIES,
    ) as string[];
    expect(QUERIES.map(pythonUserQuery)).toEqual(reprs);
  });

  it('reads the literals Python writes: dicts, lists, strings with escapes, numbers, True, False and None', () => {
    const values = [
      { role: 'user', content: QUERIES[8] },
      [QUERIES[4], QUERIES[6], null, true, false, 3, -2.5],
      { nested: { list: [QUERIES[9]] } },
    ];
    const reprs = python('import json, sys\nprint(json.dumps([repr(v) for v in json.loads(sys.stdin.read())]))', values) as string[];
    expect(reprs.map(parsePythonLiteral)).toEqual(values);
    expect(parsePythonLiteral("'adjacent ' \"strings\" r'\\raw'")).toBe('adjacent strings\\raw');
    expect(pythonStr("it's")).toBe(`"it's"`);
  });

  it('reads the dict literal of a published user_query, a trailing comma, and refuses an unclosed dict as a SyntaxError', () => {
    expect(parsePythonLiteral(`{'role': 'user', 'content': "It's my first time hosting \\u2014 what should I cook?"}`)).toEqual({
      role: 'user',
      content: "It's my first time hosting — what should I cook?",
    });
    expect(parsePythonLiteral(`['a', "b", None, True, 3.5,]`)).toEqual(['a', 'b', null, true, 3.5]);
    expect(() => parsePythonLiteral(`{'role': 'user'`)).toThrow(SyntaxError);
  });

  it("writes CSV that Python's csv module reads back cell for cell", () => {
    const rows = QUERIES.map((q, i) => {
      const row = Object.fromEntries(PUBLISHED_COLUMNS.map((c) => [c, ''])) as PublishedRow;
      row.persona_id = String(i);
      row.user_query = pythonUserQuery(q);
      row.correct_answer = q;
      row.incorrect_answers = JSON.stringify([q, `${q}, again`, 'a, b; "c"']);
      return row;
    });
    const read = python(
      'import csv, io, json, sys\nprint(json.dumps(list(csv.DictReader(io.StringIO(json.loads(sys.stdin.read()), newline="")))))',
      toCsv(rows),
    ) as Array<Record<string, string>>;
    expect(read).toEqual(rows);
  });
});
