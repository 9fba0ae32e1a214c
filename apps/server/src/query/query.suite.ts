import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { describeWithServer, type PostgresKind, type TestProject, type TestServer } from '../testing/test-server.ts';
import { FORBIDDEN_TEXT, HIDDEN_NAMES, HOSTILE_QUERIES, type HostileCase } from './hostile-queries.ts';

const QUERY_URL = '/api/v1/internal/analytics/query';
const TIMING_URL = '/api/v1/internal/analytics/query/timing';
/** Runs for seconds on two cores, reads fewer rows than `max_rows_to_read`: it times out. */
const SLOW_QUERY = 'SELECT sum(cityHash64(toString(number))) AS s FROM numbers(1999999999)';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** One tenancy of the fixture: the same rows in every tenancy, its own marker in them. */
type Tenant = { project: TestProject; marker: string; userIds: string[] };

type Fixture = {
  a: Tenant;
  b: Tenant;
  /** Text that must never reach tenant A: B's marker and ids, rows A cannot read, secrets. */
  forbiddenForA: string[];
};

/**
 * Issue 6's tests of the tenant SQL API (DESIGN.md section 9) against a real
 * server: the hostile-query cases, isolation of two tenancies with identical
 * data, limits, the timing endpoint, the concurrency cap and schema errors.
 * The server runs in production mode, so generic errors carry no engine text.
 */
