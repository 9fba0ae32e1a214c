/**
 * Summarises a V8 `.cpuprofile` (as written by `node --cpu-prof`): self time
 * per function and per origin (server module, npm package, node internals,
 * GC, idle), so a benchmark can say where the server's main thread went.
 *
 * Sample timestamps are CLOCK_MONOTONIC microseconds, the clock of
 * `process.hrtime` in any process on the machine, so a caller can restrict the
 * summary to a window it measured (e.g. the benchmark's peak phase).
 *
 * Usage: node --import tsx bench/ingest/cpu-profile.ts <file.cpuprofile> [top]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

type ProfileNode = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
};
type CpuProfile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

export type SelfTime = { name: string; where: string; origin: string; selfMs: number; share: number };
export type ProfileSummary = {
  /** Sampled time (inside the window, when one was given). */
  totalMs: number;
  /** Time not idle (program, GC and JavaScript). */
  busyMs: number;
  functions: SelfTime[];
  origins: { origin: string; selfMs: number; share: number }[];
};

/** Where a frame comes from: a server/protocol module, an npm package, node internals or a V8 pseudo-frame. */
export function originOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return `npm:${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith('node:')) return url;
  const server = /\/(apps|packages)\/([^/]+)\/src\/(.*)$/.exec(url);
  if (server) return `${server[1]}/${server[2]}/src/${server[3]}`;
  return url;
}

/** A time window in CLOCK_MONOTONIC microseconds: `Number(process.hrtime.bigint() / 1000n)`. */
export type ProfileWindow = { fromUs: number; toUs: number };

/** Monotonic clock now, in the unit of profile timestamps. */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Non-idle sampled time inside the window: tells the main thread's profile from helper threads'. */
export function busyMs(file: string, window?: ProfileWindow): number {
  return summariseCpuProfile(file, 0, window).busyMs;
}

/** Self time per function and per origin, largest first (idle excluded from the lists). */
export function summariseCpuProfile(file: string, top = 25, window?: ProfileWindow): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const functions = new Map<string, SelfTime>();
  const origins = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    const origin = originOf(url, name);
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const entry = functions.get(key) ?? { name, where, origin, selfMs: 0, share: 0 };
    entry.selfMs += us / 1000;
    functions.set(key, entry);
    origins.set(origin, (origins.get(origin) ?? 0) + us / 1000);
  }
  const totalMs = totalUs / 1000;
  const busyMs = (totalUs - idleUs) / 1000;
  const list = [...functions.values()]
    .map((f) => ({ ...f, share: busyMs > 0 ? f.selfMs / busyMs : 0 }))
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, top);
  const originList = [...origins.entries()]
    .map(([origin, selfMs]) => ({ origin, selfMs, share: busyMs > 0 ? selfMs / busyMs : 0 }))
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, top);
  return { totalMs, busyMs, functions: list, origins: originList };
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const src = /\/((?:apps|packages)\/.*)$/.exec(url);
  return src ? src[1]! : url.replace(/^file:\/\//, '');
}

/** Prints a summary as two small tables (shares are of non-idle time). */
export function printCpuProfileSummary(
  file: string,
  top = 25,
  print: (line: string) => void = console.log,
  window?: ProfileWindow,
): void {
  const s = summariseCpuProfile(file, top, window);
  print(
    `  ${path.basename(file)}${window ? ' (measured window only)' : ''}: ${(s.totalMs / 1000).toFixed(1)} s sampled, ` +
      `JS thread busy ${(s.busyMs / 1000).toFixed(1)} s (${pct(s.busyMs / s.totalMs)})`,
  );
  print('  self time by origin (share of busy time):');
  for (const o of s.origins.slice(0, 15)) print(`    ${pct(o.share).padStart(6)}  ${(o.selfMs / 1000).toFixed(2).padStart(7)} s  ${o.origin}`);
  print('  top functions by self time:');
  for (const f of s.functions) print(`    ${pct(f.share).padStart(6)}  ${(f.selfMs / 1000).toFixed(2).padStart(7)} s  ${f.name}  ${f.where}`);
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx bench/ingest/cpu-profile.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  printCpuProfileSummary(file, Number(process.argv[3] ?? 25));
}
