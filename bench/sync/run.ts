/**
 * Users sync benchmark (DESIGN.md section 10, ADR 0007), in-process on the
 * embedded engines (PGlite + chDB), and also on a PostgreSQL server when
 * BENCH_POSTGRES_URL is set (a fresh database is created there and dropped):
 *
 *  1. initial sync: BENCH_USERS users (100 000) inserted with one
 *     `INSERT … SELECT generate_series` through the users table (the triggers
 *     fire), then the sequencer and the sync engine (the scheduler, started in
 *     the background) until the watermark reaches the last sequence id
 *     -> users/s, with the sequencer's and the mirror's share;
 *  2. steady state, once chDB has merged the initial sync's parts: BENCH_RATE (200)
 *     raw-SQL updates/s for BENCH_SECONDS (60);
 *     every BENCH_SAMPLE_EVERY-th (10th) update is timed from its commit to the
 *     moment its value is visible in `default.users` (the view the query API
 *     reads) -> lag p50 / p90 / p99 / max (target: within 2 s), and the sync's
 *     own figures per run (duration, time per phase, wait from signal to start).
 *
 * How lag is measured (both ends conservative, so the figures are upper bounds):
 *  - commit: the UPDATE returns Postgres' `clock_timestamp()`, taken just before
 *    its commit (same machine, same clock as `Date.now()` here). Taking the time
 *    when the client got the reply instead hid any delay of that reply (event
 *    loop, pool): the report prints that delay as "ack delay".
 *  - visible: when the first observer read that returns the new value has
 *    returned. The value became visible after the previous read started, so the
 *    report also prints the lag measured to that point (a lower bound): the
 *    true lag lies between the two.
 *
 * Usage: npm run bench:sync
 * Env: BENCH_USERS (100000), BENCH_SECONDS (60), BENCH_RATE (200), BENCH_SAMPLE_EVERY (10),
 *      BENCH_POLL_MS (20, the least pause between two reads of pending samples; the pause
 *      is at least as long as the previous read, so the observer keeps under half a core busy),
 *      BENCH_POSTGRES_URL (also run on this PostgreSQL server), BENCH_ENGINES (pglite,pg: which to run),
 *      BENCH_SYNC_MIN_INTERVAL_MS (the scheduler's floor between background runs; default 500),
 *      BENCH_KEEP=1 (keep the data dir).
 *
 * Everything shares this machine's cores (the writers, Postgres, the sync, chDB,
 * the observer): the report prints the load average next to the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { openClickHouse, type ClickHouse } from '../../apps/server/src/storage/clickhouse/client.ts';
import { inProcessLock, runClickHouseMigrations } from '../../apps/server/src/storage/clickhouse/migrations.ts';
import { openPostgres, type Postgres } from '../../apps/server/src/storage/postgres/db.ts';
import { runPostgresMigrations } from '../../apps/server/src/storage/postgres/migrations.ts';
import { createTestDatabase } from '../../apps/server/src/storage/postgres/test-database.ts';
import { readWatermark, type Tenancy } from '../../apps/server/src/sync/engine.ts';
import { createSyncScheduler, type SyncRunReport } from '../../apps/server/src/sync/scheduler.ts';
import { runSequencer } from '../../apps/server/src/sync/sequencer.ts';
import { positiveFromEnv as env } from '../env.ts';
import { percentile } from '../numbers.ts';

const USERS = Math.round(env('BENCH_USERS', 100_000));
const SECONDS = env('BENCH_SECONDS', 60);
const RATE = env('BENCH_RATE', 200);
const SAMPLE_EVERY = Math.round(env('BENCH_SAMPLE_EVERY', 10));
const POLL_MS = env('BENCH_POLL_MS', 20);
const ENGINES = (process.env.BENCH_ENGINES ?? 'pglite,pg').split(',').map((e) => e.trim());
const LAG_TARGET_MS = 2_000;

/** Postgres' wall clock in epoch milliseconds, taken in the UPDATE itself, just before its commit. */
const COMMIT_CLOCK = '(extract(epoch FROM clock_timestamp()) * 1000)::float8';

