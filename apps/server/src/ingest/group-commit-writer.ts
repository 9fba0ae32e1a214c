import type { Logger } from 'pino';
import { ServiceUnavailable } from '@sightline/protocol';
import type { ClickHouse } from '../storage/clickhouse/client.ts';
import type { Settings } from '../storage/clickhouse/settings.ts';
import { EVENTS_TABLE, type EventRow, type EventSink, type WriteResult } from '../storage/clickhouse/events.ts';
import { eventLines } from './event-lines.ts';
import { RecentBatches } from './recent-batches.ts';

export type GroupCommitOptions = {
  /** Flush once this many rows are waiting (default 5000). */
  maxRows?: number;
  /** …or this many bytes of JSONEachRow (default 8 MiB; chDB parses slower above 10 MiB). */
  maxBytes?: number;
  /** …or when the oldest waiting request has waited this long (default 5 ms). */
  maxWaitMs?: number;
  /**
   * Inserts that may run at once, each on its own connection (default 2). A
   * further one starts only when the running insert is stalled: it has run
   * `overlapAfterMs` and three times as long as inserts usually take. Then a
   * slow insert does not hold every request queued behind it, while normal
   * inserts stay one at a time and large (each insert costs the engine a part,
   * a fixed ~6-17 ms of CPU and later merges).
   */
  connections?: number;
  /** See `connections` (default 30 ms). */
  overlapAfterMs?: number;
  /** Waiting rows beyond which new requests are refused with 503 (default 200 000). */
  maxQueuedRows?: number;
  /** How long a batch id is remembered for deduplication (default 1 hour). */
  dedupWindowMs?: number;
  now?: () => number;
};

type Request = {
  lines: Buffer;
  /** performance.now() when it was queued. */
  queuedAt: number;
  rows: number;
  dedupKey: string | undefined;
  resolve: (result: WriteResult) => void;
  reject: (error: unknown) => void;
};

export type GroupCommitWriter = EventSink & {
  /** Reads the batches of the dedup window from the table (call once at start-up). */
  seed(): Promise<number>;
  /** Writes everything still waiting, then stops accepting. */
  close(): Promise<void>;
  readonly stats: { inserts: number; rows: number; queuedRows: number };
};

/**
 * Group commit: requests that arrive together become one engine insert on a
 * dedicated connection (a second one only while an insert is stalled), and
 * each request is answered only after the insert holding its rows returned.
 * Batches carry a dedup key (tenancy + batch id): a key seen within the
 * window, or still in flight, is not written again.
 *
 * @example
 * const writer = createGroupCommitWriter(ch.dedicated(), log);
 * await writer.seed();
 * await writer.write(rows, { dedupKey: `${projectId}:${branchId}:${batchId}` });
 */
