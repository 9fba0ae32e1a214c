/**
 * A benchmark setting from the environment: a positive number, or `fallback`
 * when unset or empty; anything else stops the run with the variable's name.
 *
 * @example
 * const seconds = positiveFromEnv('BENCH_SECONDS', 20);
 */
export function positiveFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`);
  return value;
}
