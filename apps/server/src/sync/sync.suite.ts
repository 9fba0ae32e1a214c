import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { openPostgres, type Postgres } from '../storage/postgres/db.ts';
import { findTestPostgresServer } from '../storage/postgres/test-database.ts';
import { describeWithServer, type PostgresKind, type TestProject } from '../testing/test-server.ts';

type Row = Record<string, unknown>;
type Status = {
  mapping: string;
  source_max_sequence_id: number;
  last_synced_sequence_id: number;
  backlog: number;
  last_success_at_millis: number | null;
  last_error_at_millis: number | null;
  last_error: string | null;
};
type VerifyPage = {
  checked: number;
  total: number;
  differences: { id: string; kind: string; fields?: { field: string }[] }[];
  next_cursor: string | null;
};

/** Generous: the machine may be shared with benchmarks. The 2-second lag target is measured in bench/sync. */
const CONVERGE_MS = 30_000;
/** A single change made by the background sync (no explicit run) must arrive within this. */
const BACKGROUND_MS = 5_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Issue 7's users sync (DESIGN.md section 10) end to end through a real
 * server: API and raw-SQL writes, the background sync, the `users` view of the
 * query path, the status route and the operator's verify route.
 */
export function runSyncSuite(kind: PostgresKind): void {
  describeWithServer('users sync', kind, { env: { SIGHTLINE_INGEST_RATE_LIMIT: '0' } }, (t) => {
    const operator = () => ({ authorization: `Bearer ${t().server.adminSecret}` });
    const pg = () => t().server.engines.postgres;

    const query = async (project: TestProject, sql: string, params?: Row, branchId?: string): Promise<Row[]> => {
      const res = await t().request({
        method: 'POST',
        url: '/api/v1/internal/analytics/query',
        headers: project.headers('admin', branchId ? { branchId } : {}),
        payload: { query: sql, ...(params ? { params } : {}) },
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.json().result as Row[];
    };

    const status = async (project: TestProject, branchId?: string): Promise<Status> => {
      const res = await t().request({
        method: 'GET',
        url: '/api/v1/internal/sync/status',
        headers: project.headers('admin', branchId ? { branchId } : {}),
      });
      assert.equal(res.statusCode, 200, res.body);
      const [mapping] = res.json().mappings as Status[];
      assert.ok(mapping);
      return mapping;
    };

    /** Polls `read` until `done` holds; fails with the last value after `timeoutMs`. */
    const waitFor = async <T>(label: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = CONVERGE_MS) => {
      const deadline = Date.now() + timeoutMs;
      let last: T | undefined;
      for (;;) {
        last = await read();
        if (done(last)) return last;
        if (Date.now() > deadline) assert.fail(`${label}: not reached within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
        await sleep(50);
      }
    };

    const caughtUp = (project: TestProject, branchId?: string) =>
      waitFor(`sync of ${project.projectId}/${branchId ?? 'main'}`, () => status(project, branchId), (s) => s.backlog === 0);

    const verifyAll = async (project: TestProject, branchId = 'main', limit = 1000) => {
      let cursor: string | null = null;
      let checked = 0;
      let total = 0;
      const differences: VerifyPage['differences'] = [];
      do {
        const qs = new URLSearchParams({ branch_id: branchId, limit: String(limit), ...(cursor ? { cursor } : {}) });
        const res = await t().request({
          method: 'GET',
          url: `/api/v1/internal/operator/projects/${project.projectId}/sync/verify?${qs}`,
          headers: operator(),
        });
        assert.equal(res.statusCode, 200, res.body);
        const page = res.json() as VerifyPage;
        checked += page.checked;
        total = page.total;
        differences.push(...page.differences);
        cursor = page.next_cursor;
      } while (cursor);
      return { checked, total, differences };
    };

    const createUser = async (project: TestProject, body: Row = {}, branchId?: string): Promise<string> => {
      const res = await t().request({
        method: 'POST',
        url: '/api/v1/users',
        headers: project.headers('server', branchId ? { branchId } : {}),
        payload: body,
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json().id as string;
    };
    const patchUser = async (project: TestProject, id: string, body: Row, branchId?: string) => {
      const res = await t().request({
        method: 'PATCH',
        url: `/api/v1/users/${id}`,
        headers: project.headers('server', branchId ? { branchId } : {}),
        payload: body,
      });
      assert.equal(res.statusCode, 200, res.body);
    };
    const deleteUser = async (project: TestProject, id: string) => {
      const res = await t().request({ method: 'DELETE', url: `/api/v1/users/${id}`, headers: project.headers('server') });
      assert.equal(res.statusCode, 200, res.body);
    };

    const userById = async (project: TestProject, id: string, branchId?: string) =>
      query(
        project,
        `SELECT toString(id) AS id, display_name, profile_image_url, primary_email, primary_email_verified,
                toUnixTimestamp64Milli(signed_up_at) AS signed_up_ms, client_metadata, client_read_only_metadata,
                server_metadata, is_anonymous, restricted_by_admin, restricted_by_admin_reason,
                restricted_by_admin_private_details
         FROM users WHERE id = {id:String}`,
        { id },
        branchId,
      );

    test('create, update and delete arrive through the query path (metadata as JSON text, booleans, signed_up_at)', async () => {
      const project = await t().createProject();
      const signedUp = Date.UTC(2024, 2, 14, 15, 9, 26, 535);
      const started = Date.now();
      const id = await createUser(project, {
        display_name: 'Ada',
        primary_email: 'ada@example.test',
        primary_email_verified: true,
        profile_image_url: 'https://example.test/ada.png',
        client_metadata: { theme: 'dark', nested: { list: [1, 'two', null], ok: true } },
        client_read_only_metadata: { plan: 'pro' },
        server_metadata: null,
        is_anonymous: false,
        restricted_by_admin: true,
        restricted_by_admin_reason: 'reason',
        restricted_by_admin_private_details: 'private',
        signed_up_at_millis: signedUp,
      });
      // The background sync alone (woken by NOTIFY) brings it over, within seconds.
      const [created] = await waitFor('created user visible', () => userById(project, id), (rows) => rows.length === 1, BACKGROUND_MS);
      const arrivedMs = Date.now() - started;
      assert.ok(arrivedMs < BACKGROUND_MS, `arrived after ${arrivedMs} ms`);
      assert.ok(created);
      assert.equal(created.id, id);
      assert.equal(created.display_name, 'Ada');
      assert.equal(created.primary_email, 'ada@example.test');
      assert.equal(created.profile_image_url, 'https://example.test/ada.png');
      assert.equal(Number(created.primary_email_verified), 1);
      assert.equal(Number(created.is_anonymous), 0);
      assert.equal(Number(created.restricted_by_admin), 1);
      assert.equal(created.restricted_by_admin_reason, 'reason');
      assert.equal(created.restricted_by_admin_private_details, 'private');
      assert.equal(Number(created.signed_up_ms), signedUp);
      assert.equal(typeof created.client_metadata, 'string');
      assert.deepEqual(JSON.parse(String(created.client_metadata)), { theme: 'dark', nested: { list: [1, 'two', null], ok: true } });
      assert.deepEqual(JSON.parse(String(created.client_read_only_metadata)), { plan: 'pro' });
      assert.equal(created.server_metadata, 'null');
      // JSON functions work on the text.
      assert.deepEqual(
        await query(project, "SELECT JSONExtractString(client_metadata, 'theme') AS theme FROM users WHERE id = {id:UUID}", { id }),
        [{ theme: 'dark' }],
      );

      await patchUser(project, id, {
        display_name: 'Ada Lovelace',
        primary_email_verified: false,
        is_anonymous: true,
        restricted_by_admin: false,
        restricted_by_admin_reason: null,
        client_metadata: null,
        server_metadata: { tier: 3 },
        signed_up_at_millis: signedUp + 1,
      });
      const [updated] = await waitFor(
        'update visible',
        () => userById(project, id),
        (rows) => rows[0]?.display_name === 'Ada Lovelace',
        BACKGROUND_MS,
      );
      assert.ok(updated);
      assert.equal(Number(updated.primary_email_verified), 0);
      assert.equal(Number(updated.is_anonymous), 1);
      assert.equal(Number(updated.restricted_by_admin), 0);
      assert.equal(updated.restricted_by_admin_reason, null);
      assert.equal(updated.client_metadata, 'null');
      assert.deepEqual(JSON.parse(String(updated.server_metadata)), { tier: 3 });
      assert.equal(Number(updated.signed_up_ms), signedUp + 1);
      assert.equal((await query(project, 'SELECT count() AS n FROM users')).at(0)?.n, 1);

      await deleteUser(project, id);
      await waitFor('delete visible', () => userById(project, id), (rows) => rows.length === 0, BACKGROUND_MS);
      assert.deepEqual(await query(project, 'SELECT count() AS n FROM users'), [{ n: 0 }]);
      // The tombstone is a row of the mirror, hidden by the view.
      const mirror = await t().server.engines.clickhouse.query<{ deleted: number }>({
        name: 'test.tombstone',
        sql: `SELECT sync_is_deleted AS deleted FROM analytics_internal.users FINAL WHERE project_id = {p:String} AND id = {id:UUID}`,
        params: { p: project.projectId, id },
      });
      assert.deepEqual(mirror.map((r) => Number(r.deleted)), [1]);
      const s = await caughtUp(project);
      assert.equal(s.last_synced_sequence_id, s.source_max_sequence_id);
    });

    test('many updates to one user leave one row with the last values (FINAL)', async () => {
      const project = await t().createProject();
      const id = await createUser(project, { display_name: 'v0' });
      for (let i = 1; i <= 40; i++) {
        await patchUser(project, id, { display_name: `v${i}`, client_metadata: { i } });
        if (i % 10 === 0) await sleep(100); // let some versions reach ClickHouse in between
      }
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => patchUser(project, id, { server_metadata: { concurrent: i } })),
      );
      await patchUser(project, id, { display_name: 'last', client_metadata: { i: 'last' } });
      await caughtUp(project);
      const rows = await query(project, 'SELECT toString(id) AS id, display_name, client_metadata FROM users');
      assert.deepEqual(rows, [{ id, display_name: 'last', client_metadata: '{"i":"last"}' }]);
      const versions = await t().server.engines.clickhouse.query<{ n: number }>({
        name: 'test.versions',
        sql: `SELECT count() AS n FROM analytics_internal.users WHERE project_id = {p:String} AND id = {id:UUID}`,
        params: { p: project.projectId, id },
      });
      assert.ok(Number(versions[0]?.n) >= 1);
      assert.deepEqual((await verifyAll(project)).differences, []);
    });

    test('a raw SQL update (no application code) still arrives: triggers cannot be bypassed', async () => {
      const project = await t().createProject();
      const id = await createUser(project, { display_name: 'before' });
      await waitFor('user visible', () => userById(project, id), (rows) => rows.length === 1);
      await pg().execute(
        `UPDATE users SET display_name = 'raw', server_metadata = '{"raw": true}'::jsonb, should_update_sequence_id = false
         WHERE project_id = $1 AND id = $2`,
        [project.projectId, id],
      );
      const [row] = await waitFor('raw update visible', () => userById(project, id), (rows) => rows[0]?.display_name === 'raw', BACKGROUND_MS);
      assert.deepEqual(JSON.parse(String(row?.server_metadata)), { raw: true });
      // A raw insert (any columns) and a raw delete arrive too.
      const rawId = randomUUID();
      await pg().execute(
        `INSERT INTO users (project_id, branch_id, id, display_name, sequence_id, should_update_sequence_id)
         VALUES ($1, 'main', $2, 'inserted raw', 999999999, false)`,
        [project.projectId, rawId],
      );
      await waitFor('raw insert visible', () => userById(project, rawId), (rows) => rows[0]?.display_name === 'inserted raw');
      await pg().execute('DELETE FROM users WHERE project_id = $1 AND id = $2', [project.projectId, id]);
      await waitFor('raw delete visible', () => userById(project, id), (rows) => rows.length === 0);
      await caughtUp(project);
      assert.deepEqual(await verifyAll(project), { checked: 1, total: 1, differences: [] });
    });

    test('raw SQL that sets the sync columns or changes a key still arrives', async () => {
      const project = await t().createProject();
      const id = await createUser(project, { display_name: 'first' });
      await waitFor('user visible', () => userById(project, id), (rows) => rows.length === 1);
      // Setting sequence_id by hand does not make the change look like the sequencer's.
      const [{ seq } = { seq: 0 }] = await pg().execute<{ seq: number }>(
        'SELECT sequence_id AS seq FROM users WHERE project_id = $1 AND id = $2',
        [project.projectId, id],
      );
      await pg().execute(
        `UPDATE users SET display_name = 'explicit', sequence_id = $3 + 1000000, should_update_sequence_id = false
         WHERE project_id = $1 AND id = $2`,
        [project.projectId, id, seq],
      );
      await waitFor('explicit update visible', () => userById(project, id), (rows) => rows[0]?.display_name === 'explicit', BACKGROUND_MS);
      // Changing the key leaves a tombstone for the old one.
      const moved = randomUUID();
      await pg().execute('UPDATE users SET id = $3 WHERE project_id = $1 AND id = $2', [project.projectId, id, moved]);
      await waitFor('old id gone', () => userById(project, id), (rows) => rows.length === 0, BACKGROUND_MS);
      await waitFor('new id visible', () => userById(project, moved), (rows) => rows[0]?.display_name === 'explicit');
      await caughtUp(project);
      assert.deepEqual(await verifyAll(project), { checked: 1, total: 1, differences: [] });
    });

    test('concurrent writers (parallel requests and raw SQL on parallel connections) end identical to Postgres', async () => {
      const project = await t().createProject();
      const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => createUser(project, { display_name: `u${i}` })));
      // Raw SQL writers: several connections on the PostgreSQL server, the one session on PGlite.
      const writers: Postgres[] = [];
      if (kind === 'pg') {
        const [{ db } = { db: '' }] = await pg().execute<{ db: string }>('SELECT current_database() AS db');
        const url = new URL((await findTestPostgresServer()).adminUrl);
        url.pathname = `/${db}`;
        for (let i = 0; i < 4; i++) writers.push(await openPostgres({ kind: 'pg', url: url.toString() }, { poolSize: 4 }));
      } else writers.push(pg());
      try {
        let stop = false;
        // Explicit runs race the background sync and the writers.
        const runner = (async () => {
          let runs = 0;
          while (!stop) {
            const res = await t().request({ method: 'POST', url: '/api/v1/internal/operator/sync/run', headers: operator() });
            assert.equal(res.statusCode, 200, res.body);
            runs++;
            await sleep(15);
          }
          return runs;
        })();
        const pick = (n: number) => ids[n % ids.length]!;
        const apiUpdates = Array.from({ length: 150 }, (_, i) => async () =>
          patchUser(project, pick(i * 7), { display_name: `api ${i}`, client_metadata: { api: i } }),
        );
        const rawUpdates = Array.from({ length: 250 }, (_, i) => async () => {
          const writer = writers[i % writers.length]!;
          if (i % 50 === 49) {
            // A few transactions touching several users, in id order to avoid deadlocks.
            await writer.transaction(async (tx) => {
              for (const id of [pick(i), pick(i + 1), pick(i + 2)].sort()) {
                await tx.execute(`UPDATE users SET primary_email_verified = NOT primary_email_verified WHERE project_id = $1 AND id = $2`, [
                  project.projectId,
                  id,
                ]);
              }
            });
            return;
          }
          await writer.execute(
            `UPDATE users SET display_name = $3, server_metadata = jsonb_build_object('raw', $4::int), is_anonymous = $4::int % 2 = 0
             WHERE project_id = $1 AND id = $2`,
            [project.projectId, pick(i * 3 + 1), `raw ${i}`, i],
          );
        });
        // Inserts and deletes in the middle of it all.
        const churn = Array.from({ length: 20 }, (_, i) => async () => {
          const id = randomUUID();
          await writers[i % writers.length]!.execute(
            `INSERT INTO users (project_id, branch_id, id, display_name) VALUES ($1, 'main', $2, $3)`,
            [project.projectId, id, `churn ${i}`],
          );
          if (i % 2 === 0) await writers[(i + 1) % writers.length]!.execute('DELETE FROM users WHERE project_id = $1 AND id = $2', [project.projectId, id]);
        });
        const tasks = [...apiUpdates, ...rawUpdates, ...churn].sort(() => Math.random() - 0.5);
        let next = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < tasks.length) await tasks[next++]!();
          }),
        );
        stop = true;
        assert.ok((await runner) > 0);
      } finally {
        if (kind === 'pg') await Promise.all(writers.map((w) => w.close()));
      }
      const s = await caughtUp(project);
      assert.equal(s.last_synced_sequence_id, s.source_max_sequence_id);
      const verified = await verifyAll(project, 'main', 7);
      assert.deepEqual(verified.differences, []);
      assert.equal(verified.total, 40);
      assert.equal(verified.checked, 40);
      assert.deepEqual(await query(project, 'SELECT count() AS n, uniqExact(id) AS u FROM users'), [{ n: 40, u: 40 }]);
      const [expected] = await pg().execute<{ n: number }>(
        "SELECT count(*)::int AS n FROM users WHERE project_id = $1 AND display_name LIKE 'raw %'",
        [project.projectId],
      );
      assert.deepEqual(await query(project, "SELECT count() AS n FROM users WHERE display_name LIKE 'raw %'"), [{ n: expected?.n }]);
    });

    test('a deleted then re-created id (raw SQL, same id) ends visible with the new values', async () => {
      const project = await t().createProject();
      const id = await createUser(project, { display_name: 'first', client_metadata: { life: 1 } });
      await waitFor('first visible', () => userById(project, id), (rows) => rows.length === 1);
      // Delete and re-create in one transaction: tombstone and row are sequenced in the same run.
      await pg().transaction(async (tx) => {
        await tx.execute('DELETE FROM users WHERE project_id = $1 AND id = $2', [project.projectId, id]);
        await tx.execute(
          `INSERT INTO users (project_id, branch_id, id, display_name, client_metadata) VALUES ($1, 'main', $2, 'second', '{"life": 2}')`,
          [project.projectId, id],
        );
      });
      await caughtUp(project);
      assert.deepEqual(await query(project, 'SELECT display_name, client_metadata FROM users WHERE id = {id:UUID}', { id }), [
        { display_name: 'second', client_metadata: '{"life":2}' },
      ]);
      // Delete, let the deletion arrive, then re-create.
      await pg().execute('DELETE FROM users WHERE project_id = $1 AND id = $2', [project.projectId, id]);
      await waitFor('deleted', () => userById(project, id), (rows) => rows.length === 0);
      await pg().execute(
        `INSERT INTO users (project_id, branch_id, id, display_name, client_metadata) VALUES ($1, 'main', $2, 'third', '{"life": 3}')`,
        [project.projectId, id],
      );
      await waitFor('re-created', () => userById(project, id), (rows) => rows[0]?.display_name === 'third');
      // Delete and re-create as separate transactions with no sync in between is the same case as the first.
      await pg().execute('DELETE FROM users WHERE project_id = $1 AND id = $2', [project.projectId, id]);
      await pg().execute(
        `INSERT INTO users (project_id, branch_id, id, display_name, client_metadata) VALUES ($1, 'main', $2, 'fourth', '{"life": 4}')`,
        [project.projectId, id],
      );
      await caughtUp(project);
      assert.deepEqual(await query(project, 'SELECT display_name FROM users'), [{ display_name: 'fourth' }]);
      assert.deepEqual(await verifyAll(project), { checked: 1, total: 1, differences: [] });
    });

    test('tombstones and live rows are merged by FINAL across partitions (signed_up_at months differ)', async () => {
      const project = await t().createProject();
      const months = [Date.UTC(2021, 0, 10), Date.UTC(2023, 5, 20), Date.UTC(2025, 10, 1), Date.now()];
      const ids: string[] = [];
      for (const [i, at] of months.entries()) ids.push(await createUser(project, { display_name: `m${i}`, signed_up_at_millis: at }));
      await caughtUp(project);
      // Delete the oldest; move another one to a different month; update a third.
      await deleteUser(project, ids[0]!);
      await patchUser(project, ids[1]!, { signed_up_at_millis: Date.UTC(2019, 3, 3), display_name: 'moved' });
      await patchUser(project, ids[2]!, { display_name: 'updated' });
      await caughtUp(project);
      const check = async () => {
        const rows = await query(project, 'SELECT toString(id) AS id, display_name, toYYYYMM(signed_up_at) AS month FROM users ORDER BY signed_up_at');
        assert.deepEqual(rows, [
          { id: ids[1], display_name: 'moved', month: 201904 },
          { id: ids[2], display_name: 'updated', month: 202511 },
          { id: ids[3], display_name: 'm3', month: Number(new Date().toISOString().slice(0, 7).replace('-', '')) },
        ]);
      };
      await check();
      // The tombstone lives in the deleted row's own partition.
      const [tombstone] = await t().server.engines.clickhouse.query<{ partition: string; deleted: number }>({
        name: 'test.partition',
        sql: `SELECT _partition_id AS partition, sync_is_deleted AS deleted FROM analytics_internal.users
              WHERE project_id = {p:String} AND id = {id:UUID} ORDER BY sync_sequence_id DESC LIMIT 1`,
        params: { p: project.projectId, id: ids[0] },
      });
      assert.deepEqual({ ...tombstone, deleted: Number(tombstone?.deleted) }, { partition: '202101', deleted: 1 });
      // After merges the answer is the same.
      await t().server.engines.clickhouse.command({ name: 'test.optimize', sql: 'OPTIMIZE TABLE analytics_internal.users FINAL' });
      await check();
      assert.deepEqual((await verifyAll(project)).differences, []);
    });

    describe('tenancies never mix', () => {
      test('two projects', async () => {
        const [a, b] = [await t().createProject(), await t().createProject()];
        const sharedId = randomUUID();
        for (const [project, name] of [[a, 'alpha'], [b, 'beta']] as const) {
          await createUser(project, { display_name: `${name} 1`, primary_email: `one@${name}.test` });
          await createUser(project, { display_name: `${name} 2` });
          // The same user id in both projects (raw SQL).
          await pg().execute(`INSERT INTO users (project_id, branch_id, id, display_name) VALUES ($1, 'main', $2, $3)`, [
            project.projectId,
            sharedId,
            `${name} shared`,
          ]);
        }
        await pg().execute('DELETE FROM users WHERE project_id = $1 AND id = $2', [a.projectId, sharedId]);
        await caughtUp(a);
        await caughtUp(b);
        const names = async (project: TestProject) =>
          (await query(project, 'SELECT display_name FROM users ORDER BY display_name')).map((r) => r.display_name);
        assert.deepEqual(await names(a), ['alpha 1', 'alpha 2']);
        assert.deepEqual(await names(b), ['beta 1', 'beta 2', 'beta shared']);
        for (const project of [a, b]) {
          assert.deepEqual(await query(project, 'SELECT uniqExact(project_id) AS n, any(project_id) AS p FROM users'), [
            { n: 1, p: project.projectId },
          ]);
          assert.deepEqual((await verifyAll(project)).differences, []);
        }
        const [sa, sb] = [await status(a), await status(b)];
        assert.notEqual(sa.last_synced_sequence_id, 0);
        assert.notEqual(sb.last_synced_sequence_id, 0);
        // Each tenancy has its own watermark (tenancy_id = name-based UUID of project:branch).
        const watermarks = await t().server.engines.clickhouse.query<{ n: number }>({
          name: 'test.watermarks',
          sql: `SELECT uniqExact(tenancy_id) AS n FROM analytics_internal._stack_sync_metadata`,
        });
        assert.ok(Number(watermarks[0]?.n) >= 2);
      });

      test('two branches of one project', async () => {
        const project = await t().createProject();
        const mainId = await createUser(project, { display_name: 'on main' });
        const devId = await createUser(project, { display_name: 'on dev' }, 'dev');
        const sharedId = randomUUID();
        for (const branch of ['main', 'dev']) {
          await pg().execute(`INSERT INTO users (project_id, branch_id, id, display_name) VALUES ($1, $2, $3, $4)`, [
            project.projectId,
            branch,
            sharedId,
            `shared on ${branch}`,
          ]);
        }
        await patchUser(project, devId, { display_name: 'dev updated' }, 'dev');
        await pg().execute(`UPDATE users SET display_name = 'shared main updated' WHERE project_id = $1 AND branch_id = 'main' AND id = $2`, [
          project.projectId,
          sharedId,
        ]);
        await pg().execute(`DELETE FROM users WHERE project_id = $1 AND branch_id = 'dev' AND id = $2`, [project.projectId, sharedId]);
        await caughtUp(project);
        await caughtUp(project, 'dev');
        const list = async (branch: string) =>
          query(project, 'SELECT toString(id) AS id, display_name, branch_id FROM users ORDER BY display_name', undefined, branch);
        assert.deepEqual(await list('main'), [
          { id: mainId, display_name: 'on main', branch_id: 'main' },
          { id: sharedId, display_name: 'shared main updated', branch_id: 'main' },
        ]);
        assert.deepEqual(await list('dev'), [{ id: devId, display_name: 'dev updated', branch_id: 'dev' }]);
        assert.deepEqual((await verifyAll(project, 'main')).differences, []);
        assert.deepEqual((await verifyAll(project, 'dev')).differences, []);
        const [main, dev] = [await status(project), await status(project, 'dev')];
        assert.equal(main.backlog, 0);
        assert.equal(dev.backlog, 0);
        assert.notEqual(main.source_max_sequence_id, dev.source_max_sequence_id);
      });
    });

    test('status: source max sequence id, watermark, backlog 0 when caught up', async () => {
      const project = await t().createProject();
      const empty = await status(project);
      assert.equal(empty.mapping, 'users');
      assert.equal(empty.source_max_sequence_id, 0);
      assert.equal(empty.last_synced_sequence_id, 0);
      assert.equal(empty.backlog, 0);
      for (let i = 0; i < 5; i++) await createUser(project, { display_name: `s${i}` });
      const s = await caughtUp(project);
      assert.equal(typeof s.source_max_sequence_id, 'number');
      assert.ok(s.source_max_sequence_id > 0);
      assert.equal(s.last_synced_sequence_id, s.source_max_sequence_id);
      assert.equal(s.last_error, null);
      assert.ok(typeof s.last_success_at_millis === 'number' && s.last_success_at_millis > 0);
      const [max] = await pg().execute<{ max: number }>('SELECT max(sequence_id) AS max FROM users WHERE project_id = $1', [project.projectId]);
      assert.equal(s.source_max_sequence_id, max?.max);
      // Status needs the project's admin key.
      const denied = await t().request({ method: 'GET', url: '/api/v1/internal/sync/status', headers: project.headers('server') });
      assert.notEqual(denied.statusCode, 200);
    });

    test('verify finds differences (extra, missing, different) and pages by id', async () => {
      const project = await t().createProject();
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) ids.push(await createUser(project, { display_name: `p${i}` }));
      await caughtUp(project);
      const clean = await verifyAll(project, 'main', 5);
      assert.deepEqual(clean, { checked: 12, total: 12, differences: [] });
      const ch = t().server.engines.clickhouse;
      const [source] = await ch.query<Row>({
        name: 'test.source-row',
        sql: `SELECT * EXCEPT (sync_created_at) FROM analytics_internal.users FINAL WHERE project_id = {p:String} AND id = {id:UUID}`,
        params: { p: project.projectId, id: ids[3] },
      });
      assert.ok(source);
      const version = 4_000_000_000_000; // far above any sequence id the test can reach
      await ch.insert({
        name: 'test.tamper',
        table: 'analytics_internal.users',
        values: [
          { ...source, display_name: 'tampered', sync_sequence_id: version },
          { ...source, id: ids[5], sync_sequence_id: version, sync_is_deleted: 1 },
          { ...source, id: randomUUID(), display_name: 'ghost', sync_sequence_id: version },
        ],
      });
      const tampered = await verifyAll(project, 'main', 5);
      assert.equal(tampered.total, 12);
      const byKind = Object.fromEntries(tampered.differences.map((d) => [d.kind, d]));
      assert.deepEqual(Object.keys(byKind).sort(), ['different', 'extra', 'missing']);
      assert.equal(byKind.different?.id, ids[3]);
      assert.deepEqual(byKind.different?.fields?.map((f) => f.field), ['display_name']);
      assert.equal(byKind.missing?.id, ids[5]);
      const unauthorized = await t().request({
        method: 'GET',
        url: `/api/v1/internal/operator/projects/${project.projectId}/sync/verify`,
        headers: project.headers('admin'),
      });
      assert.equal(unauthorized.statusCode, 401);
    });
  });
}
