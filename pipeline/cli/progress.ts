/** A one-line progress bar on stderr, drawn only on a terminal. */
export function progressBar(enabled: boolean): {
  update: (label: string, done: number, total: number, extra?: string) => void;
  end: () => void;
} {
  const tty = enabled && process.stderr.isTTY;
  let last = 0;
  return {
    update(label, done, total, extra = '') {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const width = 28;
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${extra}\u001b[K`);
    },
    end() {
      if (tty) process.stderr.write('\n');
    },
  };
}
