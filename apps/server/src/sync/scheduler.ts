import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ClickHouse } from '../storage/clickhouse/client.ts';
import type { Postgres } from '../storage/postgres/db.ts';
import { changedTenancies, noPhases, syncTenancy, type SyncPhases, type Tenancy } from './engine.ts';
import { runSequencer } from './sequencer.ts';
import { createWatermarkCache } from './watermark-cache.ts';

export type SyncRun = { sequenced: number; tenancies: number; rows: number };

/** One run's figures: where its time went (milliseconds) and how long the change that woke it waited. */
export type SyncRunReport = SyncRun &
  SyncPhases & {
    ok: boolean;
    /** `performance.now()` when the run started. */
    startedAt: number;
    durationMs: number;
    /** From the first wake-up signal (notification, sweep, `wake()`) not yet served to the start of this run. */
    waitedMs: number;
    sequencerMs: number;
    maintenanceMs: number;
    changesMs: number;
  };

export type SyncHealth = {
  lastSuccessAt: number | undefined;
  lastErrorAt: number | undefined;
  lastError: string | undefined;
  consecutiveFailures: number;
};

export type SyncScheduler = {
  /** Listens for changes and sweeps periodically until `stop()`. */
  start(): Promise<void>;
  /** Sequences and mirrors everything pending now (runs are never concurrent). */
  runOnce(): Promise<SyncRun>;
  health(): SyncHealth;
  /** Lets a tenancy's sync run soon (an in-process signal, e.g. after a write on PGlite). */
  wake(): void;
  stop(): Promise<void>;
};

export type SyncSchedulerOptions = {
  /** Periodic sweep, in case a notification was missed (default 5 s). */
  sweepMs?: number;
  /** Wait this long after a signal while idle, to serve a burst with one run (default 0). */
  debounceMs?: number;
  /**
   * Background runs start at least this long after the previous one started (default 500 ms).
   * Every run writes a ClickHouse part per signup month it touches, so under a steady stream of
   * changes fewer, larger runs leave chDB less to merge and the tail shrinks: at 200 updates/s,
   * lag p99 1.65–1.93 s without a floor, 1.13–1.61 s at 250 ms, 0.83–1.34 s at 500 ms, for a p50
   * of ~0.3, ~0.35 and ~0.6 s (ADR 0007). A change after a quiet spell is served at once.
   */
  minIntervalMs?: number;
  /** Retry backoff: 250 ms doubling up to this (default 30 s). */
  maxBackoffMs?: number;
  /** In-memory watermarks are read from ClickHouse again after this long (default 60 s). */
  watermarkMaxAgeMs?: number;
  /** Called after every run, successful or not (the benchmark's and the logs' view of the sync). */
  onRun?: (report: SyncRunReport) => void;
};

/** Sequenced rows between two `ANALYZE`s (and, on PGlite, `VACUUM`s) of the sync's tables. */
const MAINTENANCE_EVERY = 10_000;

/**
 * Runs the users sync in the server: woken by `NOTIFY sightline_sync` (the
 * change-capture triggers send it on PostgreSQL and PGlite alike) and by a
 * periodic sweep. Signals during a run coalesce into one run right after it;
 * a failed run retries with capped exponential backoff; the global cursor only
 * moves once every changed tenancy was mirrored.
 *
 * @example
 * const sync = createSyncScheduler(postgres, clickhouse, log);
 * await sync.start();
 */
