/**
 * Figures for the benchmarks' reports, shared so every bench reads its
 * percentiles the same way.
 */

/**
 * The nearest-rank percentile of ascending `sorted` values, `p` from 0 to 1 (1 is the maximum).
 *
 * @example
 * percentile([10, 20, 30, 40], 0.5); // 20
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** An ascending copy of `values`, for {@link percentile}. */
export const ascending = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);

/** A number with thousands separators and a fixed number of decimals: `fmt(48036)` → "48,036". */
export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