export function runQuerySuite(kind: PostgresKind): void {
  describeWithServer('tenant SQL queries', kind, { env: { NODE_ENV: 'production' } }, (t) => {
    let fixture: Fixture | undefined;
    const ready = (): Fixture => {
      if (!fixture) throw new Error('the fixture was not seeded');
      return fixture;
    };

    before(async () => {
      let server: TestServer;
      try {
        server = t();
      } catch {
        return; // reported by the harness's own test
      }
      fixture = await seed(server);
    });

    const query = (project: TestProject, payload: Record<string, unknown>, access: 'admin' | 'server' | 'client' = 'admin') =>
      t().request({ method: 'POST', url: QUERY_URL, headers: project.headers(access), payload });
    const rows = async (project: TestProject, sql: string, params?: Record<string, unknown>) => {
      const res = await query(project, { query: sql, ...(params ? { params } : {}) });
      assert.equal(res.statusCode, 200, `${sql}\n${res.body}`);
      return res.json().result as Record<string, unknown>[];
    };

    describe('hostile queries', () => {
      for (const hostile of HOSTILE_QUERIES) {
        test(`[${hostile.group}] ${hostile.name}`, hostile.todo ? { todo: hostile.todo } : {}, async () => {
          const { a, b, forbiddenForA } = ready();
          const sql = fill(hostile.query, b);
          const res = await query(a.project, {
            query: sql,
            ...(hostile.params ? { params: hostile.params } : {}),
            ...(hostile.timeoutMs ? { timeout_ms: hostile.timeoutMs } : {}),
          });
          assertRefused(res, hostile, sql, forbiddenForA);
        });
      }
    });

    describe('isolation of tenancies with identical data', () => {
      test('each tenancy counts the same rows and sees only its own', async () => {
        const { a, b } = ready();
        const count = 'SELECT (SELECT count() FROM events) AS events, (SELECT count() FROM users) AS users FROM events LIMIT 1';
        const countA = await rows(a.project, count);
        assert.deepEqual(countA, [{ events: 6, users: 2 }]);
        assert.deepEqual(await rows(b.project, count), countA);
        for (const tenant of [a, b]) {
          const events = await rows(tenant.project, 'SELECT count() AS n, uniqExact(project_id) AS projects, any(project_id) AS project FROM events');
          assert.deepEqual(events, [{ n: 6, projects: 1, project: tenant.project.projectId }]);
          const users = await rows(tenant.project, 'SELECT count() AS n, uniqExact(project_id) AS projects, any(project_id) AS project FROM users');
          assert.deepEqual(users, [{ n: 2, projects: 1, project: tenant.project.projectId }]);
        }
      });

      test('markers are disjoint: A never sees B and B never sees A', async () => {
        const { a, b } = ready();
        for (const [self, other] of [[a, b], [b, a]] as const) {
          const secrets = await rows(self.project, "SELECT DISTINCT data.secret::String AS s FROM events WHERE s != '' ORDER BY s");
          assert.deepEqual(secrets, [{ s: self.marker }]);
          const emails = await rows(self.project, 'SELECT primary_email FROM users ORDER BY primary_email');
          assert.deepEqual(emails.map((r) => r.primary_email), [`alice.${self.marker}@example.test`, `bob.${self.marker}@example.test`]);
          const everything = await query(self.project, { query: 'SELECT *, toJSONString(data) AS raw FROM events' });
          assert.equal(everything.statusCode, 200);
          assert.ok(!everything.body.includes(other.marker));
          assert.ok(!everything.body.includes(other.project.projectId));
        }
      });

      test('filters that name the other tenancy find nothing, however the view is spelled', async () => {
        const { a, b } = ready();
        for (const table of ['events', 'default.events', '`default`.`events`', '"default"."events"', 'default . events']) {
          assert.deepEqual(await rows(a.project, `SELECT count() AS n FROM ${table}`), [{ n: 6 }], table);
        }
        const other = { other: b.project.projectId };
        assert.deepEqual(await rows(a.project, 'SELECT count() AS n FROM events WHERE project_id = {other:String}', other), [{ n: 0 }]);
        assert.deepEqual(await rows(a.project, 'SELECT count() AS n FROM events WHERE 1 OR project_id = {other:String}', other), [{ n: 6 }]);
        assert.deepEqual(await rows(a.project, 'SELECT count() AS n FROM users WHERE project_id != {other:String} OR 1', other), [{ n: 2 }]);
        assert.deepEqual(
          await rows(a.project, 'SELECT count() AS n FROM events AS e1 CROSS JOIN events AS e2 WHERE e1.project_id != e2.project_id'),
          [{ n: 0 }],
        );
      });

      test('deleted users and hidden columns stay hidden', async () => {
        const { a } = ready();
        assert.deepEqual(await rows(a.project, "SELECT count() AS n FROM users WHERE display_name = 'Deleted'"), [{ n: 0 }]);
        const [event] = await rows(a.project, 'SELECT * FROM events LIMIT 1');
        assert.ok(event);
        assert.ok(!('batch_id' in event), Object.keys(event).join(', '));
        const [user] = await rows(a.project, 'SELECT * FROM users LIMIT 1');
        assert.ok(user);
        assert.deepEqual(Object.keys(user).filter((k) => k.startsWith('sync_')), []);
        assert.deepEqual(await rows(a.project, 'SELECT _database AS d, _table AS t FROM events LIMIT 1'), [{ d: 'default', t: 'events' }]);
      });
    });

    describe('legitimate queries', () => {
      test('a parameter carrying an injection string comes back verbatim', async () => {
        const { a } = ready();
        const s = "'; DROP TABLE events; --";
        assert.deepEqual(await rows(a.project, 'SELECT {s:String} AS s FROM events LIMIT 1', { s }), [{ s }]);
        assert.deepEqual(await rows(a.project, 'SELECT {s:String} AS s FROM numbers(1)', { s }), [{ s }]);
        const typed = await rows(a.project, 'SELECT {n:UInt32} + 1 AS n, {d:Date} AS d, {xs:Array(String)} AS xs FROM numbers(1)', {
          n: 41,
          d: '2026-01-02',
          xs: ['a', "b'c"],
        });
        assert.deepEqual(typed, [{ n: 42, d: '2026-01-02', xs: ['a', "b'c"] }]);
        assert.deepEqual(await rows(a.project, 'SELECT count() AS n FROM events'), [{ n: 6 }]);
      });

      test('a query without FROM reads nothing hidden and is accepted', async () => {
        const { a } = ready();
        const s = "'; DROP TABLE events; --";
        assert.deepEqual(await rows(a.project, 'SELECT {s:String} AS s', { s }), [{ s }]);
      });

      test('events join users', async () => {
        const { a } = ready();
        const joined = await rows(
          a.project,
          `SELECT u.display_name AS name, count() AS n
           FROM events AS e INNER JOIN users AS u ON e.user_id = toString(u.id)
           WHERE e.event_type IN ('page.view', 'checkout.completed')
           GROUP BY name ORDER BY name`,
        );
        assert.deepEqual(joined, [
          { name: 'Alice', n: 2 },
          { name: 'Bob', n: 1 },
        ]);
      });

      test('window functions', async () => {
        const { a } = ready();
        const ranked = await rows(
          a.project,
          `SELECT data.path::String AS path, row_number() OVER (ORDER BY data.n::Int64) AS rn,
                  sum(data.n::Int64) OVER (ORDER BY data.n::Int64 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running
           FROM events WHERE event_type = 'page.view' ORDER BY rn`,
        );
        assert.deepEqual(ranked, [
          { path: '/home', rn: 1, running: 1 },
          { path: '/pricing', rn: 2, running: 3 },
        ]);
      });

      test('JSON subcolumns', async () => {
        const { a } = ready();
        const json = await rows(
          a.project,
          `SELECT data.path::String AS path, data.total::Float64 AS total, toTypeName(data.items) AS items_type,
                  JSONExtractString(toJSONString(data), 'path') AS extracted
           FROM events WHERE event_type IN ('page.view', 'checkout.completed') ORDER BY event_type, path`,
        );
        assert.deepEqual(json.map((r) => [r.path, r.total, r.extracted]), [
          ['', 42.5, ''],
          ['/home', 0, '/home'],
          ['/pricing', 0, '/pricing'],
        ]);
      });

      test('aggregate combinators', async () => {
        const { a } = ready();
        const combined = await rows(
          a.project,
          `SELECT countIf(event_type = 'page.view') AS views, uniqIf(user_id, event_type = 'page.view') AS viewers,
                  sumArray(data.items::Array(Int64)) AS items, avgOrNull(data.total::Nullable(Float64)) AS total,
                  groupArrayDistinct(event_type) AS types_array, countDistinctIf(user_id, event_type != '$token-refresh') AS users
           FROM events`,
        );
        assert.equal(combined.length, 1);
        const { types_array: types, ...numbers } = combined[0] ?? {};
        assert.deepEqual(numbers, { views: 2, viewers: 2, items: 6, total: 42.5, users: 2 });
        assert.deepEqual((types as string[]).sort(), ['$token-refresh', 'batched', 'checkout.completed', 'page.view']);
      });

      test('10 000 rows come back; 10 001 are refused with a too-many-rows message', async () => {
        const { a } = ready();
        const all = await rows(a.project, 'SELECT number FROM numbers(10000)');
        assert.equal(all.length, 10_000);
        assert.deepEqual(all.at(-1), { number: 9999 });
        const over = await query(a.project, { query: 'SELECT number FROM numbers(10001)' });
        assert.equal(over.statusCode, 400);
        assert.equal(over.json().code, 'ANALYTICS_QUERY_ERROR');
        assert.match(over.json().error, /Limit for result exceeded, max rows: 10\.00 thousand/);
        assert.equal((await rows(a.project, 'SELECT number FROM numbers(20000) LIMIT 10000')).length, 10_000);
      });

      test('a trailing ; is accepted', async () => {
        const { a } = ready();
        for (const sql of ['SELECT count() AS n FROM events;', 'SELECT count() AS n FROM events ;  \n', "SELECT count() AS n FROM events WHERE event_type != ';';"]) {
          assert.deepEqual(await rows(a.project, sql), [{ n: 6 }], sql);
        }
      });

      test('the response carries a query id of the tenancy and engine statistics', async () => {
        const { a } = ready();
        const res = await query(a.project, { query: 'SELECT count() AS n FROM events' });
        assert.equal(res.statusCode, 200);
        const body = res.json();
        assert.match(body.query_id, new RegExp(`^${a.project.projectId}:main:${UUID}$`));
        assert.deepEqual(Object.keys(body.stats).sort(), ['elapsed_ms', 'read_bytes', 'read_rows']);
        for (const value of Object.values(body.stats)) assert.equal(typeof value, 'number');
      });
    });

    describe('query timing', () => {
      test("own id answers; another tenancy's id or garbage answers 404", async () => {
        const { a, b } = ready();
        const own = await query(a.project, { query: 'SELECT count() FROM events' });
        const ownId = own.json().query_id as string;
        for (const access of ['admin', 'server'] as const) {
          const timing = await t().request({ method: 'POST', url: TIMING_URL, headers: a.project.headers(access), payload: { query_id: ownId } });
          assert.equal(timing.statusCode, 200, timing.body);
          const stats = timing.json().stats;
          assert.deepEqual(Object.keys(stats).sort(), ['cpu_time', 'wall_clock_time']);
          assert.ok(stats.cpu_time >= 0 && stats.wall_clock_time >= 0);
        }
        const theirs = (await query(b.project, { query: 'SELECT count() FROM events' })).json().query_id as string;
        for (const id of [theirs, 'garbage', `${a.project.projectId}:main:${randomUUID()}`, ownId.replace(':main:', ':other:')]) {
          const res = await t().request({ method: 'POST', url: TIMING_URL, headers: a.project.headers('admin'), payload: { query_id: id } });
          assert.equal(res.statusCode, 404, id);
          assert.equal(res.json().code, 'ITEM_NOT_FOUND');
          assert.equal(res.json().details.item_id, id);
        }
        const client = await t().request({ method: 'POST', url: TIMING_URL, headers: a.project.headers('client'), payload: { query_id: ownId } });
        assert.ok(client.statusCode === 401 || client.statusCode === 403, client.body);
      });
    });

    describe('time and concurrency', () => {
      test('a query over its timeout answers ANALYTICS_QUERY_TIMEOUT', async () => {
        const { a } = ready();
        const started = performance.now();
        const res = await query(a.project, { query: SLOW_QUERY, timeout_ms: 1000 });
        const elapsed = performance.now() - started;
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, 'ANALYTICS_QUERY_TIMEOUT');
        assert.equal(res.json().details.timeout_ms, 1000);
        assert.ok(elapsed < 5000, `took ${elapsed} ms`);
      });

      test('numbers(10 000 000 000) hits the rows-to-read limit before its timeout', async () => {
        const { a } = ready();
        const res = await query(a.project, { query: 'SELECT count() FROM numbers(10000000000)', timeout_ms: 1000 });
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().code, 'ANALYTICS_QUERY_ERROR');
        assert.match(res.json().error, /max_rows_to_read/);
      });

      test('more than 4 queries in flight in one project answer 429; other projects still run', async () => {
        const { a, b } = ready();
        const burst = await Promise.all(Array.from({ length: 8 }, () => query(a.project, { query: SLOW_QUERY, timeout_ms: 1000 })));
        const codes = burst.map((res) => `${res.statusCode} ${res.json().code}`);
        const limited = burst.filter((res) => res.statusCode === 429);
        assert.ok(limited.length >= 4, codes.join(', '));
        for (const res of limited) {
          assert.equal(res.json().code, 'RATE_LIMITED');
          assert.ok(Number(res.headers['retry-after']) >= 1);
        }
        for (const res of burst.filter((r) => r.statusCode !== 429)) assert.equal(res.json().code, 'ANALYTICS_QUERY_TIMEOUT');
        assert.deepEqual(await rows(b.project, 'SELECT count() AS n FROM events'), [{ n: 6 }]);
      });

      test("a running query's SQL is not visible to another tenancy", async () => {
        const { a, b } = ready();
        const marked = `SELECT sum(cityHash64(concat(toString(number), '${b.marker}'))) AS s FROM numbers(1999999999)`;
        const running = query(b.project, { query: marked, timeout_ms: 2000 });
        await new Promise((resolve) => setTimeout(resolve, 400));
        const probe = await query(a.project, { query: 'SELECT (SELECT groupArray(query) FROM system.processes) AS q FROM events LIMIT 1' });
        await running;
        // (Whether the probe itself is refused is the hostile case "scalar subquery over system.processes".)
        assert.ok(!probe.body.includes(b.marker), `B's running SQL leaked to A: ${probe.body.slice(0, 300)}`);
      });

      test(
        "one tenancy's slow query does not hold up another's",
        async () => {
          const { a, b } = ready();
          const slow = query(a.project, { query: SLOW_QUERY, timeout_ms: 3000 });
          await new Promise((resolve) => setTimeout(resolve, 300));
          const started = performance.now();
          assert.deepEqual(await rows(b.project, 'SELECT count() AS n FROM events'), [{ n: 6 }]);
          const waited = performance.now() - started;
          await slow;
          assert.ok(waited < 1000, `B waited ${Math.round(waited)} ms behind A's query`);
        },
      );
    });

    describe('request validation', () => {
      const schemaError = async (payload: Record<string, unknown>, line: RegExp) => {
        const res = await query(ready().a.project, payload);
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, 'SCHEMA_ERROR');
        assert.match(res.json().error, line);
      };

      test('schema errors', async () => {
        await schemaError({}, /body\.query must be defined/);
        await schemaError({ query: 'SELECT 1 FROM events', timeout_ms: 120_001 }, /body\.timeout_ms must be less than or equal to 120000/);
        await schemaError({ query: 'SELECT 1 FROM events', timeout_ms: 999 }, /body\.timeout_ms must be greater than or equal to 1000/);
        await schemaError({ query: 'SELECT 1 FROM events', timeout_ms: 1500.5 }, /body\.timeout_ms must be an integer/);
        await schemaError({ query: 42 }, /body\.query/);
        await schemaError({ query: 'SELECT 1 FROM events', settings: { readonly: 0 } }, /settings/);
        await schemaError({ query: 'SELECT {x:String} FROM events', params: { 'x; DROP': 'y' } }, /Invalid key in record/);
      });

      test('an empty query is an analytics error', async () => {
        const { a } = ready();
        for (const sql of ['', '   ', ';']) {
          const res = await query(a.project, { query: sql });
          assert.equal(res.statusCode, 400, sql);
          assert.equal(res.json().code, 'ANALYTICS_QUERY_ERROR');
        }
      });

      test('a syntax error passes the engine message through', async () => {
        const { a } = ready();
        const res = await query(a.project, { query: 'SELEC count() FROM events' });
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().code, 'ANALYTICS_QUERY_ERROR');
        assert.match(res.json().error, /Syntax error/);
        assert.doesNotMatch(res.body, /DB::Exception|Stack trace|EXPLAIN/);
      });

      test("a syntax error's position, line and column are counted in the tenant's text", async () => {
        const { a } = ready();
        const at = async (sql: string) => (await query(a.project, { query: sql })).json().error as string;
        assert.match(await at('SELEC count() FROM events'), /failed at position 7 \(count\)/);
        assert.match(await at('SELECT count() FRM events\nWHERE 1'), /failed at position 20 \(events\) \(line 1, col 20\)/);
        // Lines after the first, and leading blank lines, are the tenant's as written.
        assert.match(await at('\n\nSELECT count()\nFROM events WHERE ('), /\(line 4, col 19\)/);
      });

      test('only admin keys may query', async () => {
        const { a } = ready();
        for (const access of ['client', 'server'] as const) {
          const res = await query(a.project, { query: 'SELECT count() FROM events' }, access);
          assert.ok(res.statusCode === 401 || res.statusCode === 403, `${access}: ${res.body}`);
          assert.equal(res.json().code, 'INSUFFICIENT_ACCESS_TYPE');
        }
      });
    });
  });
}

