import { readFileSync } from 'node:fs';

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

export const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

export const geomean = (values: readonly number[]): number =>
  values.length === 0 ? Number.NaN : Math.exp(sum(values.map((v) => Math.log(v))) / values.length);

/** Milliseconds with a sensible precision. */
export const ms = (value: number): string =>
  Number.isNaN(value) ? '–' : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);

/** CPU time (user + system) of another process, ms, from /proc (Linux); NaN elsewhere. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

/** CPU time of this process (engine threads included when chDB runs in it), ms. */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** The machine's CPU pressure (share of time some task waited for a CPU, last 10 s), or undefined. */
export function cpuPressure(): string | undefined {
  try {
    const line = readFileSync('/proc/pressure/cpu', 'utf8').split('\n')[0] ?? '';
    const avg10 = /avg10=([\d.]+)/.exec(line)?.[1];
    const avg60 = /avg60=([\d.]+)/.exec(line)?.[1];
    return avg10 === undefined ? undefined : `cpu pressure avg10 ${avg10} %, avg60 ${avg60} %`;
  } catch {
    return undefined;
  }
}

/** Formats rows as an aligned text table (right-aligned except the first column). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
