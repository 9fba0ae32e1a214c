import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { openClickHouse, type ClickHouse, type InsertRequest, type QueryRequest } from '../storage/clickhouse/client.ts';
import { inProcessLock, runClickHouseMigrations } from '../storage/clickhouse/migrations.ts';
import { openPostgres, type Postgres } from '../storage/postgres/db.ts';
import { runPostgresMigrations } from '../storage/postgres/migrations.ts';
import { createTestDatabase, findTestPostgresServer } from '../storage/postgres/test-database.ts';
import { readWatermark, syncTenancy, type Tenancy } from './engine.ts';
import { syncStatus } from './routes.ts';
import { createSyncScheduler, type SyncRunReport, type SyncScheduler } from './scheduler.ts';
import { runSequencer } from './sequencer.ts';
import { tenancyId } from './tenancy-id.ts';
import { verifyUsersPage } from './verify.ts';

/**
 * The sync's pieces wired by hand (no HTTP server), on PGlite and on the
 * PostgreSQL server: a stopped sync's backlog, injected ClickHouse failures,
 * retries with backoff, a crash between insert and watermark, several
 * schedulers sharing one database. One chDB directory for the whole process.
 */

const silent = pino({ level: 'silent' });
const root = mkdtempSync(path.join(tmpdir(), 'sightline-sync-unit-'));
let clickhouse: ClickHouse | undefined;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  clickhouse = await openClickHouse({ kind: 'embedded', dataDir: path.join(root, 'clickhouse') });
  await runClickHouseMigrations(clickhouse, { lock: inProcessLock() });
});
after(async () => {
  await clickhouse?.close();
  rmSync(root, { recursive: true, force: true });
});

const ch = (): ClickHouse => {
  if (!clickhouse) throw new Error('ClickHouse did not open');
  return clickhouse;
};

type Attempt = { at: number; table: string; ok: boolean; maxSequenceId?: number; watermark?: number; tenancy?: string };

/**
 * ClickHouse whose inserts can fail on demand (`failNext` per table) or be
 * slowed down; every insert attempt is recorded.
 */
function faultyClickHouse(inner: ClickHouse) {
  const attempts: Attempt[] = [];
  const failNext = new Map<string, number>();
  const queries = new Map<string, number>();
  let delayMs = 0;
  const wrapper: ClickHouse = {
    capabilities: inner.capabilities,
    cluster: inner.cluster,
    query: <T>(request: QueryRequest<T>) => {
      queries.set(request.name, (queries.get(request.name) ?? 0) + 1);
      return inner.query<T>(request);
    },
    command: (request) => inner.command(request),
    dedicated: () => inner.dedicated(),
    close: async () => undefined,
    async insert(request: InsertRequest) {
      const rows = Array.isArray(request.values) ? (request.values as Record<string, unknown>[]) : [];
      const attempt: Attempt = { at: Date.now(), table: request.table, ok: false };
      if (request.table === 'analytics_internal.users') {
        attempt.maxSequenceId = Math.max(...rows.map((r) => Number(r.sync_sequence_id)));
        attempt.tenancy = tenancyId(String(rows[0]?.project_id), String(rows[0]?.branch_id));
      } else {
        attempt.watermark = Number(rows[0]?.last_synced_sequence_id);
        attempt.tenancy = String(rows[0]?.tenancy_id);
      }
      attempts.push(attempt);
      if (delayMs > 0) await sleep(delayMs);
      const failures = failNext.get(request.table) ?? 0;
      if (failures > 0) {
        failNext.set(request.table, failures - 1);
        throw new Error(`injected ClickHouse failure (${request.table})`);
      }
      await inner.insert(request);
      attempt.ok = true;
    },
  };
  return {
    ch: wrapper,
    attempts,
    /** How many queries of this name ran. */
    queried: (name: string) => queries.get(name) ?? 0,
    fail: (table: string, times: number) => failNext.set(table, times),
    pending: (table: string) => failNext.get(table) ?? 0,
    setDelay: (ms: number) => (delayMs = ms),
  };
}

