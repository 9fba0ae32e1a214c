/**
 * Query benchmark (DESIGN.md §13): the standard queries on generated events,
 * through the HTTP API versus the same SQL directly on the embedded engine,
 * measured in one run on one machine.
 *
 *   npm run bench:query
 *   BENCH_EVENTS=1000000 BENCH_PROJECTS=20 npm run bench:query   # quicker
 *
 * Steps: start the server once on a fresh data directory and create the
 * projects through the operator API (real ids and admin keys); stop it;
 * generate events and users inside chDB (INSERT … SELECT FROM numbers_mt);
 * then time every query through the API and directly on chDB in this process.
 *
 * chDB allows one process per data directory, so the direct side cannot use
 * the server's directory while the server runs. Two ways round it
 * (BENCH_MODE):
 * - `interleaved` (default): the direct side opens a copy of the engine's
 *   directory (same parts, byte for byte), so the server can stay up and each
 *   query alternates API run / direct run. While the direct side runs, the
 *   server process is paused (SIGSTOP, then SIGCONT), so its background work
 *   does not slow the direct run. On a shared machine whose load drifts, this
 *   keeps both sides under the same conditions.
 * - `sequential`: server up, all API runs; server down, all direct runs on the
 *   same directory; repeated BENCH_PASSES times.
 * Each round also runs the server's own query path (runner, validator,
 * tenant reader) in this process, timed step by step, to show where the API's
 * extra time goes.
 *
 * Settings (environment): BENCH_EVENTS (10 000 000), BENCH_PROJECTS (100),
 * BENCH_USERS (100 000), BENCH_MEASURED_USERS (20 % of the users),
 * BENCH_MEASURED_SHARE (0.1: share of the events in the measured project),
 * BENCH_DAYS (30), BENCH_MODE (interleaved | sequential), BENCH_RUNS (timed
 * rounds after one warm-up round: 7 interleaved, 5 per pass sequential),
 * BENCH_PASSES (sequential only: 2), BENCH_COPIES (10; see generate.ts),
 * BENCH_DIAG_NO_SYNC (1: also time the API on a server without the background
 * users sync), BENCH_DIR (parent of the data directory; the system temp
 * directory), BENCH_KEEP (1: keep the data directory).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Session as ChdbSession } from 'chdb';
import {
  engineArgs,
  loadChdb,
  openServerPath,
  parseRows,
  sessionOpenClose,
  timedQuery,
  TIMEOUT_MS,
  type ChdbModule,
  type PathTiming,
} from './engine.ts';
import { dataStart, generate, type DataPlan, type GenerationReport } from './generate.ts';
import { EVENTS_TABLE, explicitScope, STANDARD_QUERIES, tenantScope, VIEWS } from './queries.ts';
import { apiQuery, closeHttp, createProjects, startServer, type Project, type RunningServer } from './server.ts';
import { cpuPressure, geomean, median, ms, ownCpuMs, processCpuMs, sum, table } from './stats.ts';

const envNumber = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return value;
};

const mode = process.env.BENCH_MODE ?? 'interleaved';
if (mode !== 'interleaved' && mode !== 'sequential') throw new Error('BENCH_MODE must be interleaved or sequential');
const users = Math.round(envNumber('BENCH_USERS', 100_000));
const settings = {
  mode: mode as 'interleaved' | 'sequential',
  events: Math.round(envNumber('BENCH_EVENTS', 10_000_000)),
  projects: Math.round(envNumber('BENCH_PROJECTS', 100)),
  users,
  measuredUsers: Math.round(envNumber('BENCH_MEASURED_USERS', Math.round(users * 0.2))),
  measuredShare: envNumber('BENCH_MEASURED_SHARE', 0.1),
  days: Math.max(1, Math.round(envNumber('BENCH_DAYS', 30))),
  runs: Math.max(1, Math.round(envNumber('BENCH_RUNS', mode === 'interleaved' ? 7 : 5))),
  passes: mode === 'interleaved' ? 1 : Math.max(1, Math.round(envNumber('BENCH_PASSES', 2))),
  copies: Math.max(1, Math.round(envNumber('BENCH_COPIES', 10))),
  diagNoSync: process.env.BENCH_DIAG_NO_SYNC === '1',
  keep: process.env.BENCH_KEEP === '1',
  parent: process.env.BENCH_DIR ?? os.tmpdir(),
};
if (settings.projects < 2) throw new Error('BENCH_PROJECTS must be at least 2');
if (settings.measuredUsers > settings.users) throw new Error('BENCH_MEASURED_USERS must not exceed BENCH_USERS');
if (settings.measuredShare <= 0 || settings.measuredShare >= 1) throw new Error('BENCH_MEASURED_SHARE must be in (0, 1)');

const BRANCH = 'main';
const FLOOR = 'floor: numbers(1)';
const FLOOR_SQL = 'SELECT number FROM numbers(1)';
/** Idle server CPU is sampled for this long after the timed rounds. */
const IDLE_SAMPLE_MS = 3000;