/** Replaces the case placeholders with the other tenancy's values. */
function fill(sql: string, other: Tenant): string {
  return sql.replaceAll('{{other_project}}', other.project.projectId).replaceAll('{{other_marker}}', other.marker);
}

/** A refused hostile query: 400 with the expected code, and nothing in the body that A may not read. */
function assertRefused(res: LightMyRequestResponse, hostile: HostileCase, sql: string, forbidden: string[]): void {
  const lower = res.body.toLowerCase();
  const leaked = [...HIDDEN_NAMES, ...FORBIDDEN_TEXT, ...forbidden].filter((text) => lower.includes(text.toLowerCase()));
  assert.deepEqual(leaked, [], `leak: ${sql}\n -> ${res.statusCode} ${res.body.slice(0, 600)}`);
  assert.equal(res.statusCode, 400, `not refused: ${sql}\n -> ${res.statusCode} ${res.body.slice(0, 600)}`);
  const body = res.json();
  assert.equal(body.code, hostile.code ?? 'ANALYTICS_QUERY_ERROR', res.body);
  if (hostile.error) assert.match(body.error, hostile.error);
}

/**
 * Two tenancies with identical rows (two users, three events each, the two
 * sign-in events and a batched one), a marker in each; hidden rows A must never see: a deleted
 * user and a batch id of its own, a third tenancy's event and sync metadata.
 */