type Engine = { postgres: Postgres; url?: string; close(): Promise<void> };

async function openEngine(kind: 'pglite' | 'pg'): Promise<Engine | { skip: string }> {
  if (kind === 'pglite') {
    const postgres = await openPostgres({ kind: 'pglite', dataDir: path.join(root, `pglite-${randomUUID()}`) });
    await runPostgresMigrations(postgres);
    return { postgres, close: () => postgres.close() };
  }
  const server = await findTestPostgresServer();
  if (!server.available) return { skip: server.reason };
  const database = await createTestDatabase(server.adminUrl);
  const postgres = await openPostgres({ kind: 'pg', url: database.url });
  await runPostgresMigrations(postgres);
  return {
    postgres,
    url: database.url,
    close: async () => {
      await postgres.close();
      await database.drop();
    },
  };
}

for (const kind of ['pglite', 'pg'] as const) {
  describe(`users sync pieces [${kind === 'pg' ? 'PostgreSQL server' : 'PGlite'}]`, () => {
    let engine: Engine | undefined;
    let unavailable: string | undefined;
    const schedulers: SyncScheduler[] = [];

    before(async () => {
      const opened = await openEngine(kind);
      if ('skip' in opened) unavailable = opened.skip;
      else engine = opened;
    });
    after(async () => {
      for (const scheduler of schedulers) await scheduler.stop();
      await engine?.close();
    });

    /** The engine, or undefined after marking the test skipped (failing under CI). */
    const ready = (t: TestContext): Postgres | undefined => {
      if (engine) return engine.postgres;
      if (unavailable && !process.env.CI) {
        t.skip(unavailable);
        return undefined;
      }
      throw new Error(unavailable ?? 'Postgres did not open');
    };
    /** A scheduler stopped when the test ends, whatever its outcome (so it cannot disturb the next test). */
    const scheduler = (t: TestContext, postgres: Postgres, clickhouse: ClickHouse, options = {}) => {
      const created = createSyncScheduler(postgres, clickhouse, silent, options);
      schedulers.push(created);
      t.after(() => created.stop());
      return created;
    };
    const newTenancy = async (postgres: Postgres, branchId = 'main'): Promise<Tenancy> => {
      const projectId = randomUUID();
      await postgres.execute(`INSERT INTO projects (id, display_name) VALUES ($1, 'sync unit') ON CONFLICT DO NOTHING`, [projectId]);
      return { projectId, branchId };
    };
    const insertUsers = (postgres: Postgres, tenancy: Tenancy, n: number) =>
      postgres.execute(
        `INSERT INTO users (project_id, branch_id, id, display_name, client_metadata, signed_up_at)
         SELECT $1, $2, gen_random_uuid(), 'user ' || g, jsonb_build_object('g', g), now() - (g % 90) * interval '1 day'
         FROM generate_series(1, $3::int) g`,
        [tenancy.projectId, tenancy.branchId, n],
      );
    const statusOf = (postgres: Postgres, clickhouse: ClickHouse, sync: SyncScheduler, tenancy: Tenancy) =>
      syncStatus({ postgres, clickhouse, scheduler: sync }, tenancy).then((s) => s.mappings[0]!);
    const verifyAll = async (postgres: Postgres, tenancy: Tenancy) => {
      let cursor: string | undefined;
      let checked = 0;
      const differences = [];
      let total = 0;
      do {
        const page = await verifyUsersPage(postgres, ch(), tenancy, cursor, 1000);
        checked += page.checked;
        total = page.total;
        differences.push(...page.differences);
        cursor = page.next_cursor ?? undefined;
      } while (cursor);
      return { checked, total, differences };
    };
    const waitCaughtUp = async (postgres: Postgres, sync: SyncScheduler, tenancy: Tenancy, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await statusOf(postgres, ch(), sync, tenancy);
        if (status.backlog === 0) return status;
        if (Date.now() > deadline) assert.fail(`not caught up within ${timeoutMs} ms: ${JSON.stringify(status)}`);
        await sleep(50);
      }
    };

    test('a stopped sync shows its backlog; one run clears it', async (t) => {
      const postgres = ready(t);
      if (!postgres) return;
      const tenancy = await newTenancy(postgres);
      const sync = scheduler(t, postgres, ch()); // never started: no background runs
      await insertUsers(postgres, tenancy, 50);
      await postgres.execute(
        `DELETE FROM users WHERE project_id = $1 AND id IN (SELECT id FROM users WHERE project_id = $1 ORDER BY id LIMIT 5)`,
        [tenancy.projectId],
      );
      // Nothing sequenced yet: 45 rows + 5 tombstones wait for the sequencer.
      let status = await statusOf(postgres, ch(), sync, tenancy);
      assert.equal(status.backlog, 50);
      assert.equal(status.source_max_sequence_id, 0);
      assert.equal(status.last_synced_sequence_id, 0);
      // Sequenced but not mirrored.
      assert.equal(await runSequencer(postgres), 50);
      status = await statusOf(postgres, ch(), sync, tenancy);
      assert.equal(status.backlog, 50);
      assert.ok(status.source_max_sequence_id > 0);
      assert.equal(status.last_synced_sequence_id, 0);
      // One run catches up.
      const run = await sync.runOnce();
      assert.equal(run.rows, 50);
      status = await statusOf(postgres, ch(), sync, tenancy);
      assert.equal(status.backlog, 0);
      assert.equal(status.last_synced_sequence_id, status.source_max_sequence_id);
      assert.equal(status.last_error, null);
      // One more change: backlog 1 until the next run.
      await postgres.execute(`UPDATE users SET display_name = 'changed' WHERE project_id = $1 AND id = (SELECT min(id::text)::uuid FROM users WHERE project_id = $1)`, [
        tenancy.projectId,
      ]);
      assert.equal((await statusOf(postgres, ch(), sync, tenancy)).backlog, 1);
      await sync.runOnce();
      assert.equal((await statusOf(postgres, ch(), sync, tenancy)).backlog, 0);
      assert.deepEqual(await verifyAll(postgres, tenancy), { checked: 45, total: 45, differences: [] });
    });

    test('a ClickHouse failure injected N times recovers by itself, with backoff, and the watermark never passes unsynced rows', async (t) => {
      const postgres = ready(t);
      if (!postgres) return;
      const tenancy = await newTenancy(postgres);
      const faulty = faultyClickHouse(ch());
      // No sweep: only notifications and the retry backoff drive the runs.
      const sync = scheduler(t, postgres, faulty.ch, { sweepMs: 3_600_000 });
      await sync.start();
      const FAILURES = 4;
      // The first batch of 1000 goes through, then ClickHouse fails N times.
      let firstBatchDone = false;
      const original = faulty.ch.insert.bind(faulty.ch);
      faulty.ch.insert = async (request) => {
        await original(request);
        if (!firstBatchDone && request.table === 'analytics_internal.users') {
          firstBatchDone = true;
          faulty.fail('analytics_internal.users', FAILURES);
        }
      };
      await insertUsers(postgres, tenancy, 2500);
      // Meanwhile a storm of notifications (writes to another tenancy) must not defeat the backoff.
      const other = await newTenancy(postgres);
      let storming = true;
      const storm = (async () => {
        let n = 0;
        while (storming && n < 400) {
          await insertUsers(postgres, other, 1);
          n++;
          await sleep(20);
        }
      })();
      // While failing, the status shows the error.
      const deadline = Date.now() + 90_000;
      let sawError = false;
      while (faulty.pending('analytics_internal.users') > 0 || !firstBatchDone) {
        const status = await statusOf(postgres, faulty.ch, sync, tenancy);
        if (status.last_error) {
          sawError = true;
          assert.match(status.last_error, /injected ClickHouse failure/);
          assert.ok(status.backlog > 0);
          assert.ok(status.last_synced_sequence_id < status.source_max_sequence_id);
        }
        assert.ok(Date.now() < deadline, 'failures were not retried');
        await sleep(20);
      }
      storming = false;
      await storm;
      await waitCaughtUp(postgres, sync, tenancy);
      await waitCaughtUp(postgres, sync, other);
      // The backlog can reach 0 before the run that cleared it has finished (other tenancies): wait for its success.
      while (!(sync.health().lastSuccessAt! >= sync.health().lastErrorAt!)) {
        assert.ok(Date.now() < deadline, 'no successful run after the failures');
        await sleep(20);
      }
      const status = await statusOf(postgres, faulty.ch, sync, tenancy);
      assert.ok(sawError || sync.health().lastError, 'the error was visible');
      assert.match(String(status.last_error), /injected ClickHouse failure/);
      assert.ok(status.last_success_at_millis !== null && status.last_error_at_millis !== null);
      assert.ok(status.last_success_at_millis >= status.last_error_at_millis);
      assert.equal(sync.health().consecutiveFailures, 0);

      // Retries back off: 250 ms, 500 ms, 1 s, 2 s... (a little slack for timers).
      const failed = faulty.attempts.filter((a) => a.table === 'analytics_internal.users' && !a.ok && a.tenancy !== undefined);
      const usersAttempts = faulty.attempts.filter((a) => a.table === 'analytics_internal.users');
      const firstFailure = usersAttempts.findIndex((a) => !a.ok);
      const retries = usersAttempts.slice(firstFailure, firstFailure + FAILURES + 1).map((a) => a.at);
      assert.equal(failed.length, FAILURES);
      for (let i = 1; i < retries.length; i++) {
        const gap = retries[i]! - retries[i - 1]!;
        const expected = 250 * 2 ** (i - 1);
        assert.ok(gap >= expected * 0.9, `retry ${i} came after ${gap} ms, expected >= ${expected} ms (gaps: ${retries.map((r) => r - retries[0]!)})`);
      }

      // Watermarks only ever move up, and only to a sequence id whose batch was inserted before.
      const me = tenancyId(tenancy.projectId, tenancy.branchId);
      let inserted = 0;
      let previous = 0;
      for (const attempt of faulty.attempts.filter((a) => a.tenancy === me)) {
        if (attempt.table === 'analytics_internal.users') {
          if (attempt.ok) inserted = Math.max(inserted, attempt.maxSequenceId ?? 0);
        } else if (attempt.ok) {
          assert.ok(attempt.watermark! <= inserted, `watermark ${attempt.watermark} written before rows up to it (${inserted})`);
          assert.ok(attempt.watermark! >= previous, 'watermark moved back');
          previous = attempt.watermark!;
        }
      }
      assert.equal(previous, status.source_max_sequence_id);
      assert.equal(await readWatermark(ch(), tenancy), status.source_max_sequence_id);
      assert.deepEqual(await verifyAll(postgres, tenancy), { checked: 2500, total: 2500, differences: [] });
      await sync.stop();
    });

    test('a crash between the rows and the watermark repeats the batch, without duplicates', async (t) => {
      const postgres = ready(t);
      if (!postgres) return;
      const tenancy = await newTenancy(postgres);
      const faulty = faultyClickHouse(ch());
      const sync = scheduler(t, postgres, faulty.ch);
      await insertUsers(postgres, tenancy, 1500);
      faulty.fail('analytics_internal._stack_sync_metadata', 1);
      await assert.rejects(sync.runOnce(), /injected ClickHouse failure/);
      assert.match(String(sync.health().lastError), /injected/);
      assert.equal(await readWatermark(ch(), tenancy), 0);
      await sync.runOnce();
      const status = await statusOf(postgres, ch(), sync, tenancy);
      assert.equal(status.backlog, 0);
      const [counts] = await ch().query<{ raw: string; final: string }>({
        name: 'test.counts',
        sql: `SELECT (SELECT count() FROM analytics_internal.users WHERE project_id = {p:String}) AS raw,
                     (SELECT count() FROM analytics_internal.users FINAL WHERE project_id = {p:String}) AS final`,
        params: { p: tenancy.projectId },
      });
      assert.equal(Number(counts?.final), 1500);
      assert.ok(Number(counts?.raw) >= 1500);
      assert.deepEqual(await verifyAll(postgres, tenancy), { checked: 1500, total: 1500, differences: [] });
    });

    test('an explicit run requested during a run also mirrors the changes made meanwhile', async (t) => {
      const postgres = ready(t);
      if (!postgres) return;
      const tenancy = await newTenancy(postgres);
      const faulty = faultyClickHouse(ch());
      const sync = scheduler(t, postgres, faulty.ch);
      await insertUsers(postgres, tenancy, 1);
      faulty.setDelay(400);
      const first = sync.runOnce();
      await sleep(150); // the first run is inside its ClickHouse insert
      const late = randomUUID();
      await postgres.execute(`INSERT INTO users (project_id, branch_id, id, display_name) VALUES ($1, 'main', $2, 'late')`, [
        tenancy.projectId,
        late,
      ]);
      const second = sync.runOnce();
      faulty.setDelay(0);
      await first;
      await second;
      const rows = await ch().query({
        name: 'test.late',
        sql: `SELECT display_name FROM default.users WHERE project_id = {p:String} AND id = {id:UUID}`,
        params: { p: tenancy.projectId, id: late },
      });
      assert.deepEqual(rows, [{ display_name: 'late' }]);
    });

    test('delete and re-create of one id: the tombstone is numbered before the new row', async (t) => {
      const postgres = ready(t);
      if (!postgres) return;
      const tenancy = await newTenancy(postgres);
      const id = randomUUID();
      const insert = (name: string) =>
        postgres.execute(`INSERT INTO users (project_id, branch_id, id, display_name, signed_up_at) VALUES ($1, 'main', $2, $3, '2022-02-02T00:00:00Z')`, [
          tenancy.projectId,
          id,
          name,
        ]);
      await insert('one');
      await runSequencer(postgres);
      await postgres.execute('DELETE FROM users WHERE project_id = $1 AND id = $2', [tenancy.projectId, id]);
      await insert('two');
      await postgres.execute('DELETE FROM users WHERE project_id = $1 AND id = $2', [tenancy.projectId, id]);
      await insert('three');
      await runSequencer(postgres);
      const [row] = await postgres.execute<{ sequence_id: number }>('SELECT sequence_id FROM users WHERE project_id = $1', [tenancy.projectId]);
      const tombstones = await postgres.execute<{ sequence_id: number }>(
        'SELECT sequence_id FROM deleted_rows WHERE project_id = $1 ORDER BY sequence_id',
        [tenancy.projectId],
      );
      assert.equal(tombstones.length, 2);
      for (const tombstone of tombstones) assert.ok(tombstone.sequence_id < row!.sequence_id, JSON.stringify({ row, tombstones }));
      await syncTenancy(postgres, ch(), tenancy);
      const visible = await ch().query({
        name: 'test.recreated',
        sql: `SELECT display_name FROM default.users WHERE project_id = {p:String} AND id = {id:UUID}`,
        params: { p: tenancy.projectId, id },
      });
      assert.deepEqual(visible, [{ display_name: 'three' }]);
    });

    test('one sequencer run numbers everything, also a re-created user waiting for a tombstone of a later batch', async (t) => {
      const postgres = ready(t);
      if (!postgres) return;
      const tenancy = await newTenancy(postgres);
      await insertUsers(postgres, tenancy, 9);
      await runSequencer(postgres);
      const [kept] = await postgres.execute<{ id: string }>('SELECT id FROM users WHERE project_id = $1 ORDER BY id DESC LIMIT 1', [tenancy.projectId]);
      await postgres.execute('DELETE FROM users WHERE project_id = $1', [tenancy.projectId]);
      await postgres.execute(`INSERT INTO users (project_id, branch_id, id, display_name) VALUES ($1, 'main', $2, 'back')`, [tenancy.projectId, kept!.id]);
      await runSequencer(postgres, 2); // 9 tombstones in batches of 2; the user waits for its own
      const [marked] = await postgres.execute<{ n: number }>(
        `SELECT (SELECT count(*) FROM users WHERE project_id = $1 AND should_update_sequence_id)::int
              + (SELECT count(*) FROM deleted_rows WHERE project_id = $1 AND should_update_sequence_id)::int AS n`,
        [tenancy.projectId],
      );
      assert.equal(marked?.n, 0);
      const [order] = await postgres.execute<{ user_id: number; tombstone_id: number }>(
        `SELECT u.sequence_id AS user_id, d.sequence_id AS tombstone_id FROM users u
         JOIN deleted_rows d ON d.project_id = u.project_id AND d.primary_key = jsonb_build_object('id', u.id)
         WHERE u.project_id = $1`,
        [tenancy.projectId],
      );
      assert.ok(order!.user_id > order!.tombstone_id, JSON.stringify(order));
    });

    test('several schedulers on one database (several servers) with concurrent writers end identical', async (t) => {
      const postgres = ready(t);
      if (!postgres) return;
      const tenancies = [await newTenancy(postgres), await newTenancy(postgres, 'dev')];
      const handles: Postgres[] = [postgres];
      if (engine?.url) for (let i = 0; i < 2; i++) handles.push(await openPostgres({ kind: 'pg', url: engine.url }, { poolSize: 4 }));
      const syncs = handles.map((handle) => scheduler(t, handle, ch(), { debounceMs: 5 }));
      try {
        for (const sync of syncs) await sync.start();
        for (const tenancy of tenancies) await insertUsers(postgres, tenancy, 200);
        const ids = new Map<Tenancy, string[]>();
        for (const tenancy of tenancies) {
          const rows = await postgres.execute<{ id: string }>('SELECT id FROM users WHERE project_id = $1 AND branch_id = $2', [
            tenancy.projectId,
            tenancy.branchId,
          ]);
          ids.set(tenancy, rows.map((r) => r.id));
        }
        const writes = Array.from({ length: 600 }, (_, i) => async () => {
          const handle = handles[i % handles.length]!;
          const tenancy = tenancies[i % 2]!;
          const list = ids.get(tenancy)!;
          const id = list[(i * 13) % list.length]!;
          if (i % 97 === 0) {
            await handle.transaction(async (tx) => {
              await tx.execute('DELETE FROM users WHERE project_id = $1 AND branch_id = $2 AND id = $3', [tenancy.projectId, tenancy.branchId, id]);
              await tx.execute(`INSERT INTO users (project_id, branch_id, id, display_name) VALUES ($1, $2, $3, $4)`, [
                tenancy.projectId,
                tenancy.branchId,
                id,
                `recreated ${i}`,
              ]);
            });
          } else {
            await handle.execute(
              `UPDATE users SET display_name = $4, server_metadata = jsonb_build_object('i', $5::int) WHERE project_id = $1 AND branch_id = $2 AND id = $3`,
              [tenancy.projectId, tenancy.branchId, id, `w ${i}`, i],
            );
          }
          if (i % 50 === 0) await syncs[i % syncs.length]!.runOnce();
        });
        let next = 0;
        await Promise.all(
          Array.from({ length: 12 }, async () => {
            while (next < writes.length) await writes[next++]!();
          }),
        );
        for (const tenancy of tenancies) {
          const status = await waitCaughtUp(postgres, syncs[0]!, tenancy);
          assert.equal(status.last_synced_sequence_id, status.source_max_sequence_id);
          assert.deepEqual(await verifyAll(postgres, tenancy), { checked: 200, total: 200, differences: [] });
        }
      } finally {
        for (const sync of syncs) await sync.stop();
        for (const handle of handles.slice(1)) await handle.close();
      }
    });

    test('watermarks are read from ClickHouse once, kept in memory, and read again after any failure', async (t) => {
      const postgres = ready(t);
      if (!postgres) return;
      const tenancy = await newTenancy(postgres);
      const faulty = faultyClickHouse(ch());
      const sync = scheduler(t, postgres, faulty.ch);
      const reads = () => faulty.queried('sync.read-watermark');
      await insertUsers(postgres, tenancy, 10);
      await sync.runOnce(); // reads the watermark of every tenancy it mirrors (earlier tests' too)
      const afterFirstRun = reads();
      assert.ok(afterFirstRun >= 1);
      for (let i = 0; i < 3; i++) {
        await insertUsers(postgres, tenancy, 1);
        await sync.runOnce();
      }
      assert.equal(reads(), afterFirstRun, 'later runs use the in-memory watermark');
      // Someone else mirrors and moves the durable watermark on (another server): the
      // in-memory copy is lower, so this server repeats those rows and skips none.
      await insertUsers(postgres, tenancy, 5);
      await runSequencer(postgres);
      await syncTenancy(postgres, ch(), tenancy);
      await insertUsers(postgres, tenancy, 2);
      assert.equal((await sync.runOnce()).rows, 7);
      // A failed watermark write: the copy is dropped and the next run reads ClickHouse.
      await insertUsers(postgres, tenancy, 3);
      faulty.fail('analytics_internal._stack_sync_metadata', 1);
      await assert.rejects(sync.runOnce(), /injected ClickHouse failure/);
      const before = reads();
      await sync.runOnce();
      assert.equal(reads(), before + 1);
      assert.equal((await statusOf(postgres, ch(), sync, tenancy)).backlog, 0);
      assert.deepEqual(await verifyAll(postgres, tenancy), { checked: 23, total: 23, differences: [] });
    });

    test('a storm of notifications during a run causes one run right after it, not a queue and not a wait for the sweep', async (t) => {
      const postgres = ready(t);
      if (!postgres) return;
      const tenancy = await newTenancy(postgres);
      const faulty = faultyClickHouse(ch());
      const reports: SyncRunReport[] = [];
      // No sweep: only notifications drive the runs.
      const sync = scheduler(t, postgres, faulty.ch, { sweepMs: 3_600_000, onRun: (report: SyncRunReport) => reports.push(report) });
      await insertUsers(postgres, tenancy, 1);
      await sync.start();
      await waitCaughtUp(postgres, sync, tenancy);
      // The backlog reaches 0 before the run that cleared it reports: wait for that report.
      while (!reports.some((r) => r.rows > 0)) await sleep(10);
      faulty.setDelay(300); // every insert now takes 300 ms: the storm lands inside runs
      const first = reports.length;
      const WRITES = 40;
      const stormStarted = performance.now();
      for (let i = 0; i < WRITES; i++) {
        await insertUsers(postgres, tenancy, 1); // one statement, one notification each
        await sleep(10);
      }
      const lastWriteAt = performance.now();
      await waitCaughtUp(postgres, sync, tenancy);
      faulty.setDelay(0);
      const storm = reports.slice(first);
      // 40 notifications: runs start at least the default 500 ms floor apart while
      // the writes last, plus the one that catches the tail — not one per notification.
      const atMost = Math.floor((lastWriteAt - stormStarted) / 500) + 2;
      assert.ok(storm.length >= 1 && storm.length <= atMost, `runs: ${storm.length} in ${(lastWriteAt - stormStarted).toFixed(0)} ms of writes`);
      for (let i = 1; i < storm.length; i++) {
        const gap = storm[i]!.startedAt - (storm[i - 1]!.startedAt + storm[i - 1]!.durationMs);
        assert.ok(gap >= 0, 'runs never overlap');
        // The follow-up run starts as soon as the previous one ends (timers aside), not after a sweep.
        if (storm[i - 1]!.startedAt + storm[i - 1]!.durationMs < lastWriteAt) assert.ok(gap < 100, `idle gap of ${gap.toFixed(0)} ms between runs`);
      }
      assert.ok(storm.every((r) => r.ok));
      assert.equal(storm.reduce((sum, r) => sum + r.rows, 0), WRITES);
      assert.deepEqual(await verifyAll(postgres, tenancy), { checked: WRITES + 1, total: WRITES + 1, differences: [] });
    });

    test('under a stream of changes background runs keep their floor apart; a change after a quiet spell runs at once', async (t) => {
      const postgres = ready(t);
      if (!postgres) return;
      const tenancy = await newTenancy(postgres);
      const reports: SyncRunReport[] = [];
      const sync = scheduler(t, postgres, ch(), { sweepMs: 3_600_000, minIntervalMs: 300, onRun: (report: SyncRunReport) => reports.push(report) });
      await insertUsers(postgres, tenancy, 1);
      await sync.start();
      await waitCaughtUp(postgres, sync, tenancy);
      while (!reports.some((r) => r.rows > 0)) await sleep(10);

      await sleep(400); // quieter than the floor
      const quiet = reports.length;
      const changedAt = performance.now();
      await insertUsers(postgres, tenancy, 1);
      while (reports.length === quiet) await sleep(5);
      const served = reports[quiet]!;
      assert.ok(served.startedAt - changedAt < 250, `a lone change waited ${(served.startedAt - changedAt).toFixed(0)} ms`);

      const first = reports.length;
      const WRITES = 30;
      const writesStarted = performance.now();
      for (let i = 0; i < WRITES; i++) {
        await insertUsers(postgres, tenancy, 1);
        await sleep(20);
      }
      const writingMs = performance.now() - writesStarted;
      const deadline = Date.now() + 15_000;
      while (reports.slice(first).reduce((sum, r) => sum + r.rows, 0) < WRITES && Date.now() < deadline) await sleep(20);
      const stream = reports.slice(first);
      assert.equal(stream.reduce((sum, r) => sum + r.rows, 0), WRITES);
      for (let i = 1; i < stream.length; i++) {
        const apart = stream[i]!.startedAt - stream[i - 1]!.startedAt;
        assert.ok(apart >= 300, `runs started ${apart.toFixed(1)} ms apart`);
      }
      // Changes every 20-odd ms: one run per floor while they last, plus the one
      // that catches the tail — not one per change.
      const atMost = Math.floor(writingMs / 300) + 2;
      assert.ok(stream.length >= 2 && stream.length <= atMost, `runs: ${stream.length} in ${writingMs.toFixed(0)} ms of writes`);
    });

    // Last: TRUNCATE empties the table for every tenancy of this engine.
    test('TRUNCATE leaves a tombstone for every user, so the mirror empties too', async (t) => {
      const postgres = ready(t);
      if (!postgres) return;
      const tenancy = await newTenancy(postgres);
      const sync = scheduler(t, postgres, ch());
      await insertUsers(postgres, tenancy, 20);
      await sync.runOnce();
      assert.equal((await verifyAll(postgres, tenancy)).checked, 20);
      await postgres.execute('TRUNCATE users CASCADE');
      await sync.runOnce();
      assert.equal((await statusOf(postgres, ch(), sync, tenancy)).backlog, 0);
      const [mirrored] = await ch().query<{ n: string }>({
        name: 'test.mirror-count',
        sql: 'SELECT count() AS n FROM analytics_internal.users FINAL WHERE project_id = {p:String} AND sync_is_deleted = 0',
        params: { p: tenancy.projectId },
      });
      assert.equal(Number(mirrored?.n), 0);
      assert.deepEqual(await verifyAll(postgres, tenancy), { checked: 0, total: 0, differences: [] });
    });
  });
}
