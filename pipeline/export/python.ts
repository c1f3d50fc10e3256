/**
 * Python literals, as the published CSVs use them: `user_query` holds `repr()` of a dict, and
 * evaluation code reads it back with `ast.literal_eval`. We write exactly what CPython's `repr`
 * writes, and read the subset of literals those files contain (dicts, lists, tuples, strings,
 * numbers, True/False/None).
 */

// Characters CPython's str.isprintable() rejects: other (Cc, Cf, Cs, Co, Cn), line and paragraph
// separators, and every space separator except the plain space.
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]|(?! )\p{Zs}/u;

function escapeCodePoint(cp: number): string {
  if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\U${cp.toString(16).padStart(8, '0')}`;
}

/** `repr(s)` of a Python 3 str. */
export function pythonStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (NON_PRINTABLE.test(ch)) out += escapeCodePoint(ch.codePointAt(0)!);
    else out += ch;
  }
  return out + quote;
}

/** The published `user_query` cell: `repr({'role': 'user', 'content': content})`. */
export function pythonUserQuery(content: string): string {
  return `{'role': 'user', 'content': ${pythonStr(content)}}`;
}

/** `str(bool)`: the published `updated` and `sensitive_info` cells. */
export function pythonBool(value: boolean): 'True' | 'False' {
  return value ? 'True' : 'False';
}

export type PythonValue = string | number | boolean | null | PythonValue[] | { [key: string]: PythonValue };

/** A literal that `ast.literal_eval` would refuse; a SyntaxError, as Python raises. */
export class PythonLiteralError extends SyntaxError {
  constructor(message: string, at: number) {
    super(`${message} at character ${at}`);
    this.name = 'PythonLiteralError';
  }
}

/** Reads a Python literal like `ast.literal_eval` does, for the types the published data uses. */
export function parsePythonLiteral(text: string): PythonValue {
  let i = 0;
  const fail = (message: string): never => {
    throw new PythonLiteralError(message, i);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };

  const stringBody = (quote: string, triple: boolean, raw: boolean): string => {
    let out = '';
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const ch = text[i]!;
      if (triple ? text.startsWith(quote.repeat(3), i) : ch === quote) {
        i += triple ? 3 : 1;
        return out;
      }
      if (!triple && ch === '\n') fail('newline in a single-quoted string');
      if (ch !== '\\') {
        out += ch;
        i++;
        continue;
      }
      const next = text[i + 1];
      if (next === undefined) fail('unterminated escape');
      if (raw) {
        out += ch + next;
        i += 2;
        continue;
      }
      i += 2;
      const simple: Record<string, string> = {
        '\\': '\\',
        "'": "'",
        '"': '"',
        n: '\n',
        r: '\r',
        t: '\t',
        a: '\u0007',
        b: '\b',
        f: '\f',
        v: '\v',
        '\n': '',
      };
      if (next! in simple) out += simple[next!];
      else if (next === 'x' || next === 'u' || next === 'U') {
        const len = next === 'x' ? 2 : next === 'u' ? 4 : 8;
        const hex = text.slice(i, i + len);
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) fail(`bad \\${next} escape`);
        out += String.fromCodePoint(parseInt(hex, 16));
        i += len;
      } else if (/[0-7]/.test(next!)) {
        let oct = next!;
        while (oct.length < 3 && /[0-7]/.test(text[i] ?? '')) oct += text[i++];
        out += String.fromCodePoint(parseInt(oct, 8));
      } else out += `\\${next}`; // Python keeps unknown escapes as written
    }
  };

  const stringLiteral = (): string => {
    let out = '';
    let any = false;
    // Adjacent literals concatenate, as in Python.
    for (;;) {
      ws();
      const m = /^([rRuU]?)(['"])/.exec(text.slice(i, i + 2));
      if (!m) break;
      const raw = m[1]!.toLowerCase() === 'r';
      i += m[1]!.length;
      const quote = m[2]!;
      const triple = text.startsWith(quote.repeat(3), i);
      i += triple ? 3 : 1;
      out += stringBody(quote, triple, raw);
      any = true;
    }
    if (!any) fail('expected a string');
    return out;
  };

  const sequence = (close: string): PythonValue[] => {
    const items: PythonValue[] = [];
    ws();
    while (text[i] !== close) {
      items.push(value());
      ws();
      if (text[i] === ',') {
        i++;
        ws();
      } else if (text[i] !== close) fail(`expected ',' or '${close}'`);
    }
    i++;
    return items;
  };

  const value = (): PythonValue => {
    ws();
    const ch = text[i];
    if (ch === undefined) return fail('unexpected end');
    if (ch === '{') {
      i++;
      const obj: Record<string, PythonValue> = {};
      ws();
      while (text[i] !== '}') {
        const key = value();
        if (typeof key !== 'string' && typeof key !== 'number') fail('dict keys must be strings or numbers');
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        obj[String(key)] = value();
        ws();
        if (text[i] === ',') {
          i++;
          ws();
        } else if (text[i] !== '}') fail("expected ',' or '}'");
      }
      i++;
      return obj;
    }
    if (ch === '[') {
      i++;
      return sequence(']');
    }
    if (ch === '(') {
      i++;
      return sequence(')');
    }
    if (/[rRuU'"]/.test(ch) && /^[rRuU]?['"]/.test(text.slice(i, i + 2))) return stringLiteral();
    const word = /^(True|False|None)\b/.exec(text.slice(i));
    if (word) {
      i += word[1]!.length;
      return word[1] === 'True' ? true : word[1] === 'False' ? false : null;
    }
    const num = /^[-+]?(\d[\d_]*)(\.\d*)?([eE][-+]?\d+)?/.exec(text.slice(i));
    if (num) {
      i += num[0].length;
      return Number(num[0].replace(/_/g, ''));
    }
    return fail(`unexpected character ${JSON.stringify(ch)}`);
  };

  const result = value();
  ws();
  if (i < text.length) fail('trailing characters');
  return result;
}

/** A cell that evaluation code reads "as JSON, else as a Python literal". */
export function parseJsonOrPython(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return parsePythonLiteral(text);
  }
}
