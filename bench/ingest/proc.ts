/**
 * Linux /proc readings for the benchmark: resident memory and CPU time of a
 * process, per thread name (the server's JavaScript thread is `node`; libuv's
 * pool, where chDB runs queries, is `libuv-worker`; V8's helpers `V8 Worker`…).
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** VmRSS of a process in MiB, or undefined when it is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** user + system CPU seconds of one /proc stat line (the comm may contain spaces and parentheses). */
function cpuSecondsOf(stat: string): { comm: string; seconds: number } {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(open + 1, close);
  const fields = stat.slice(close + 2).split(' ');
  // After the comm: state(0) … utime(11) stime(12).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { comm, seconds: ticks / TICKS_PER_SECOND };
}

/** CPU seconds per thread id, with each thread's name. */
export type ThreadCpu = Map<number, { comm: string; seconds: number }>;

export function threadCpu(pid: number): ThreadCpu {
  const out: ThreadCpu = new Map();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      out.set(Number(tid), cpuSecondsOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
    } catch {
      // the thread ended between readdir and read
    }
  }
  return out;
}

/**
 * CPU used between two snapshots, in cores (CPU seconds / wall seconds), by
 * thread name, largest first. The main thread is reported as `main (JS)`.
 */
export function coresByThreadName(pid: number, before: ThreadCpu, after: ThreadCpu, wallSeconds: number): { name: string; cores: number; threads: number }[] {
  const groups = new Map<string, { cores: number; threads: number }>();
  for (const [tid, now] of after) {
    const delta = now.seconds - (before.get(tid)?.seconds ?? 0);
    const name = tid === pid ? 'main (JS)' : now.comm;
    const group = groups.get(name) ?? { cores: 0, threads: 0 };
    group.cores += delta / wallSeconds;
    if (delta > 0) group.threads++;
    groups.set(name, group);
  }
  return [...groups.entries()].map(([name, g]) => ({ name, ...g })).filter((g) => g.cores > 0.005).sort((a, b) => b.cores - a.cores);
}

export function totalCores(before: ThreadCpu, after: ThreadCpu, wallSeconds: number): number {
  let seconds = 0;
  for (const [tid, now] of after) seconds += now.seconds - (before.get(tid)?.seconds ?? 0);
  return seconds / wallSeconds;
}

/** Busy CPU seconds of the whole machine so far (all processes; /proc/stat minus idle and iowait). */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [, ...fields] = line.trim().split(/\s+/);
    const ticks = fields.slice(0, 8).map(Number);
    const busy = ticks.reduce((a, b) => a + b, 0) - (ticks[3] ?? 0) - (ticks[4] ?? 0);
    return busy / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}
