import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { describeWithServer, type PostgresKind, type TestProject } from '../testing/test-server.ts';

/**
 * Issue 4's HTTP behaviour of both ingestion endpoints, against a real server
 * on embedded chDB and the given Postgres.
 */
export function runIngestSuite(kind: PostgresKind): void {
  let clock = Date.UTC(2026, 10, 24, 12, 0, 0);
  describeWithServer('event ingestion', kind, { now: () => clock, env: { SIGHTLINE_INGEST_RATE_LIMIT: '0' } }, (t) => {
    const batchUrl = '/api/v1/analytics/events/batch';
    const segment = randomUUID();

    const signedIn = async (analytics = true) => {
      const project = await t().createProject({ analytics });
      const session = await t().signIn(project);
      return { project, ...session, client: project.headers('client', { accessToken: session.accessToken }) };
    };
    const batch = (events: unknown[], extra: Record<string, unknown> = {}) => ({
      session_replay_segment_id: segment,
      batch_id: randomUUID(),
      sent_at_ms: clock,
      events,
      ...extra,
    });
    const post = (headers: Record<string, string>, payload: unknown, url = batchUrl) =>
      t().request({ method: 'POST', url, headers, payload: payload as object });
    const rowsOf = (project: TestProject, where = '1') =>
      t().server.engines.clickhouse.query<Record<string, unknown>>({
        name: 'test.rows',
        sql: `SELECT event_type, toUnixTimestamp64Milli(event_at) AS at, toJSONString(data) AS data, project_id, branch_id,
                     user_id, team_id, refresh_token_id, session_replay_id, session_replay_segment_id
              FROM analytics_internal.events
              WHERE project_id = {p:String} AND event_type != '$token-refresh' AND ${where}
              ORDER BY event_at, toJSONString(data)`,
        params: { p: project.projectId },
      });

    test('a batch becomes one row per event, identity from the token', async () => {
      const { project, client, userId } = await signedIn();
      const body = batch([
        { event_type: '$page-view', event_at_ms: clock - 2000, data: { path: '/home', nested: { a: [1, 'x'] } } },
        { event_type: '$click', event_at_ms: clock - 1000, data: { tag_name: 'a' } },
        { event_type: 'checkout.completed', event_at_ms: clock - 500, data: { total: 42.5 } },
      ]);
      const res = await post(client, body);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { inserted: 3 });
      const rows = await rowsOf(project);
      assert.equal(rows.length, 3);
      const [first] = rows;
      assert.equal(first?.event_type, '$page-view');
      assert.equal(Number(first?.at), clock - 2000);
      assert.deepEqual(JSON.parse(String(first?.data)), { path: '/home', nested: { a: [1, 'x'] } });
      for (const row of rows) {
        assert.equal(row.project_id, project.projectId);
        assert.equal(row.branch_id, 'main');
        assert.equal(row.user_id, userId);
        assert.equal(row.team_id, null);
        assert.match(String(row.refresh_token_id), /^[0-9a-f-]{36}$/);
        assert.equal(row.session_replay_id, null);
        assert.equal(row.session_replay_segment_id, segment);
      }
    });

    test('the body cannot choose project, user or branch', async () => {
      const { project, client, userId } = await signedIn();
      const res = await post(client, {
        ...batch([{ event_type: '$click', event_at_ms: clock, data: { user_id: 'someone-else', project_id: 'other' } }]),
      });
      assert.equal(res.statusCode, 200);
      const [row] = await rowsOf(project);
      assert.equal(row?.user_id, userId);
      assert.equal(row?.project_id, project.projectId);
      const smuggled = await post(client, { ...batch([{ event_type: '$click', event_at_ms: clock, data: {} }]), user_id: 'x' });
      assert.equal(smuggled.json().code, 'SCHEMA_ERROR');
    });

    test("schema errors use Stack Auth's wording", async () => {
      const { client } = await signedIn();
      const expect = async (payload: unknown, line: string) => {
        const res = await post(client, payload);
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, 'SCHEMA_ERROR');
        assert.ok((res.json().error as string).split('\n').includes(`  - ${line}`), `${res.json().error}\n  lacks: ${line}`);
      };
      await expect(batch([]), 'body.events field must have at least 1 items');
      await expect(
        batch(Array.from({ length: 501 }, () => ({ event_type: '$click', event_at_ms: clock, data: {} }))),
        'body.events field must have less than or equal to 500 items',
      );
      await expect(batch([{ event_type: '$click', event_at_ms: clock, data: {} }], { session_replay_segment_id: 'nope' }), 'Invalid session_replay_segment_id');
      await expect(batch([{ event_type: '$click', event_at_ms: clock, data: {} }], { batch_id: '0190a0b4-8c1e-9c3a-9f00-1234567890ab' }), 'Invalid batch_id');
      await expect(batch([{ event_type: '$click', event_at_ms: clock, data: {} }], { batch_id: '0190a0b4-8c1e-7c3a-7f00-1234567890ab' }), 'Invalid batch_id');
      await expect(
        batch([{ event_type: '$identify', event_at_ms: clock, data: {} }]),
        'body.events[0].event_type must be one of the following values: $page-view, $click',
      );
      await expect(
        batch([{ event_type: 'has space', event_at_ms: clock, data: {} }]),
        'body.events[0].event_type must be $page-view, $click or a custom name of 1 to 64 characters from A-Z a-z 0-9 _ . : -',
      );
      await expect(batch([{ event_type: '$click', event_at_ms: -1, data: {} }]), 'body.events[0].event_at_ms must be greater than or equal to 0');
      await expect(batch([{ event_type: '$click', event_at_ms: 1.5, data: {} }]), 'body.events[0].event_at_ms must be an integer');
      await expect(batch([{ event_type: '$click', event_at_ms: clock, data: [] }]), 'body.events[0].data must be a `record` type, but the final value was: `[]`.');
      await expect({ ...batch([{ event_type: '$click', event_at_ms: clock, data: {} }]), sent_at_ms: undefined }, 'body.sent_at_ms must be defined');
    });

    test('data too deep or with too many keys is refused', async () => {
      const { project, client } = await signedIn();
      let deep: Record<string, unknown> = {};
      for (let i = 0; i < 30; i++) deep = { d: deep };
      const tooDeep = await post(client, batch([{ event_type: '$click', event_at_ms: clock, data: deep }]));
      assert.equal(tooDeep.statusCode, 400);
      assert.match(tooDeep.json().error, /body\.events\[0\]\.data is nested too deeply/);
      const wide = Object.fromEntries(Array.from({ length: 2500 }, (_, i) => [`k${i}`, i]));
      const tooWide = await post(client, batch([{ event_type: '$click', event_at_ms: clock, data: wide }]));
      assert.match(tooWide.json().error, /has too many keys/);
      assert.equal((await rowsOf(project)).length, 0);
    });

    test('checks run in order: schema, analytics enabled, user, then the write', async () => {
      const off = await signedIn(false);
      const invalid = await post(off.client, batch([]));
      assert.equal(invalid.json().code, 'SCHEMA_ERROR');
      const disabled = await post(off.client, batch([{ event_type: '$click', event_at_ms: clock, data: {} }]));
      assert.equal(disabled.statusCode, 400);
      assert.deepEqual(disabled.json(), { code: 'ANALYTICS_NOT_ENABLED', error: 'Analytics is not enabled for this project.' });
      const on = await signedIn();
      const noUser = await post(on.project.headers('client'), batch([{ event_type: '$click', event_at_ms: clock, data: {} }]));
      assert.equal(noUser.statusCode, 401);
      assert.equal(noUser.json().code, 'USER_AUTHENTICATION_REQUIRED');
    });

    test('turning analytics on takes effect at once', async () => {
      const { project, client } = await signedIn(false);
      const enable = await t().request({
        method: 'PATCH',
        url: '/api/v1/internal/projects/current',
        headers: project.headers('admin'),
        payload: { analytics: { enabled: true } },
      });
      assert.equal(enable.statusCode, 200);
      const res = await post(client, batch([{ event_type: '$click', event_at_ms: clock, data: {} }]));
      assert.equal(res.statusCode, 200, res.body);
    });

    test('client clocks are corrected and clamped; the raw time is kept only when changed', async () => {
      const { project, client } = await signedIn();
      const slow = 3600_000;
      await post(client, batch([{ event_type: 'accurate', event_at_ms: clock - 1000, data: {} }]));
      await post(client, batch([{ event_type: 'skewed', event_at_ms: clock - slow - 1000, data: {} }], { sent_at_ms: clock - slow }));
      await post(client, batch([{ event_type: 'future', event_at_ms: clock + 86400_000, data: {} }]));
      await post(client, batch([{ event_type: 'ancient', event_at_ms: 1000, data: {} }]));
      const rows = Object.fromEntries((await rowsOf(project)).map((r) => [r.event_type, r]));
      assert.equal(Number(rows.accurate?.at), clock - 1000);
      assert.deepEqual(JSON.parse(String(rows.accurate?.data)), {});
      assert.equal(Number(rows.skewed?.at), clock - 1000);
      assert.deepEqual(JSON.parse(String(rows.skewed?.data)), { $client_event_at_ms: clock - slow - 1000 });
      assert.equal(Number(rows.future?.at), clock + 5 * 60_000);
      assert.equal(Number(rows.ancient?.at), clock - 7 * 86400_000);
      assert.deepEqual(JSON.parse(String(rows.ancient?.data)), { $client_event_at_ms: 1000 });
    });

    test('lone surrogates in keys and values are stored as U+FFFD', async () => {
      const { project, client } = await signedIn();
      const body = JSON.stringify(batch([{ event_type: '$click', event_at_ms: clock, data: { text: 'LONE' } }]))
        .replace('"text"', '"te\\ud800xt"')
        .replace('LONE', 'a\\udc00b');
      const res = await t().request({
        method: 'POST',
        url: batchUrl,
        headers: { ...client, 'content-type': 'application/json' },
        payload: body,
      });
      assert.equal(res.statusCode, 200, res.body);
      const [row] = await rowsOf(project);
      assert.deepEqual(JSON.parse(String(row?.data)), { 'te\ufffdxt': 'a\ufffdb' });
    });

    test('a re-sent batch adds no rows, also when both copies arrive at once', async () => {
      const { project, client } = await signedIn();
      const body = batch([
        { event_type: '$click', event_at_ms: clock, data: { n: 1 } },
        { event_type: '$click', event_at_ms: clock, data: { n: 2 } },
      ]);
      const [a, b] = await Promise.all([post(client, body), post(client, body)]);
      assert.deepEqual([a.json(), b.json()], [{ inserted: 2 }, { inserted: 2 }]);
      const again = await post(client, body);
      assert.deepEqual(again.json(), { inserted: 2 });
      assert.equal((await rowsOf(project)).length, 2);
      // The same batch id in another project is another batch.
      const other = await signedIn();
      assert.deepEqual((await post(other.client, body)).json(), { inserted: 2 });
      assert.equal((await rowsOf(other.project)).length, 2);
    });

    test('bodies over 1 MB answer 413 PAYLOAD_TOO_LARGE', async () => {
      const { client } = await signedIn();
      const res = await post(client, batch([{ event_type: '$click', event_at_ms: clock, data: { blob: 'x'.repeat(1_000_001) } }]));
      assert.equal(res.statusCode, 413);
      assert.equal(res.json().code, 'PAYLOAD_TOO_LARGE');
    });

    test('server events: any user of the tenancy, system types checked, unknown users refused', async () => {
      const { project, userId } = await signedIn();
      const server = project.headers('server');
      const url = '/api/v1/analytics/events';
      const ok = await post(
        server,
        {
          events: [
            { event_type: 'invoice.paid', data: { amount: 10 }, user_id: userId },
            {
              event_type: '$sign-up-rule-trigger',
              event_at_ms: clock - 1000,
              data: { rule_id: 'r1', action: 'allow', email: null, auth_method: 'password', oauth_provider: null },
            },
          ],
        },
        url,
      );
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual(ok.json(), { inserted: 2 });
      const rows = await rowsOf(project);
      assert.deepEqual(rows.map((r) => r.event_type).sort(), ['$sign-up-rule-trigger', 'invoice.paid']);
      assert.equal(rows.find((r) => r.event_type === 'invoice.paid')?.user_id, userId);
      assert.equal(Number(rows.find((r) => r.event_type === 'invoice.paid')?.at), clock);

      const badShape = await post(server, { events: [{ event_type: '$token-refresh', data: { refresh_token_id: 'x' } }] }, url);
      assert.equal(badShape.json().code, 'SCHEMA_ERROR');
      assert.match(badShape.json().error, /body\.events\[0\]\.data\.is_anonymous does not fit \$token-refresh/);
      const unknownType = await post(server, { events: [{ event_type: '$whatever', data: {} }] }, url);
      assert.equal(unknownType.json().code, 'SCHEMA_ERROR');
      const stranger = await post(server, { events: [{ event_type: 'x', data: {}, user_id: randomUUID() }] }, url);
      assert.equal(stranger.statusCode, 404);
      assert.equal(stranger.json().code, 'USER_NOT_FOUND');
      const otherProject = await signedIn();
      const foreignUser = await post(server, { events: [{ event_type: 'x', data: {}, user_id: otherProject.userId }] }, url);
      assert.equal(foreignUser.json().code, 'USER_NOT_FOUND');
      const client = await post(project.headers('client'), { events: [{ event_type: 'x', data: {} }] }, url);
      assert.equal(client.json().code, 'INSUFFICIENT_ACCESS_TYPE');
      assert.equal((await rowsOf(project)).length, 2);
    });

    test('the clock moves on: events are stamped with receipt time', async () => {
      clock += 60_000;
      const { project, client } = await signedIn();
      await post(client, batch([{ event_type: 'later', event_at_ms: clock, data: {} }]));
      const [row] = await rowsOf(project);
      assert.equal(Number(row?.at), clock);
    });
  });

  describeWithServer('ingestion rate limits', kind, { env: { SIGHTLINE_INGEST_RATE_LIMIT: '2' } }, (t) => {
    test('a project over its rate gets 429 RATE_LIMITED with Retry-After; others are unaffected', async () => {
      const busy = await t().createProject();
      const calm = await t().createProject();
      const send = (project: TestProject) =>
        t().request({
          method: 'POST',
          url: '/api/v1/analytics/events',
          headers: project.headers('server'),
          payload: { events: [{ event_type: 'tick', data: {} }] },
        });
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await send(busy)).statusCode);
      assert.ok(statuses.includes(200) && statuses.includes(429), statuses.join(','));
      const limited = await send(busy);
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.json().code, 'RATE_LIMITED');
      assert.ok(Number(limited.headers['retry-after']) >= 1);
      assert.equal((await send(calm)).statusCode, 200);
    });
  });
}