async function seed(server: TestServer): Promise<Fixture> {
  const signedUpAt = Date.UTC(2026, 0, 15, 9, 30);
  const tenant = async (label: string): Promise<Tenant> => {
    const project = await server.createProject({ displayName: `Query ${label}` });
    const marker = `${label}-SECRET-${randomUUID()}`;
    const alice = await server.signIn(project, { display_name: 'Alice', primary_email: `alice.${marker}@example.test` });
    const bob = await server.signIn(project, { display_name: 'Bob', primary_email: `bob.${marker}@example.test` });
    const sent = await server.request({
      method: 'POST',
      url: '/api/v1/analytics/events',
      headers: project.headers('server'),
      payload: {
        events: [
          { event_type: 'page.view', data: { path: '/home', n: 1, secret: marker }, user_id: alice.userId },
          { event_type: 'page.view', data: { path: '/pricing', n: 2, secret: marker }, user_id: bob.userId },
          { event_type: 'checkout.completed', data: { total: 42.5, items: [1, 2, 3], secret: marker }, user_id: alice.userId },
        ],
      },
    });
    assert.equal(sent.statusCode, 200, sent.body);
    return { project, marker, userIds: [alice.userId, bob.userId] };
  };
  const a = await tenant('A');
  const b = await tenant('B');

  const userRow = (project: TestProject, id: string, name: string, email: string, deleted: number, sequence: number) => ({
    project_id: project.projectId,
    branch_id: 'main',
    id,
    display_name: name,
    profile_image_url: null,
    primary_email: email,
    primary_email_verified: 1,
    signed_up_at: signedUpAt,
    client_metadata: '{}',
    client_read_only_metadata: '{}',
    server_metadata: JSON.stringify({ note: email }),
    is_anonymous: 0,
    restricted_by_admin: 0,
    restricted_by_admin_reason: null,
    restricted_by_admin_private_details: null,
    sync_sequence_id: sequence,
    sync_is_deleted: deleted,
  });
  const deletedMarker = `DELETED-SECRET-${randomUUID()}`;
  await server.server.engines.clickhouse.insert({
    name: 'test.query_users',
    table: 'analytics_internal.users',
    values: [a, b].flatMap((tenant) => [
      userRow(tenant.project, tenant.userIds[0] ?? '', 'Alice', `alice.${tenant.marker}@example.test`, 0, 1),
      userRow(tenant.project, tenant.userIds[1] ?? '', 'Bob', `bob.${tenant.marker}@example.test`, 0, 1),
      userRow(tenant.project, randomUUID(), 'Deleted', `${deletedMarker}@example.test`, 1, 2),
    ]),
  });

  // Rows no tenant query may reach: a third tenancy's event, A's own batch id, sync metadata.
  const thirdProject = randomUUID();
  const thirdMarker = `C-SECRET-${randomUUID()}`;
  const batchMarker = `BATCH-SECRET-${randomUUID()}`;
  await server.server.engines.clickhouse.insert({
    name: 'test.query_hidden_events',
    table: 'analytics_internal.events',
    values: [
      { event_type: 'hidden', event_at: Date.UTC(2026, 0, 1), data: { secret: thirdMarker }, project_id: thirdProject, branch_id: 'main' },
      { event_type: 'hidden', event_at: Date.UTC(2026, 0, 1), data: { secret: thirdMarker }, project_id: b.project.projectId, branch_id: 'other' },
      ...[a, b].map((tenant) => ({
        event_type: 'batched',
        event_at: Date.UTC(2026, 0, 1),
        data: {},
        project_id: tenant.project.projectId,
        branch_id: 'main',
        batch_id: tenant === a ? batchMarker : `${b.marker}-batch`,
      })),
    ],
  });
  const syncMarker = `SYNC-SECRET-${randomUUID()}`;
  await server.server.engines.clickhouse.insert({
    name: 'test.query_sync_metadata',
    table: 'analytics_internal._stack_sync_metadata',
    values: [{ tenancy_id: randomUUID(), mapping_name: syncMarker, last_synced_sequence_id: 7 }],
  });

  return {
    a,
    b,
    forbiddenForA: [
      b.marker,
      b.project.projectId,
      ...b.userIds,
      b.project.keys.super_secret_admin_key,
      b.project.keys.secret_server_key,
      a.project.keys.super_secret_admin_key,
      'test-operator-secret',
      thirdProject,
      thirdMarker,
      deletedMarker,
      batchMarker,
      syncMarker,
    ],
  };
}