const say = (line = '') => process.stdout.write(`${line}\n`);

type Sample = { wallMs: number; engineMs: number; cpuMs: number };

/** Everything measured for one query. */
type QuerySamples = {
  api: Sample[];
  direct: Sample[];
  /** Diagnostic: API on a server without the background users sync, and the direct runs interleaved with it. */
  apiNoSync: Sample[];
  directNoSync: Sample[];
  /** The events table instead of the view (events-only queries). */
  noView: number[];
  /** Tenant SQL on a reused session opened with the tenant's engine arguments (table filters). */
  tenantSession: number[];
  /** The server's query path in-process, per dependency call. */
  path: PathTiming[];
  /** JSON.parse of the rows (the reader's step after the query). */
  parse: number[];
  /** Canonical JSON of the first result of each way of running the query, to check that they agree. */
  results: Map<string, string>;
};

type Measured = { project: Project; tenancy: { projectId: string; branchId: string }; params: Record<string, unknown> };

const QUERY_NAMES = [...STANDARD_QUERIES.map((q) => q.name), FLOOR];
const standard = (name: string) => STANDARD_QUERIES.find((q) => q.name === name);
const tenantSql = (name: string) => standard(name)?.sql(tenantScope, VIEWS) ?? FLOOR_SQL;
const paramsFor = (m: Measured, name: string) => (name === FLOOR ? {} : m.params);
const canonical = (rows: readonly Record<string, unknown>[]) => JSON.stringify(rows);

function remember(entry: QuerySamples, kind: string, rows: readonly Record<string, unknown>[]): void {
  if (!entry.results.has(kind)) entry.results.set(kind, canonical(rows));
}

