import type { Logger } from 'pino';
import type { ClickHouse } from '../storage/clickhouse/client.ts';
import type { Postgres } from '../storage/postgres/db.ts';
import { changedTenancies, syncTenancy, type Tenancy } from './engine.ts';
import { runSequencer } from './sequencer.ts';

export type SyncRun = { sequenced: number; tenancies: number; rows: number };

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
  /** Coalesce bursts of notifications (default 25 ms). */
  debounceMs?: number;
  /** Retry backoff: 250 ms doubling up to this (default 30 s). */
  maxBackoffMs?: number;
};

/**
 * Runs the users sync in the server: woken by `NOTIFY sightline_sync` (the
 * change-capture triggers send it on PostgreSQL and PGlite alike) and by a
 * periodic sweep. A failed run retries with capped exponential backoff; the
 * global cursor only moves once every changed tenancy was mirrored.
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
  const debounceMs = options.debounceMs ?? 25;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  /** Every change with a sequence id at or below this is mirrored. */
  let cursor = 0;
  let running: Promise<SyncRun> | undefined;
  /** The run that starts once `running` ends (callers that arrived during a run share it). */
  let queued: Promise<SyncRun> | undefined;
  let again = false;
  /** After a failure, background runs wait until then (explicit `runOnce` calls do not). */
  let retryAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let sweep: NodeJS.Timeout | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  let stopped = false;
  // PGlite runs no autovacuum: without statistics the planner answers the
  // sequencer's and `changedTenancies`' queries with a scan of every user on
  // every run (80-190 ms at 100 000 users instead of < 1 ms), and dead row
  // versions (each write makes two) pile up. So the sync maintains its tables.
  let maintainedOnce = false;
  let sequencedSinceMaintenance = 0;
  const maintainPglite = async (sequenced: number) => {
    if (postgres.kind !== 'pglite') return;
    sequencedSinceMaintenance += sequenced;
    if (maintainedOnce && sequencedSinceMaintenance < 10_000) return;
    await postgres.execute('VACUUM (ANALYZE) users');
    await postgres.execute('VACUUM (ANALYZE) deleted_rows');
    maintainedOnce = true;
    sequencedSinceMaintenance = 0;
  };
  const health: SyncHealth = { lastSuccessAt: undefined, lastErrorAt: undefined, lastError: undefined, consecutiveFailures: 0 };

  const runNow = async (): Promise<SyncRun> => {
    const sequenced = await runSequencer(postgres);
    await maintainPglite(sequenced);
    const changed = await changedTenancies(postgres, cursor);
    let rows = 0;
    for (const tenancy of changed.tenancies) rows += (await syncTenancy(postgres, ch, tenancy)).rows;
    cursor = changed.maxSequenceId;
    return { sequenced, tenancies: changed.tenancies.length, rows };
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
    running = runNow()
      .then((result) => {
        health.lastSuccessAt = Date.now();
        health.consecutiveFailures = 0;
        retryAt = 0;
        if (result.rows > 0) log.debug(result, 'users sync');
        return result;
      })
      .catch((error: unknown) => {
        health.lastErrorAt = Date.now();
        health.lastError = error instanceof Error ? error.message.split('\n')[0] : String(error);
        health.consecutiveFailures++;
        retryAt = Date.now() + backoffMs();
        throw error;
      })
      .finally(() => {
        running = undefined;
        if (again && !stopped) {
          again = false;
          schedule(0);
        }
      });
    return running;
  };

  /** 250 ms after the first failure, doubling up to `maxBackoffMs`. */
  const backoffMs = () => Math.min(maxBackoffMs, 250 * 2 ** Math.min(Math.max(health.consecutiveFailures - 1, 0), 16));

  const schedule = (delayMs: number) => {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      // Notifications and sweeps during a backoff must not retry early.
      const wait = retryAt - Date.now();
      if (wait > 0) return schedule(wait);
      // A run in progress: run again after it (through `schedule`, so a failure's backoff holds).
      if (running) {
        again = true;
        return;
      }
      runOnce().catch((error: unknown) => {
        log.warn({ err: error, retry_in_ms: Math.max(0, retryAt - Date.now()) }, 'users sync failed; retrying');
        schedule(Math.max(0, retryAt - Date.now()));
      });
    }, delayMs);
  };

  return {
    async start() {
      unlisten = await postgres.listen('sightline_sync', () => schedule(debounceMs));
      sweep = setInterval(() => schedule(0), sweepMs);
      schedule(0);
    },
    runOnce,
    health: () => ({ ...health }),
    wake: () => schedule(debounceMs),
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