const log = (line: string) => console.log(line);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

/** A percentile (given in percent) of ascending values, in whole milliseconds. */
const ms = (sorted: number[], p: number) => `${percentile(sorted, p / 100).toFixed(0)} ms`;

type RunStats = { runs: number; durationMs: number[]; waitedMs: number[]; meanMs: Record<string, number>; rowsPerRun: number };

/** The sync's own view of the steady state: how long runs took and where the time went. */
function runStats(reports: SyncRunReport[]): RunStats {
  const phases = ['sequencerMs', 'maintenanceMs', 'changesMs', 'watermarkReadMs', 'fetchMs', 'insertMs', 'watermarkWriteMs'] as const;
  const n = Math.max(1, reports.length);
  return {
    runs: reports.length,
    durationMs: reports.map((r) => r.durationMs).sort((a, b) => a - b),
    waitedMs: reports.map((r) => r.waitedMs).sort((a, b) => a - b),
    meanMs: Object.fromEntries(phases.map((phase) => [phase.replace(/Ms$/, ''), reports.reduce((sum, r) => sum + r[phase], 0) / n])),
    rowsPerRun: reports.reduce((sum, r) => sum + r.rows, 0) / n,
  };
}

type Result = {
  engine: string;
  idleLags: number[];
  notifyDelays: number[];
  idleRuns: number[];
  insertMs: number;
  sequencerMs: number;
  mirrorMs: number;
  updatesSent: number;
  updatesPerSecond: number;
  updateP99Ms: number;
  lags: number[];
  lagLowerBounds: number[];
  ackDelays: number[];
  syncRuns: RunStats;
  unobserved: number;
  observerQueryMs: number;
  runs: { failures: number; lastError: string | undefined };
};

