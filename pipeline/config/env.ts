/** The environment variables the tool reads, read in this one place. */
export interface Env {
  ANTHROPIC_API_KEY: string | undefined;
  OPENAI_API_KEY: string | undefined;
  OPENAI_BASE_URL: string | undefined;
  ANTHROPIC_BASE_URL: string | undefined;
  REDIS_URL: string | undefined;
}

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const get = (name: string): string | undefined => {
    const v = source[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  return {
    ANTHROPIC_API_KEY: get('ANTHROPIC_API_KEY'),
    OPENAI_API_KEY: get('OPENAI_API_KEY'),
    OPENAI_BASE_URL: get('OPENAI_BASE_URL'),
    ANTHROPIC_BASE_URL: get('ANTHROPIC_BASE_URL'),
    REDIS_URL: get('REDIS_URL'),
  };
}