export function createSyncScheduler(
  postgres: Postgres,
  ch: ClickHouse,
  log: Logger,
  options: SyncSchedulerOptions = {},
): SyncScheduler {
  const sweepMs = options.sweepMs ?? 5000;
  const debounceMs = options.debounceMs ?? 0;
  const minIntervalMs = options.minIntervalMs ?? 500;
  let lastStartedAt = -Infinity;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const watermarks = createWatermarkCache(ch, { maxAgeMs: options.watermarkMaxAgeMs ?? 60_000 });
  /** Every change with a sequence id at or below this is mirrored. */
  let cursor = 0;
  let running: Promise<SyncRun> | undefined;
  /** The run that starts once `running` ends (callers that arrived during a run share it). */
  let queued: Promise<SyncRun> | undefined;
  /** When the first signal not yet served by a run arrived (undefined: nothing pending). */
  let signalledAt: number | undefined;
  /** After a failure, background runs wait until then (explicit `runOnce` calls do not). */
  let retryAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let sweep: NodeJS.Timeout | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  /** Background runs only happen between `start()` and `stop()`; `runOnce` works either way. */
  let started = false;
  let stopped = false;
  // Without statistics the planner answers the sequencer's and `changedTenancies`'
  // queries with a scan of every user on every run (7-190 ms at 100 000 users
  // instead of < 1 ms, on PGlite and on a server alike): PGlite runs no autovacuum,
  // and a server's autovacuum only looks every minute, long after a bulk import. So
  // the sync analyses its tables at its first run and after every 10 000 sequenced
  // rows; on PGlite it also vacuums them (each write leaves two dead row versions).
  let maintainedOnce = false;
  let sequencedSinceMaintenance = 0;
  const maintain = async (sequenced: number) => {
    sequencedSinceMaintenance += sequenced;
    if (maintainedOnce && sequencedSinceMaintenance < MAINTENANCE_EVERY) return;
    const command = postgres.kind === 'pglite' ? 'VACUUM (ANALYZE)' : 'ANALYZE';
    await postgres.execute(`${command} users`);
    await postgres.execute(`${command} deleted_rows`);
    maintainedOnce = true;
    sequencedSinceMaintenance = 0;
  };
  const health: SyncHealth = { lastSuccessAt: undefined, lastErrorAt: undefined, lastError: undefined, consecutiveFailures: 0 };

  const runNow = async (report: SyncRunReport): Promise<SyncRun> => {
    let lapStarted = report.startedAt;
    const lap = (phase: 'sequencerMs' | 'maintenanceMs' | 'changesMs' | 'watermarkReadMs') => {
      const now = performance.now();
      report[phase] += now - lapStarted;
      lapStarted = now;
    };
    const sequenced = await runSequencer(postgres);
    lap('sequencerMs');
    await maintain(sequenced);
    lap('maintenanceMs');
    // Only tenancies with changes above the cursor, in one indexed statement.
    const changed = await changedTenancies(postgres, cursor);
    lap('changesMs');
    let rows = 0;
    let tenancies = 0;
    for (const tenancy of changed.tenancies) {
      const from = await watermarks.get(tenancy);
      lap('watermarkReadMs');
      // Mirrored already (by this server in a run whose cursor did not move, or by another).
      if (from >= tenancy.maxSequenceId) continue;
      tenancies++;
      const synced = await syncTenancy(postgres, ch, tenancy, {
        watermark: from,
        phases: report,
        onWatermark: (watermark) => watermarks.set(tenancy, watermark),
      });
      rows += synced.rows;
      lapStarted = performance.now();
    }
    cursor = changed.maxSequenceId;
    return { sequenced, tenancies, rows };
  };

  const runOnce = (): Promise<SyncRun> => {
    if (running) {
      // The current run may have read Postgres before this caller's changes:
      // answer with the next run, which starts after this one.
      queued ??= running
        .catch(() => undefined)
        .then(() => {
          queued = undefined;
          return runOnce();
        });
      return queued;
    }
    const startedAt = performance.now();
    lastStartedAt = startedAt;
    const report: SyncRunReport = {
      ok: false,
      startedAt,
      durationMs: 0,
      waitedMs: signalledAt === undefined ? 0 : startedAt - signalledAt,
      sequencerMs: 0,
      maintenanceMs: 0,
      changesMs: 0,
      ...noPhases(),
      sequenced: 0,
      tenancies: 0,
      rows: 0,
    };
    // Signals from now on are served by the next run: this one may have read Postgres before their changes.
    signalledAt = undefined;
    running = runNow(report)
      .then((result) => {
        health.lastSuccessAt = Date.now();
        health.consecutiveFailures = 0;
        retryAt = 0;
        Object.assign(report, result, { ok: true });
        if (result.rows > 0) log.debug(result, 'users sync');
        return result;
      })
      .catch((error: unknown) => {
        // Whatever failed, the in-memory watermarks are read from ClickHouse again.
        watermarks.clear();
        health.lastErrorAt = Date.now();
        health.lastError = error instanceof Error ? error.message.split('\n')[0] : String(error);
        health.consecutiveFailures++;
        retryAt = Date.now() + backoffMs();
        // The work is still pending: the retry is a background run once the backoff ends.
        signalledAt ??= performance.now();
        throw error;
      })
      .finally(() => {
        running = undefined;
        report.durationMs = performance.now() - startedAt;
        try {
          options.onRun?.(report);
        } catch (error) {
          log.warn({ err: error }, 'users sync onRun hook failed');
        }
        // Signals that arrived during the run: one run right after this one (or after the backoff).
        if (signalledAt !== undefined) schedule(0);
      });
    return running;
  };

  /** 250 ms after the first failure, doubling up to `maxBackoffMs`. */
  const backoffMs = () => Math.min(maxBackoffMs, 250 * 2 ** Math.min(Math.max(health.consecutiveFailures - 1, 0), 16));

  /**
   * Starts a background run after `delayMs` (never before a failure's backoff
   * ends). A run in progress, or one already scheduled, absorbs the request:
   * any number of signals cause at most one run after the current one.
   */
  const schedule = (delayMs: number) => {
    if (!started || stopped || running || timer) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        if (stopped || running || signalledAt === undefined) return;
        // An explicit run may have failed since this timer was set: wait out its backoff.
        if (retryAt > Date.now()) return schedule(0);
        // Node's timers count from the event loop's cached millisecond clock and
        // can fire a little early by performance.now(): the floor is a promise.
        if (lastStartedAt + minIntervalMs > performance.now()) return schedule(0);
        runOnce().catch((error: unknown) => {
          log.warn({ err: error, retry_in_ms: Math.max(0, retryAt - Date.now()) }, 'users sync failed; retrying');
        });
      },
      Math.max(delayMs, retryAt - Date.now(), lastStartedAt + minIntervalMs - performance.now()),
    );
  };

  /** A change may be waiting: run soon (now, after the current run, or after the backoff). */
  const signal = () => {
    if (stopped) return;
    signalledAt ??= performance.now();
    schedule(debounceMs);
  };

  return {
    async start() {
      started = true;
      unlisten = await postgres.listen('sightline_sync', signal);
      sweep = setInterval(signal, sweepMs);
      signal();
    },
    runOnce,
    health: () => ({ ...health }),
    wake: signal,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (sweep) clearInterval(sweep);
      await unlisten?.();
      await running?.catch(() => undefined);
    },
  };
}

export type { Tenancy };