async function bench(engine: string, postgres: Postgres, clickhouse: ClickHouse): Promise<Result> {
  const logger = pino({ level: 'warn' });
  const tenancy: Tenancy = { projectId: randomUUID(), branchId: 'main' };
  await postgres.execute(`INSERT INTO projects (id, display_name, analytics_enabled) VALUES ($1, 'sync bench', true)`, [tenancy.projectId]);

  // 1. Initial sync.
  log(`[${engine}] inserting ${USERS} users (one INSERT … SELECT generate_series, triggers fire)…`);
  let started = performance.now();
  await postgres.execute(
    `INSERT INTO users (project_id, branch_id, id, display_name, primary_email, primary_email_verified,
                        client_metadata, server_metadata, is_anonymous, signed_up_at)
     SELECT $1, 'main', gen_random_uuid(), 'user ' || g, 'user' || g || '@example.test', g % 3 = 0,
            jsonb_build_object('g', g, 'plan', CASE WHEN g % 5 = 0 THEN 'pro' ELSE 'free' END), NULL, g % 11 = 0,
            now() - (g % 730) * interval '1 day'
     FROM generate_series(1, $2::int) g`,
    [tenancy.projectId, USERS],
  );
  const insertMs = performance.now() - started;
  log(`[${engine}] inserted in ${seconds(insertMs)}; sequencing and mirroring…`);

  started = performance.now();
  const sequenced = await runSequencer(postgres);
  const sequencerMs = performance.now() - started;
  const [{ max } = { max: 0 }] = await postgres.execute<{ max: number }>(
    'SELECT max(sequence_id) AS max FROM users WHERE project_id = $1 AND branch_id = $2',
    [tenancy.projectId, tenancy.branchId],
  );
  let reports: SyncRunReport[] = [];
  const sync = createSyncScheduler(postgres, clickhouse, logger, {
    onRun: (report) => reports.push(report),
    // The scheduler's floor between background runs (default 500 ms), to compare settings.
    ...(process.env.BENCH_SYNC_MIN_INTERVAL_MS ? { minIntervalMs: Number(process.env.BENCH_SYNC_MIN_INTERVAL_MS) } : {}),
  });
  started = performance.now();
  await sync.start();
  let lastReport = started;
  for (;;) {
    const watermark = await readWatermark(clickhouse, tenancy);
    if (watermark >= max) break;
    if (performance.now() - lastReport > 5_000) {
      lastReport = performance.now();
      log(`[${engine}]   … watermark ${watermark} / ${max} after ${seconds(lastReport - started)}`);
    }
    await sleep(50);
  }
  const mirrorMs = performance.now() - started;
  const initialRuns = runStats(reports);
  log(
    `[${engine}] initial sync runs: ${initialRuns.runs}, in total ` +
      Object.entries(initialRuns.meanMs).map(([phase, value]) => `${phase} ${seconds(value * Math.max(1, initialRuns.runs))}`).join(', '),
  );
  const totalMs = sequencerMs + mirrorMs;
  log(
    `[${engine}] initial sync: ${sequenced} rows sequenced in ${seconds(sequencerMs)}, mirrored in ${seconds(mirrorMs)}` +
      ` -> ${Math.round(USERS / (totalMs / 1000))} users/s (load ${load()})`,
  );

  // The initial sync leaves ~2 500 small parts (one per month per insert) that chDB merges
  // in the background for a while, on the same cores: steady state starts once they are merged.
  started = performance.now();
  for (;;) {
    const [merging] = await clickhouse.query<{ n: string }>({
      name: 'bench.sync-merges',
      sql: `SELECT count() AS n FROM system.merges WHERE database = 'analytics_internal' AND table = 'users'`,
    });
    if (Number(merging?.n ?? 0) === 0 || performance.now() - started > 120_000) break;
    await sleep(250);
  }
  log(`[${engine}] background merges after the initial sync settled in ${seconds(performance.now() - started)}`);

  // 2a. Lag of single updates with nothing else going on (one at a time).
  const probe = (await postgres.execute<{ id: string }>('SELECT id FROM users WHERE project_id = $1 LIMIT 1', [tenancy.projectId]))[0]!.id;
  const idleLags: number[] = [];
  const notifyDelays: number[] = [];
  const idleRuns: number[] = [];
  // The bench's own LISTEN: how long a commit's notification takes to arrive.
  let notifiedAt = 0;
  const unlistenBench = await postgres.listen('sightline_sync', () => (notifiedAt ||= Date.now()));
  for (let i = 1; i <= 20; i++) {
    notifiedAt = 0;
    reports = [];
    const [{ committed_ms: committedAt } = { committed_ms: Date.now() }] = await postgres.execute<{ committed_ms: number }>(
      `UPDATE users SET server_metadata = jsonb_build_object('idle', $3::int) WHERE project_id = $1 AND branch_id = 'main' AND id = $2
       RETURNING ${COMMIT_CLOCK} AS committed_ms`,
      [tenancy.projectId, probe, i],
    );
    for (;;) {
      const [row] = await clickhouse.query<{ n: string }>({
        name: 'bench.sync-idle-lag',
        sql: `SELECT JSONExtractInt(server_metadata, 'idle') AS n FROM default.users
              WHERE project_id = {p:String} AND branch_id = 'main' AND id = {id:UUID}`,
        params: { p: tenancy.projectId, id: probe },
      });
      if (Number(row?.n) >= i) break;
      if (Date.now() - committedAt > 30_000) throw new Error('an idle update did not arrive within 30 s');
      await sleep(POLL_MS);
    }
    idleLags.push(Date.now() - committedAt);
    if (notifiedAt) notifyDelays.push(notifiedAt - committedAt);
    const run = reports.find((r) => r.rows > 0);
    if (run) idleRuns.push(run.durationMs);
    await sleep(100);
  }
  await unlistenBench();
  for (const list of [idleLags, notifyDelays, idleRuns]) list.sort((a, b) => a - b);
  log(
    `[${engine}] idle lag (20 single updates): p50 ${ms(idleLags, 50)}, max ${ms(idleLags, 100)};` +
      ` commit -> NOTIFY received p50 ${ms(notifyDelays, 50)}, max ${ms(notifyDelays, 100)}; the run mirroring it p50 ${ms(idleRuns, 50)}, max ${ms(idleRuns, 100)}`,
  );

  // 2b. Steady state: paced raw-SQL updates, every SAMPLE_EVERY-th one timed until visible in ClickHouse.
  const ids = (await postgres.execute<{ id: string }>('SELECT id FROM users WHERE project_id = $1', [tenancy.projectId])).map((r) => r.id);
  // Sampled updates go round-robin over their own users so one sample is not overwritten by another's update.
  const sampledUsers = ids.slice(0, Math.min(ids.length, 2_000));
  const others = ids.length > sampledUsers.length ? ids.slice(sampledUsers.length) : ids;
  const pending = new Map<string, { n: number; committedAt: number }>();
  const lags: number[] = [];
  const lagLowerBounds: number[] = [];
  const ackDelays: number[] = [];
  const updateMs: number[] = [];
  let observerQueries = 0;
  let observerTotalMs = 0;
  let stopObserver = false;
  let stoppedAt = 0;
  const observer = (async () => {
    /** When the previous read started: a value first seen now was not visible before then. */
    let previousReadAt = Date.now();
    while (!stopObserver || pending.size > 0) {
      if (pending.size === 0) {
        await sleep(POLL_MS);
        previousReadAt = Date.now();
        continue;
      }
      const asked = [...pending.keys()];
      const queryStarted = Date.now();
      const rows = await clickhouse.query<{ uid: string; n: string }>({
        name: 'bench.sync-lag',
        sql: `SELECT toString(id) AS uid, JSONExtractInt(server_metadata, 'bench') AS n
              FROM default.users
              WHERE project_id = {p:String} AND branch_id = 'main' AND id IN {ids:Array(UUID)}`,
        params: { p: tenancy.projectId, ids: asked },
      });
      const seenAt = Date.now();
      observerQueries++;
      observerTotalMs += seenAt - queryStarted;
      for (const row of rows) {
        const sample = pending.get(row.uid);
        if (sample && Number(row.n) >= sample.n) {
          lags.push(seenAt - sample.committedAt);
          lagLowerBounds.push(Math.max(0, previousReadAt - sample.committedAt));
          pending.delete(row.uid);
        }
      }
      previousReadAt = queryStarted;
      if (stopObserver && performance.now() - stoppedAt > 30_000) break; // give up on stragglers
      // Pause at least as long as the read took: reading back to back kept a core busy
      // (a read of the view costs 40-200 ms here), CPU that the sync under test lacked.
      await sleep(Math.max(POLL_MS, seenAt - queryStarted));
    }
  })();

  reports = [];
  log(`[${engine}] steady state: ${RATE} updates/s for ${SECONDS} s, lag sampled every ${SAMPLE_EVERY}th update…`);
  const total = Math.round(RATE * SECONDS);
  let sent = 0;
  let inFlight = 0;
  let failed = 0;
  // PGlite is one session: more updates in flight only queue (in front of the sync's own statements).
  const maxInFlight = postgres.kind === 'pglite' ? 4 : 32;
  const steadyStarted = performance.now();
  const update = async (n: number) => {
    const sampled = n % SAMPLE_EVERY === 0;
    const id = sampled ? sampledUsers[(n / SAMPLE_EVERY) % sampledUsers.length]! : others[(n * 7919) % others.length]!;
    const t0 = performance.now();
    let committedAt: number;
    try {
      const [row] = await postgres.execute<{ committed_ms: number }>(
        `UPDATE users SET display_name = $3, server_metadata = jsonb_build_object('bench', $4::int), updated_at = now()
         WHERE project_id = $1 AND branch_id = 'main' AND id = $2
         RETURNING ${COMMIT_CLOCK} AS committed_ms`,
        [tenancy.projectId, id, `bench ${n}`, n],
      );
      if (!row) throw new Error(`user ${id} not found`);
      committedAt = row.committed_ms;
    } catch (error) {
      failed++;
      if (failed === 1) console.error(error);
      return;
    }
    updateMs.push(performance.now() - t0);
    if (sampled) {
      ackDelays.push(Date.now() - committedAt);
      pending.set(id, { n, committedAt });
    }
  };
  const inFlightUpdates = new Set<Promise<void>>();
  let nextProgress = steadyStarted + 10_000;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - steadyStarted) / 1000) * RATE));
    while (sent < due && inFlight < maxInFlight) {
      inFlight++;
      const promise: Promise<void> = update(sent++).finally(() => {
        inFlight--;
        inFlightUpdates.delete(promise);
      });
      inFlightUpdates.add(promise);
    }
    if (performance.now() > nextProgress) {
      nextProgress += 10_000;
      const sorted = [...lags].sort((a, b) => a - b);
      log(
        `[${engine}]   … ${sent} updates, ${lags.length} lags observed, p50 ${percentile(sorted, 0.5).toFixed(0)} ms,` +
          ` p99 ${percentile(sorted, 0.99).toFixed(0)} ms (load ${load()})`,
      );
    }
    await sleep(2);
  }
  await Promise.all(inFlightUpdates);
  const steadyMs = performance.now() - steadyStarted;
  stoppedAt = performance.now();
  stopObserver = true;
  await observer;
  const health = sync.health();
  await sync.stop();
  const syncRuns = runStats(reports);
  const slowest = [...reports].sort((a, b) => b.durationMs - a.durationMs).slice(0, 3);
  log(
    `[${engine}] slowest runs: ` +
      slowest
        .map((r) => `${r.durationMs.toFixed(0)} ms at +${((r.startedAt - steadyStarted) / 1000).toFixed(1)} s (${r.rows} rows; sequencer ${r.sequencerMs.toFixed(0)}, insert ${r.insertMs.toFixed(0)}, watermark ${r.watermarkWriteMs.toFixed(0)})`)
        .join('; '),
  );
  const [parts] = await clickhouse.query<{ parts: string; max_in_partition: string }>({
    name: 'bench.sync-parts',
    sql: `SELECT sum(n) AS parts, max(n) AS max_in_partition FROM (
            SELECT partition, count() AS n FROM system.parts
            WHERE database = 'analytics_internal' AND table = 'users' AND active GROUP BY partition)`,
  });
  log(`[${engine}] analytics_internal.users: ${parts?.parts} active parts, at most ${parts?.max_in_partition} in one partition`);
  updateMs.sort((a, b) => a - b);
  return {
    engine,
    idleLags,
    notifyDelays,
    idleRuns,
    insertMs,
    sequencerMs,
    mirrorMs,
    updatesSent: sent - failed,
    updatesPerSecond: (sent - failed) / (steadyMs / 1000),
    updateP99Ms: percentile(updateMs, 0.99),
    lags: lags.sort((a, b) => a - b),
    lagLowerBounds: lagLowerBounds.sort((a, b) => a - b),
    ackDelays: ackDelays.sort((a, b) => a - b),
    syncRuns,
    unobserved: pending.size,
    observerQueryMs: observerQueries > 0 ? observerTotalMs / observerQueries : 0,
    runs: { failures: health.consecutiveFailures, lastError: health.lastError },
  };
}