/** One API run of a query. */
async function apiOnce(server: RunningServer, m: Measured, name: string, entry: QuerySamples, kind: string): Promise<Sample> {
  const cpu = processCpuMs(server.pid);
  const started = performance.now();
  const { parse } = await apiQuery(server, m.project, tenantSql(name), paramsFor(m, name));
  const wallMs = performance.now() - started;
  const cpuMs = processCpuMs(server.pid) - cpu;
  let result;
  try {
    result = parse();
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`);
  }
  remember(entry, kind, result.rows);
  return { wallMs, engineMs: result.engineMs, cpuMs };
}

/** The direct side: sessions on one engine directory in this process. */
type EngineSide = {
  direct(name: string, entry: QuerySamples, kind: string): Promise<Sample>;
  /** The breakdown runs of one query (no-view, tenant session, server path), recorded when `record`. */
  breakdown(name: string, entry: QuerySamples, record: boolean): Promise<void>;
  /** Session open/close cost with the tenant's engine arguments. */
  openClose(): { open: number; close: number };
  activeEventParts(): Promise<number>;
  close(): Promise<void>;
};

async function openEngineSide(chdb: ChdbModule, dir: string, m: Measured): Promise<EngineSide> {
  const direct: ChdbSession = new chdb.Session(dir, { connectionArgs: engineArgs(undefined) });
  const tenantSession: ChdbSession = new chdb.Session(dir, { connectionArgs: engineArgs(m.tenancy) });
  const serverPath = await openServerPath(dir);
  const scope = explicitScope(m.tenancy.projectId, m.tenancy.branchId);
  const directSql = (name: string) => standard(name)?.sql(scope, VIEWS) ?? FLOOR_SQL;
  return {
    async direct(name, entry, kind) {
      const cpu = ownCpuMs();
      const run = await timedQuery(direct, directSql(name), paramsFor(m, name));
      const cpuMs = ownCpuMs() - cpu;
      const started = performance.now();
      const rows = parseRows(run.text);
      entry.parse.push(performance.now() - started);
      remember(entry, kind, rows);
      return { wallMs: run.wallMs, engineMs: run.engineMs, cpuMs };
    },
    async breakdown(name, entry, record) {
      const params = paramsFor(m, name);
      const q = standard(name);
      if (q && !q.joinsUsers) {
        const noView = await timedQuery(direct, q.sql(scope, EVENTS_TABLE), params);
        remember(entry, 'no view', parseRows(noView.text));
        if (record) entry.noView.push(noView.wallMs);
      }
      const tenant = await timedQuery(tenantSession, tenantSql(name), params);
      remember(entry, 'tenant session', parseRows(tenant.text));
      const out = await serverPath.runner.run(m.tenancy, { query: tenantSql(name), params, timeoutMs: TIMEOUT_MS });
      remember(entry, 'server path', out.result);
      if (!record) return;
      entry.tenantSession.push(tenant.wallMs);
      entry.path.push(serverPath.last());
    },
    openClose: () => sessionOpenClose(chdb, dir, m.tenancy),
    async activeEventParts() {
      const sql = "SELECT count() AS parts FROM system.parts WHERE active AND database = 'analytics_internal' AND table = 'events'";
      return Number(parseRows((await timedQuery(direct, sql, {})).text)[0]?.parts);
    },
    async close() {
      direct.close();
      tenantSession.close();
      await serverPath.close();
      await chdb.drainPending();
    },
  };
}

/** Runs `fn` with the server process paused, so its background work cannot compete with the direct side. */
async function withServerPaused<T>(server: RunningServer, fn: () => Promise<T>): Promise<T> {
  process.kill(server.pid, 'SIGSTOP');
  try {
    return await fn();
  } finally {
    process.kill(server.pid, 'SIGCONT');
  }
}

async function idleCpu(server: RunningServer): Promise<number> {
  const cpu = processCpuMs(server.pid);
  await new Promise((resolve) => setTimeout(resolve, IDLE_SAMPLE_MS));
  return ((processCpuMs(server.pid) - cpu) * 1000) / IDLE_SAMPLE_MS;
}

async function main(): Promise<void> {
  const clock = performance.now();
  const stamp = () => `${((performance.now() - clock) / 1000).toFixed(1)} s`;
  const dataDir = mkdtempSync(path.join(settings.parent, 'sightline-bench-query-'));
  const clickhouseDir = path.join(dataDir, 'clickhouse');
  const copyDir = path.join(dataDir, 'clickhouse-direct');
  const logFile = path.join(dataDir, 'server.log');
  const adminSecret = randomBytes(24).toString('base64url');
  say('Sightline query benchmark (bench/query)');
  say(`  node ${process.version}, ${os.cpus().length} CPUs, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM; ${cpuPressure() ?? ''}`);
  say(
    `  ${settings.events.toLocaleString('en')} events, ${settings.projects} projects, ${settings.users.toLocaleString('en')} users ` +
      `(measured project: ${Math.round(settings.measuredShare * 100)} % of the events, ${settings.measuredUsers.toLocaleString('en')} users), ` +
      `${settings.days} days; mode ${settings.mode}, ` +
      (settings.mode === 'interleaved' ? `${settings.runs} timed rounds` : `${settings.passes} passes x ${settings.runs} timed rounds`),
  );
  say(`  data directory ${dataDir}${settings.keep ? ' (kept)' : ' (removed at the end)'}`);
  let server: RunningServer | undefined;
  try {
    // 1. Projects through the API (real ids and keys), then stop the server.
    server = await startServer({ dataDir, adminSecret, logFile });
    const projects = await createProjects(server, adminSecret, settings.projects);
    await server.stop();
    server = undefined;
    const project = projects[0] as Project;
    if (settings.keep) {
      writeFileSync(path.join(dataDir, 'bench.json'), JSON.stringify({ adminSecret, measured: project }, null, 2), { mode: 0o600 });
    }
    say(`  [${stamp()}] server started, ${projects.length} projects created through the API, server stopped`);

    // 2. Data, generated inside the engine.
    const chdb = await loadChdb();
    const plan: DataPlan = {
      events: settings.events,
      projectIds: projects.map((p) => p.projectId),
      measuredShare: settings.measuredShare,
      users: settings.users,
      measuredUsers: settings.measuredUsers,
      days: settings.days,
      endMs: Math.floor(Date.now() / 60_000) * 60_000,
    };
    const writer = new chdb.Session(clickhouseDir);
    let generation: GenerationReport;
    try {
      generation = await generate(writer, plan, { copies: settings.copies, optimize: false });
    } finally {
      writer.close();
      await chdb.drainPending();
    }
    printGeneration(generation);
    say(`  [${stamp()}] data ready`);

    const measured: Measured = {
      project,
      tenancy: { projectId: project.projectId, branchId: BRANCH },
      params: { from: new Date(dataStart(plan)).toISOString().replace('T', ' ').replace('Z', '') },
    };
    const samples = new Map<string, QuerySamples>(
      QUERY_NAMES.map((name) => [
        name,
        {
          api: [],
          direct: [],
          apiNoSync: [],
          directNoSync: [],
          noView: [],
          tenantSession: [],
          path: [],
          parse: [],
          results: new Map(),
        },
      ]),
    );
    const entry = (name: string) => samples.get(name) as QuerySamples;
    const idle = { server: [] as number[], withoutSync: [] as number[] };
    const openClose: { open: number; close: number }[] = [];
    const parts: number[] = [];

    // 3. The measurements.
    if (settings.mode === 'interleaved') {
      const started = performance.now();
      execFileSync('cp', ['-a', '--reflink=auto', clickhouseDir, copyDir]);
      say(`  [${stamp()}] engine directory copied for the direct side in ${ms(performance.now() - started)} ms`);
      const engine = await openEngineSide(chdb, copyDir, measured);
      try {
        parts.push(await engine.activeEventParts());
        const rounds = async (live: RunningServer, apiKind: 'api' | 'apiNoSync', directKind: 'direct' | 'directNoSync', breakdown: boolean) => {
          for (let round = 0; round <= settings.runs; round++) {
            const record = round > 0;
            for (const name of QUERY_NAMES) {
              const e = entry(name);
              const apiSide = async () => {
                const sample = await apiOnce(live, measured, name, e, apiKind);
                if (record) e[apiKind].push(sample);
              };
              const directSide = () =>
                withServerPaused(live, async () => {
                  const sample = await engine.direct(name, e, 'direct');
                  if (record) e[directKind].push(sample);
                  if (breakdown) await engine.breakdown(name, e, record);
                });
              // Alternate which side goes first, so neither always runs on the other's warm-up.
              if (round % 2 === 0) {
                await apiSide();
                await directSide();
              } else {
                await directSide();
                await apiSide();
              }
            }
            if (record && breakdown) openClose.push(await withServerPaused(live, async () => engine.openClose()));
          }
        };
        server = await startServer({ dataDir, adminSecret, logFile });
        await rounds(server, 'api', 'direct', true);
        idle.server.push(await idleCpu(server));
        await server.stop();
        server = undefined;
        say(`  [${stamp()}] API and direct timed, interleaved (${cpuPressure() ?? ''})`);
        if (settings.diagNoSync) {
          server = await startServer({ dataDir, adminSecret, logFile, variant: 'without-sync' });
          await rounds(server, 'apiNoSync', 'directNoSync', false);
          idle.withoutSync.push(await idleCpu(server));
          await server.stop();
          server = undefined;
          say(`  [${stamp()}] diagnostic: API (server without the background users sync) and direct timed, interleaved`);
        }
        parts.push(await engine.activeEventParts());
      } finally {
        await engine.close();
      }
    } else {
      /** One server: every query through the API (round 0 warms up), then its idle CPU. */
      const timeApi = async (variant: 'api' | 'apiNoSync', idleOf: number[]) => {
        server = await startServer({ dataDir, adminSecret, logFile, ...(variant === 'apiNoSync' ? { variant: 'without-sync' as const } : {}) });
        for (let round = 0; round <= settings.runs; round++) {
          for (const name of QUERY_NAMES) {
            const sample = await apiOnce(server, measured, name, entry(name), variant);
            if (round > 0) entry(name)[variant].push(sample);
          }
        }
        idleOf.push(await idleCpu(server));
        await server.stop();
        server = undefined;
      };
      for (let pass = 1; pass <= settings.passes; pass++) {
        await timeApi('api', idle.server);
        say(`  [${stamp()}] pass ${pass}: API timed (${cpuPressure() ?? ''})`);
        const engine = await openEngineSide(chdb, clickhouseDir, measured);
        try {
          const breakdown = pass === settings.passes;
          for (let round = 0; round <= settings.runs; round++) {
            for (const name of QUERY_NAMES) {
              const sample = await engine.direct(name, entry(name), 'direct');
              if (round > 0) entry(name).direct.push(sample);
              if (breakdown) await engine.breakdown(name, entry(name), round > 0);
            }
            if (round > 0 && breakdown) openClose.push(engine.openClose());
          }
          parts.push(await engine.activeEventParts());
        } finally {
          await engine.close();
        }
        say(`  [${stamp()}] pass ${pass}: direct timed${pass === settings.passes ? ', with the breakdown' : ''} (${cpuPressure() ?? ''})`);
      }
      if (settings.diagNoSync) {
        await timeApi('apiNoSync', idle.withoutSync);
        say(`  [${stamp()}] diagnostic: API timed on a server without the background users sync`);
      }
    }
    const partsMoved = parts.some((n) => n !== generation.eventParts);
    report(samples, generation, idle, openClose, partsMoved ? parts : undefined, stamp());
  } finally {
    if (server) await server.stop().catch(() => undefined);
    closeHttp();
    if (!settings.keep) rmSync(dataDir, { recursive: true, force: true });
  }
}

function printGeneration(g: GenerationReport): void {
  say();
  say('Data generation (inside chDB: INSERT … SELECT FROM numbers_mt; no server running)');
  say(table(['phase', 'wall ms', 'cpu ms'], Object.entries(g.phases).map(([name, t]) => [name, ms(t.wallMs), ms(t.cpuMs)])));
  say(
    `  ${(g.totalMs / 1000).toFixed(1)} s for ${g.events.toLocaleString('en')} events ` +
      `(${Math.round(g.events / (g.totalMs / 1000)).toLocaleString('en')}/s) and ${g.users.toLocaleString('en')} live users; ` +
      `measured project: ${g.measuredEvents.toLocaleString('en')} events, ${g.measuredUsers.toLocaleString('en')} users; ` +
      `events table: ${g.eventParts} parts, ${(g.eventBytes / 2 ** 20).toFixed(0)} MiB`,
  );
}

function report(
  samples: Map<string, QuerySamples>,
  generation: GenerationReport,
  idle: { server: number[]; withoutSync: number[] },
  openClose: { open: number; close: number }[],
  partsMoved: number[] | undefined,
  elapsed: string,
): void {
  const wall = (xs: readonly Sample[]) => median(xs.map((x) => x.wallMs));
  const runs = settings.runs * settings.passes;
  const how =
    settings.mode === 'interleaved'
      ? `${runs} interleaved rounds (API run, direct run on a copy of the engine directory with the server paused), after a warm-up round`
      : `${runs} timed runs (${settings.passes} passes x ${settings.runs}: API with the server up, then direct with it stopped), each pass after a warm-up`;
  const rows: string[][] = [];
  const summary: { name: string; api: number; direct: number; ratio: number }[] = [];
  const mismatches: string[] = [];
  for (const [name, q] of samples) {
    const api = wall(q.api);
    const direct = wall(q.direct);
    const kinds = [...q.results.keys()];
    const first = q.results.get('direct');
    const differing = kinds.filter((k) => q.results.get(k) !== first);
    if (differing.length > 0) mismatches.push(`${name}: ${differing.join(', ')} differ from direct`);
    if (name !== FLOOR) summary.push({ name, api, direct, ratio: api / direct });
    rows.push([
      name,
      ms(api),
      ms(direct),
      (api / direct).toFixed(2),
      api < 1000 ? 'yes' : 'NO',
      ms(median(q.api.map((x) => x.engineMs))),
      ms(median(q.direct.map((x) => x.engineMs))),
      ms(median(q.api.map((x) => x.cpuMs))),
      ms(median(q.direct.map((x) => x.cpuMs))),
      differing.length === 0 ? `same (${kinds.length})` : 'DIFFER',
    ]);
  }
  say();
  say(`Per query: medians of ${how}, ms`);
  say('  API      POST /api/v1/internal/analytics/query, keep-alive HTTP, until the whole body is in');
  say("  direct   the same SQL with the tenancy written out (project_id = … AND branch_id = 'main') on one reused");
  say("           chDB session in this process with the tenant reader's engine settings, until the result text is in");
  say('  engine   elapsed of the main query as the engine reports it (API: stats.elapsed_ms)');
  say('  cpu      server process CPU per API request (10 ms ticks) / this process per direct query');
  say('  results  every way of running the query returned the same rows (number of ways compared)');
  say(table(['query', 'API', 'direct', 'ratio', '<1 s', 'engine API', 'engine dir', 'cpu API', 'cpu dir', 'results'], rows));
  const totalApi = sum(summary.map((x) => x.api));
  const totalDirect = sum(summary.map((x) => x.direct));
  const overall = totalApi / totalDirect;
  const geo = geomean(summary.map((x) => x.ratio));
  const allUnder = summary.every((x) => x.api < 1000);
  const floor = samples.get(FLOOR) as QuerySamples;
  say(
    `  overall API/direct = Σ ${ms(totalApi)} / Σ ${ms(totalDirect)} ms = ${overall.toFixed(2)} ` +
      `(target ≤ 1.2: ${overall <= 1.2 ? 'met' : 'NOT met'}); geometric mean of the ratios ${geo.toFixed(2)}; ` +
      `every query < 1 s: ${allUnder ? 'yes' : 'NO'}`,
  );
  for (const line of mismatches) say(`  RESULTS DIFFER: ${line}`);
  if (partsMoved) say(`  note: the events table's part count changed (${partsMoved.join(' -> ')}): merges ran during the measurements`);

  say();
  say('Where the API time goes (medians, ms)');
  say("  runner   the server's query path (createQueryRunner + embedded tenant reader + statement classifier) called in");
  say('           this process, and its calls: classify, EXPLAIN AST, EXPLAIN QUERY TREE, reader.run (the two EXPLAINs and');
  say('           the run each open a chDB session of their own with the tenant engine arguments)');
  say('  http+    API − runner: Fastify, auth, zod, JSON encoding, loopback, plus anything else the server process is');
  say('           doing meanwhile (its engine threads share the 2 cores with it)');
  say('  parse    JSON.parse of the result rows (the reader does it; the direct side does not)');
  say('  tenant   the tenant SQL on one reused session opened with the tenant engine arguments (table filters)');
  say('  no view  the direct SQL on analytics_internal.events instead of the default.events view (events-only queries)');
  const breakdown: string[][] = [];
  for (const [name, q] of samples) {
    const api = wall(q.api);
    const p = (pick: (t: PathTiming) => number) => median(q.path.map(pick));
    const runner = p((t) => t.runner);
    breakdown.push([
      name,
      ms(api),
      ms(api - runner),
      ms(runner),
      ms(p((t) => t.classify)),
      ms(p((t) => t.explainAst)),
      ms(p((t) => t.explainTree)),
      ms(p((t) => t.readerRun)),
      ms(median(q.parse)),
      ms(median(q.tenantSession)),
      ms(wall(q.direct)),
      ms(median(q.noView)),
    ]);
  }
  say(table(['query', 'API', 'http+', 'runner', 'classify', 'AST', 'TREE', 'run', 'parse', 'tenant', 'direct', 'no view'], breakdown));
  const open = median(openClose.map((x) => x.open));
  const close = median(openClose.map((x) => x.close));
  say(`  chDB session with the tenant engine arguments: open ${ms(open)} ms, close ${ms(close)} ms (the runner opens 3 per query)`);
  const idleServer = median(idle.server);
  say(`  server process CPU while idle (${IDLE_SAMPLE_MS / 1000} s after the timed rounds): ${idle.server.map((x) => ms(x)).join(', ')} ms per second`);

  let noSyncLine: string | undefined;
  if (settings.diagNoSync) {
    const names = [...samples.keys()].filter((name) => name !== FLOOR);
    const directNoSync = (q: QuerySamples) => (q.directNoSync.length > 0 ? wall(q.directNoSync) : wall(q.direct));
    const sApi = sum(names.map((n) => wall((samples.get(n) as QuerySamples).apiNoSync)));
    const sDirect = sum(names.map((n) => directNoSync(samples.get(n) as QuerySamples)));
    noSyncLine =
      `Server without the background users sync: API/direct ${(sApi / sDirect).toFixed(2)} (Σ ${ms(sApi)} / ${ms(sDirect)} ms), ` +
      `floor ${ms(wall(floor.apiNoSync))} ms, idle server CPU ${idle.withoutSync.map((x) => ms(x)).join(', ')} ms/s ` +
      `(with it: ${ms(idleServer)} ms/s).`;
    say();
    say('Diagnostic: a server without the background users sync (StartOptions.backgroundSync = false), timed the same way');
    say(
      table(
        ['query', 'API', 'direct', 'ratio', 'API (sync)', 'direct (sync)', 'ratio (sync)'],
        [...samples].map(([name, q]) => [
          name,
          ms(wall(q.apiNoSync)),
          ms(directNoSync(q)),
          (wall(q.apiNoSync) / directNoSync(q)).toFixed(2),
          ms(wall(q.api)),
          ms(wall(q.direct)),
          (wall(q.api) / wall(q.direct)).toFixed(2),
        ]),
      ),
    );
    say(`  ${noSyncLine}`);
  }

  const fixed = (pick: (t: PathTiming) => number) => ms(median(floor.path.map(pick)));
  const lines = [
    `Query API benchmark (npm run bench:query, ${new Date().toISOString().slice(0, 16)}Z; ${os.cpus().length} CPUs, node ${process.version}, embedded chDB; mode ${settings.mode})`,
    `Data: ${generation.events.toLocaleString('en')} events, ${settings.projects} projects, ${generation.users.toLocaleString('en')} live users, ` +
      `${settings.days} days; measured project ${generation.measuredEvents.toLocaleString('en')} events / ${generation.measuredUsers.toLocaleString('en')} users; ` +
      `generated in-engine in ${(generation.totalMs / 1000).toFixed(1)} s; ${generation.eventParts} parts.`,
    `Per query (median of ${runs}; API ms / direct ms / ratio):`,
    ...summary.map(
      (x) =>
        `  ${x.name.padEnd(24)} ${ms(x.api).padStart(6)} / ${ms(x.direct).padStart(6)} / ${x.ratio.toFixed(2)}  ${x.api < 1000 ? '< 1 s' : '>= 1 s'}`,
    ),
    `Overall API/direct ${overall.toFixed(2)} (Σ/Σ; geomean ${geo.toFixed(2)}): target ≤ 1.2 ${overall <= 1.2 ? 'met' : 'NOT met'}; ` +
      `all < 1 s: ${allUnder ? 'yes' : 'NO'}.`,
    `Fixed cost per API query (SELECT number FROM numbers(1)): ${ms(wall(floor.api))} ms vs ${ms(wall(floor.direct))} ms direct ` +
      `(in-process validation: classify ${fixed((t) => t.classify)} + EXPLAIN AST ${fixed((t) => t.explainAst)} + ` +
      `EXPLAIN QUERY TREE ${fixed((t) => t.explainTree)} ms; session open ${ms(open)} ms x 3). Idle server CPU ${ms(idleServer)} ms/s.`,
    ...(noSyncLine ? [noSyncLine] : []),
    `Direct on analytics_internal.events instead of the default.events view: ` +
      [...samples]
        .filter(([, q]) => q.noView.length > 0)
        .map(([name, q]) => `${name} ${ms(wall(q.direct))} -> ${ms(median(q.noView))} ms`)
        .join(', ') +
      ' (through the view, data.<path> reads the whole JSON column).',
    `Machine load at the end: ${cpuPressure() ?? 'n/a'}. Bench wall ${elapsed}.`,
  ];
  say();
  say('----- summary -----');
  for (const line of lines) say(line);
  say('-------------------');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