export function createGroupCommitWriter(ch: ClickHouse, log: Logger, options: GroupCommitOptions = {}): GroupCommitWriter {
  const maxRows = options.maxRows ?? 5000;
  const maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
  const maxWaitMs = options.maxWaitMs ?? 5;
  const maxQueuedRows = options.maxQueuedRows ?? 200_000;
  const dedupWindowMs = options.dedupWindowMs ?? 3600_000;
  const now = options.now ?? Date.now;
  // On a server, ClickHouse merges concurrent inserts itself; chDB does not buffer.
  // `{"a.b": 1, "a": {"b": 2}}` names one JSON path twice: keep the first instead of failing.
  const insertSettings: Settings = {
    type_json_skip_duplicated_paths: 1,
    ...(ch.capabilities.embedded ? {} : { async_insert: 1, wait_for_async_insert: 1 }),
  };
  const connections = Math.max(1, options.connections ?? 2);
  const overlapAfterMs = options.overlapAfterMs ?? 30;
  // The first connection is the one handed in; more are opened only when an overlap needs one.
  const idle: ClickHouse[] = [ch];
  let opened = 1;
  const takeConnection = (): ClickHouse | undefined => {
    const free = idle.pop();
    if (free || opened >= connections) return free;
    opened++;
    return ch.dedicated();
  };
  const insert = (connection: ClickHouse, lines: Buffer) =>
    connection.insert({ name: 'ingest.group-commit', table: EVENTS_TABLE, values: lines, settings: insertSettings });

  const recent = new RecentBatches(dedupWindowMs, 2_000_000, now);
  const inFlight = new Map<string, Promise<WriteResult>>();
  const queue: Request[] = [];
  let queuedRows = 0;
  let queuedBytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = 0;
  /** Running inserts, by when they started (performance.now()). */
  const running = new Map<Promise<void>, number>();
  /** How long inserts usually take (moving average, ms). */
  let usualInsertMs = 0;
  let closed = false;
  const stats = { inserts: 0, rows: 0, queuedRows: 0 };

  const setTimer = (ms: number) => {
    const at = performance.now() + ms;
    if (timer && timerAt <= at) return;
    if (timer) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timer = undefined;
      schedule();
    }, Math.max(0, ms));
  };

  /**
   * Starts an insert when one is due: with nothing running, once the size limits
   * or `maxWaitMs` are reached; with inserts running, only once the latest of
   * them looks stalled (a finishing insert also takes the queue along).
   */
  const schedule = () => {
    if (queue.length === 0) return;
    const at = performance.now();
    if (running.size === 0) {
      const waited = at - queue[0]!.queuedAt;
      if (queuedRows >= maxRows || queuedBytes >= maxBytes || waited >= maxWaitMs) start();
      else setTimer(maxWaitMs - waited);
    } else if (running.size < connections) {
      const latest = Math.max(...running.values());
      const stalledAfter = Math.max(overlapAfterMs, 3 * usualInsertMs);
      if (at - latest >= stalledAfter) start();
      else setTimer(stalledAfter - (at - latest));
    }
  };

  const start = () => {
    const connection = takeConnection();
    if (!connection) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    // Whole requests, up to the size limits (one request may exceed them alone).
    const taken: Request[] = [];
    let rows = 0;
    let bytes = 0;
    while (queue.length > 0 && (taken.length === 0 || (rows + queue[0]!.rows <= maxRows && bytes + queue[0]!.lines.length <= maxBytes))) {
      const next = queue.shift()!;
      taken.push(next);
      rows += next.rows;
      bytes += next.lines.length;
    }
    queuedRows -= rows;
    queuedBytes -= bytes;
    stats.queuedRows = queuedRows;
    const succeeded = (done: Request[]) => {
      stats.inserts++;
      const at = now();
      for (const request of done) {
        stats.rows += request.rows;
        if (request.dedupKey) recent.remember(request.dedupKey, request.rows, at);
        request.resolve({ inserted: request.rows, deduped: false });
      }
    };
    const startedAt = performance.now();
    const run = (async () => {
      try {
        await insert(connection, taken.length === 1 ? taken[0]!.lines : Buffer.concat(taken.map((r) => r.lines), bytes));
        const took = performance.now() - startedAt;
        usualInsertMs = usualInsertMs === 0 ? took : 0.8 * usualInsertMs + 0.2 * took;
        succeeded(taken);
      } catch (error) {
        log.error({ err: error, rows, requests: taken.length }, 'group-commit insert failed');
        if (taken.length === 1) {
          taken[0]!.reject(error);
          return;
        }
        // One bad request must not fail the others merged with it: insert them one by one.
        for (const request of taken) {
          try {
            await insert(connection, request.lines);
            succeeded([request]);
          } catch (single) {
            request.reject(single);
          }
        }
      }
    })();
    running.set(run, startedAt);
    void run.finally(() => {
      running.delete(run);
      idle.push(connection);
      // Requests that queued during the insert have waited long enough: go again.
      if (queue.length > 0) start();
      schedule();
    });
    // Still more than one insert's worth waiting: another connection may take it.
    if (queue.length > 0) schedule();
  };

  const enqueue = (rows: readonly EventRow[], dedupKey: string | undefined): Promise<WriteResult> => {
    if (closed) return Promise.reject(new ServiceUnavailable(1, 'The server is shutting down.'));
    if (queuedRows + rows.length > maxQueuedRows) {
      return Promise.reject(new ServiceUnavailable(1, 'Ingestion is busy: the write queue is full.'));
    }
    const batchId = dedupKey ? dedupKey.slice(dedupKey.lastIndexOf(':') + 1) : null;
    const lines = Buffer.from(eventLines(rows, batchId));
    return new Promise<WriteResult>((resolve, reject) => {
      queue.push({ lines, queuedAt: performance.now(), rows: rows.length, dedupKey, resolve, reject });
      queuedRows += rows.length;
      queuedBytes += lines.length;
      stats.queuedRows = queuedRows;
      schedule();
    });
  };

  return {
    stats,

    async write(rows, writeOptions = {}) {
      if (rows.length === 0) return { inserted: 0, deduped: false };
      const key = writeOptions.dedupKey;
      if (!key) return enqueue(rows, undefined);
      const done = recent.get(key);
      if (done !== undefined) return { inserted: done, deduped: true };
      const pending = inFlight.get(key);
      if (pending) return pending.then((result) => ({ ...result, deduped: true }));
      const promise = enqueue(rows, key);
      inFlight.set(key, promise);
      promise.then(
        () => inFlight.delete(key),
        () => inFlight.delete(key),
      );
      return promise;
    },

    async seed() {
      const rows = await ch.query<{ project_id: string; branch_id: string; batch_id: string; n: string; at: string }>({
        name: 'ingest.seed-recent-batches',
        sql: `SELECT project_id, branch_id, batch_id, count() AS n, toUnixTimestamp64Milli(max(created_at)) AS at
              FROM ${EVENTS_TABLE}
              WHERE batch_id IS NOT NULL AND created_at > now64(3) - toIntervalMillisecond({window:UInt64})
              GROUP BY project_id, branch_id, batch_id
              ORDER BY at`,
        params: { window: dedupWindowMs },
      });
      for (const row of rows) recent.remember(`${row.project_id}:${row.branch_id}:${row.batch_id}`, Number(row.n), Number(row.at));
      return rows.length;
    },

    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      while (running.size > 0 || queue.length > 0) {
        if (running.size === 0) start();
        await Promise.race(running.keys());
      }
    },
  };
}
