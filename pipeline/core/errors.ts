/**
 * Typed errors. Every error the tool raises on purpose is a `PersonagenError` with a `code`, so
 * the CLI's one error boundary can map it to a message and an exit code.
 */
export type ErrorCode = 'bad_config' | 'bad_input' | 'bad_dataset' | 'not_found' | 'llm_error' | 'invalid_output' | 'aborted' | 'internal';

export class PersonagenError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PersonagenError';
    this.code = code;
  }
}

/** Bad input from a file: names the file, the line (1-based, when known) and the field. */
export class InputError extends PersonagenError {
  readonly file: string;
  readonly line: number | undefined;
  readonly field: string | undefined;
  constructor(
    where: { file: string; line?: number | undefined; field?: string | undefined },
    message: string,
    options?: { cause?: unknown },
  ) {
    const loc = [where.file, where.line === undefined ? undefined : `line ${where.line}`].filter(Boolean).join(':');
    const field = where.field ? ` field \`${where.field}\`` : '';
    super('bad_input', `${loc}${field}: ${message}`, options);
    this.name = 'InputError';
    this.file = where.file;
    this.line = where.line;
    this.field = where.field;
  }
}
