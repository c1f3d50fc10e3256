/** Token target of a size label: `32k` → 32000, `1m` → 1000000, `20000` → 20000 (as published). */
export function sizeTokens(label: string): number {
  const m = /^(\d+)(k|m)?$/i.exec(label.trim());
  if (!m) throw new Error(`Expected a size like 32k, 128k or 1m, got \`${label}\``);
  const n = Number(m[1]);
  const unit = m[2]?.toLowerCase();
  return unit === 'k' ? n * 1000 : unit === 'm' ? n * 1_000_000 : n;
}

/** Sizes sorted by token target, smallest first, labels normalised to lower case. */
export function sortSizes(labels: readonly string[]): string[] {
  return [...new Set(labels.map((l) => l.trim().toLowerCase()))].sort((a, b) => sizeTokens(a) - sizeTokens(b));
}
