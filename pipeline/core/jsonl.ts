import type { z } from 'zod';
import { InputError } from './errors.js';

export interface JsonlLineProblem {
  line: number;
  field: string | undefined;
  message: string;
}

export interface JsonlParseResult<T> {
  records: Array<{ line: number; value: T }>;
  problems: JsonlLineProblem[];
}

/**
 * Parses JSONL text against a schema. Blank lines are allowed; every bad line is reported with its
 * 1-based number and the first failing field, never skipped silently.
 */
export function parseJsonl<S extends z.ZodType>(text: string, schema: S): JsonlParseResult<z.infer<S>> {
  const records: Array<{ line: number; value: z.infer<S> }> = [];
  const problems: JsonlLineProblem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]?.trim() ?? '';
    if (raw === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      problems.push({ line: i + 1, field: undefined, message: `invalid JSON (${(error as Error).message})` });
      continue;
    }
    const result = schema.safeParse(parsed);
    if (result.success) {
      records.push({ line: i + 1, value: result.data as z.infer<S> });
    } else {
      const issue = result.error.issues[0];
      problems.push({
        line: i + 1,
        field: issue && issue.path.length > 0 ? issue.path.join('.') : undefined,
        message: issue?.message ?? 'invalid record',
      });
    }
  }
  return { records, problems };
}

/** Throws an InputError for the first problem (callers that want all problems use parseJsonl). */
export function parseJsonlStrict<S extends z.ZodType>(file: string, text: string, schema: S): Array<z.infer<S>> {
  const { records, problems } = parseJsonl(text, schema);
  const first = problems[0];
  if (first) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more bad lines)` : '';
    throw new InputError({ file, line: first.line, field: first.field }, first.message + more);
  }
  return records.map((r) => r.value);
}

/** One JSON.stringify per line. */
export function toJsonl(records: readonly unknown[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length > 0 ? '\n' : '');
}

/** Names the field of a zod error the way users read it: `a.b[2].c`. */
export function describeZodIssue(error: z.ZodError): { field: string | undefined; message: string } {
  const issue = error.issues[0];
  if (!issue) return { field: undefined, message: 'invalid value' };
  const field = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
  return { field: field === '' ? undefined : field, message: issue.message };
}