function report(r: Result): string[] {
  const initialMs = r.sequencerMs + r.mirrorMs;
  const p = (q: number) => ms(r.lags, q);
  const p99 = percentile(r.lags, 0.99);
  return [
    `engine: ${r.engine}`,
    `  initial sync     ${USERS} users in ${seconds(initialMs)} -> ${Math.round(USERS / (initialMs / 1000))} users/s` +
      ` (sequencer ${seconds(r.sequencerMs)}, mirror ${seconds(r.mirrorMs)}; the INSERT itself took ${seconds(r.insertMs)})`,
    `  idle lag         one update at a time: p50 ${ms(r.idleLags, 50)}, max ${ms(r.idleLags, 100)} (NOTIFY arrives after p50 ${ms(r.notifyDelays, 50)};` +
      ` its run takes p50 ${ms(r.idleRuns, 50)})`,
    `  steady state     ${r.updatesSent} updates at ${r.updatesPerSecond.toFixed(1)}/s (asked ${RATE}/s for ${SECONDS} s), update p99 ${r.updateP99Ms.toFixed(0)} ms`,
    `  lag (commit -> visible in default.users), ${r.lags.length} samples: p50 ${p(50)}, p90 ${p(90)}, p99 ${p(99)}, max ${p(100)}` +
      `${r.unobserved > 0 ? `, ${r.unobserved} never seen` : ''}`,
    `  lag lower bound  (to the start of the read before): p50 ${ms(r.lagLowerBounds, 50)}, p90 ${ms(r.lagLowerBounds, 90)}, p99 ${ms(r.lagLowerBounds, 99)}`,
    `  observer         ${r.observerQueryMs.toFixed(0)} ms per read, then a pause as long (>= ${POLL_MS} ms); ack delay (commit -> client got the reply) p50 ${ms(r.ackDelays, 50)}, p99 ${ms(r.ackDelays, 99)}`,
    `  sync runs        ${r.syncRuns.runs} runs, ${r.syncRuns.rowsPerRun.toFixed(0)} rows each; duration p50 ${ms(r.syncRuns.durationMs, 50)}, p90 ${ms(r.syncRuns.durationMs, 90)},` +
      ` p99 ${ms(r.syncRuns.durationMs, 99)}, max ${ms(r.syncRuns.durationMs, 100)}; signal -> start p50 ${ms(r.syncRuns.waitedMs, 50)}, p99 ${ms(r.syncRuns.waitedMs, 99)}`,
    `  per run (mean)   ${Object.entries(r.syncRuns.meanMs).map(([phase, value]) => `${phase} ${value.toFixed(1)}`).join(', ')} ms`,
    `  lag target       p99 <= ${LAG_TARGET_MS} ms: ${p99 <= LAG_TARGET_MS && r.unobserved === 0 ? 'met' : 'NOT met'}`,
    ...(r.runs.lastError ? [`  last sync error  ${r.runs.lastError} (consecutive failures now ${r.runs.failures})`] : []),
  ];
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'sightline-bench-sync-'));
  log(`users sync benchmark: ${USERS} users, ${RATE} updates/s for ${SECONDS} s, ${availableParallelism()} cores, load ${load()}`);
  const clickhouse = await openClickHouse({ kind: 'embedded', dataDir: path.join(dir, 'clickhouse') });
  const results: Result[] = [];
  try {
    await runClickHouseMigrations(clickhouse, { lock: inProcessLock() });
    if (ENGINES.includes('pglite')) {
      const pglite = await openPostgres({ kind: 'pglite', dataDir: path.join(dir, 'postgres') });
      try {
        await runPostgresMigrations(pglite);
        results.push(await bench('PGlite (embedded)', pglite, clickhouse));
      } finally {
        await pglite.close();
      }
    }
    const serverUrl = process.env.BENCH_POSTGRES_URL;
    if (serverUrl && ENGINES.includes('pg')) {
      const database = await createTestDatabase(serverUrl);
      const pg = await openPostgres({ kind: 'pg', url: database.url }, { poolSize: 16 });
      try {
        await runPostgresMigrations(pg);
        results.push(await bench('PostgreSQL server', pg, clickhouse));
      } finally {
        await pg.close();
        await database.drop();
      }
    }
  } finally {
    await clickhouse.close();
    if (process.env.BENCH_KEEP === '1') log(`data kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  log('');
  log('=== summary ===');
  log(`users sync, embedded chDB, ${availableParallelism()} cores shared by writers, Postgres, sync and observer; load average now ${load()}`);
  for (const result of results) for (const line of report(result)) log(line);
  if (!process.env.BENCH_POSTGRES_URL) log('(set BENCH_POSTGRES_URL=postgres://… to also measure on a PostgreSQL server)');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
