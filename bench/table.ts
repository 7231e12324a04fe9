/**
 * The one table `npm run bench` prints: each figure beside the baseline measured in the same run, so a
 * number is read against what this machine can do at all, not against a figure from another machine.
 */
export interface Row {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  baselineName?: string;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** Markdown, so the same text goes to the terminal, README.md and docs/bench.md. */
export function formatTable(rows: readonly Row[]): string {
  const lines = ['| measurement | value | baseline (same run) | ratio |', '|---|---:|---|---:|'];
  for (const r of rows) {
    const base = r.baseline === undefined ? '' : `${fmt(r.baseline)} ${r.unit} (${r.baselineName ?? 'baseline'})`;
    const ratio = r.baseline === undefined || r.baseline === 0 ? '' : `${(r.value / r.baseline).toFixed(2)}x`;
    lines.push(`| ${r.name} | ${fmt(r.value)} ${r.unit} | ${base} | ${ratio} |`);
  }
  return lines.join('\n');
}

/** p-th percentile (0..100) of samples, nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
