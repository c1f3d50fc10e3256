/**
 * Reads a Python literal (dict, list, tuple, str, int, float, True, False, None), the way the
 * published tables store `user_query` (`{'role': 'user', 'content': '...'}`) and, in older files,
 * lists of answers. Throws a SyntaxError naming the position on anything else.
 */
export function parsePythonLiteral(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at position ${i}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const str = (): string => {
    // Prefixes r/u/b are rare in these files; support r and u.
    let raw = false;
    while (text[i] === 'r' || text[i] === 'u' || text[i] === 'R' || text[i] === 'U') {
      if (text[i] === 'r' || text[i] === 'R') raw = true;
      i++;
    }
    const quote = text[i];
    if (quote !== "'" && quote !== '"') return fail('expected a string');
    const triple = text.startsWith(quote.repeat(3), i);
    const end = triple ? quote.repeat(3) : quote;
    i += end.length;
    let out = '';
    for (;;) {
      if (i >= text.length) return fail('unterminated string');
      if (text.startsWith(end, i)) {
        i += end.length;
        return out;
      }
      const ch = text[i]!;
      if (ch === '\\' && !raw) {
        const next = text[i + 1];
        i += 2;
        switch (next) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case '0':
            out += '\0';
            break;
          case 'x':
            out += String.fromCharCode(parseInt(text.slice(i, i + 2), 16));
            i += 2;
            break;
          case 'u':
            out += String.fromCharCode(parseInt(text.slice(i, i + 4), 16));
            i += 4;
            break;
          case 'U':
            out += String.fromCodePoint(parseInt(text.slice(i, i + 8), 16));
            i += 8;
            break;
          case '\n':
            break;
          case undefined:
            return fail('unterminated escape');
          default:
            out += next;
        }
        continue;
      }
      if (!triple && ch === '\n') return fail('newline in a string');
      out += ch;
      i++;
    }
  };
  const value = (): unknown => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        const key = value();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        obj[String(key)] = value();
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === '}') {
            i++;
            return obj;
          }
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail("expected ',' or '}'");
      }
    }
    if (ch === '[' || ch === '(') {
      const close = ch === '[' ? ']' : ')';
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === close) {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          ws();
          if (text[i] === close) {
            i++;
            return arr;
          }
          continue;
        }
        if (text[i] === close) {
          i++;
          return arr;
        }
        fail(`expected ',' or '${close}'`);
      }
    }
    if (ch === "'" || ch === '"' || ((ch === 'r' || ch === 'u') && (text[i + 1] === "'" || text[i + 1] === '"'))) {
      let s = str();
      // Adjacent string literals concatenate.
      for (;;) {
        const save = i;
        ws();
        if (text[i] === "'" || text[i] === '"') s += str();
        else {
          i = save;
          return s;
        }
      }
    }
    for (const [word, v] of [
      ['True', true],
      ['False', false],
      ['None', null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const num = /^[-+]?(\d+\.?\d*(e[-+]?\d+)?|\.\d+(e[-+]?\d+)?)/i.exec(text.slice(i));
    if (num) {
      i += num[0].length;
      return Number(num[0]);
    }
    return fail('unexpected character');
  };
  const result = value();
  ws();
  if (i < text.length) fail('trailing text');
  return result;
}

/** JSON first (what new files hold), then a Python literal (what older ones hold). */
export function parseJsonOrPython(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return parsePythonLiteral(text);
  }
}
