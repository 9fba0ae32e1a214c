import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { HEADERS } from '@sightline/protocol';
import { describeWithServer, type PostgresKind, type TestProject } from '../testing/test-server.ts';
import { writeChunkPayload } from './chunk-store.ts';
import { applyReplayRetention, drainPayloadDeletions } from './retention.ts';
import { storageKey } from './upload.ts';

/** A real rrweb recording made in Chromium by `scripts/record-rrweb-fixture.ts`. */
const recording = JSON.parse(
  readFileSync(new URL('./fixtures/rrweb-recording.json', import.meta.url), 'utf8'),
) as { type: number; timestamp: number }[];

const UPLOAD = '/api/v1/session-replays/batch';
const LIST = '/api/v1/internal/session-replays';
const MINUTE = 60_000;

type Tab = {
  project: TestProject;
  userId: string;
  refreshToken: string;
  client: Record<string, string>;
  browserSessionId: string;
  segmentId: string;
};

/** An rrweb incremental event (a mouse interaction); `timestamp` left out when undefined. */
const rr = (timestamp: number | undefined, id = 1) => ({
  type: 3,
  data: { source: 2, type: 2, id, x: id * 3, y: id * 7 },
  ...(timestamp === undefined ? {} : { timestamp }),
});

/**
 * Issue 5: session replay upload, grouping, storage and the admin API, against
 * a real server on embedded chDB and the given Postgres. Tests share one server
 * and run in order; each uses its own project or session, and the clock only
 * moves forward. Retention, which sweeps the whole database, runs last.
 */
export function runReplaySuite(kind: PostgresKind): void {
  let clock = Date.UTC(2026, 10, 24, 12, 0, 0);
  describeWithServer('session replays', kind, { now: () => clock, env: { SIGHTLINE_INGEST_RATE_LIMIT: '0' } }, (t) => {
    const pg = () => t().server.engines.postgres;
    const ch = () => t().server.engines.clickhouse;

    const openTab = async (project?: TestProject, user?: { userId?: string; profile?: Record<string, unknown> }): Promise<Tab> => {
      const p = project ?? (await t().createProject());
      let userId = user?.userId;
      let accessToken: string;
      let refreshToken: string;
      if (userId) {
        const session = await t().request({ method: 'POST', url: '/api/v1/auth/sessions', headers: p.headers('server'), payload: { user_id: userId } });
        assert.equal(session.statusCode, 200, session.body);
        ({ access_token: accessToken, refresh_token: refreshToken } = session.json());
      } else {
        ({ userId, accessToken, refreshToken } = await t().signIn(p, user?.profile ?? {}));
      }
      return {
        project: p,
        userId,
        refreshToken,
        client: p.headers('client', { accessToken }),
        browserSessionId: randomUUID(),
        segmentId: randomUUID(),
      };
    };
    /** A new access token for the tab's session (they expire after minutes of injected time). */
    const refresh = async (tab: Tab) => {
      const res = await t().request({
        method: 'POST',
        url: '/api/v1/auth/sessions/current/refresh',
        headers: { ...tab.project.headers('client'), [HEADERS.refreshToken]: tab.refreshToken },
      });
      assert.equal(res.statusCode, 200, res.body);
      tab.client = tab.project.headers('client', { accessToken: res.json().access_token });
    };
    const chunkBody = (tab: Tab, events: unknown[], extra: Record<string, unknown> = {}) => ({
      browser_session_id: tab.browserSessionId,
      session_replay_segment_id: tab.segmentId,
      batch_id: randomUUID(),
      started_at_ms: clock - MINUTE,
      sent_at_ms: clock,
      events,
      ...extra,
    });
    const upload = (tab: Tab, events: unknown[], extra: Record<string, unknown> = {}, headers = tab.client) =>
      t().request({ method: 'POST', url: UPLOAD, headers, payload: chunkBody(tab, events, extra) });
    const uploadOk = async (tab: Tab, events: unknown[], extra: Record<string, unknown> = {}) => {
      const res = await upload(tab, events, extra);
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as { session_replay_id: string; batch_id: string; s3_key: string; deduped: boolean };
    };
    const get = (project: TestProject, url: string, query: Record<string, string | number> = {}, headers = project.headers('admin')) =>
      t().request({ method: 'GET', url, headers, query: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) });
    const getOk = async (project: TestProject, url: string, query: Record<string, string | number> = {}) => {
      const res = await get(project, url, query);
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    };
    const listIds = async (project: TestProject, query: Record<string, string | number> = {}) =>
      ((await getOk(project, LIST, query)).items as { id: string }[]).map((item) => item.id);
    const allChunks = async (project: TestProject, replayId: string) =>
      (await getOk(project, `${LIST}/${replayId}/chunks`, { limit: 500 })).items as Record<string, unknown>[];
    const expectError = (res: LightMyRequestResponse, status: number, code: string, error?: string) => {
      assert.equal(res.statusCode, status, res.body);
      assert.equal(res.json().code, code, res.body);
      assert.equal(res.headers['x-stack-known-error'], code);
      if (error !== undefined) assert.equal(res.json().error, error);
    };
    const replayRow = async (id: string) =>
      (await pg().execute<Record<string, unknown>>('SELECT * FROM session_replays WHERE id = $1', [id]))[0];
    const payloadRows = async (replayId: string) =>
      Number(
        (
          await ch().query<{ n: string }>({
            name: 'test.replay-payloads',
            sql: 'SELECT count() AS n FROM analytics_internal.session_replay_chunks FINAL WHERE session_replay_id = {r:String}',
            params: { r: replayId },
          })
        )[0]?.n,
      );
    const postEvents = async (tab: Tab, events: { event_type: string; at?: number }[]) => {
      const res = await t().request({
        method: 'POST',
        url: '/api/v1/analytics/events/batch',
        headers: tab.client,
        payload: {
          session_replay_segment_id: tab.segmentId,
          batch_id: randomUUID(),
          sent_at_ms: clock,
          events: events.map((e) => ({ event_type: e.event_type, event_at_ms: e.at ?? clock, data: {} })),
        },
      });
      assert.equal(res.statusCode, 200, res.body);
    };
    const clicks = (n: number) => Array.from({ length: n }, () => ({ event_type: '$click' }));

    test('upload: schema errors name the field', async () => {
      const tab = await openTab();
      const expectSchema = async (extra: Record<string, unknown>, line: string) => {
        const res = await upload(tab, [rr(clock)], extra);
        expectError(res, 400, 'SCHEMA_ERROR');
        assert.ok((res.json().error as string).split('\n').includes(`  - ${line}`), `${res.json().error}\n  lacks: ${line}`);
      };
      await expectSchema({ browser_session_id: 'nope' }, 'Invalid browser_session_id');
      await expectSchema({ session_replay_segment_id: '123' }, 'Invalid session_replay_segment_id');
      await expectSchema({ batch_id: 'not-a-uuid' }, 'Invalid batch_id');
      await expectSchema({ started_at_ms: 1.5 }, 'body.started_at_ms must be an integer');
      await expectSchema({ sent_at_ms: 2.25 }, 'body.sent_at_ms must be an integer');
      await expectSchema({ started_at_ms: -1 }, 'body.started_at_ms must be greater than or equal to 0');
      await expectSchema({ sent_at_ms: undefined }, 'body.sent_at_ms must be defined');
      const extraField = await upload(tab, [rr(clock)], { user_id: tab.userId });
      expectError(extraField, 400, 'SCHEMA_ERROR');
      const notObjects = await upload(tab, [1, 'two']);
      expectError(notObjects, 400, 'SCHEMA_ERROR');
      assert.deepEqual(await listIds(tab.project), []);
    });

    test('upload: checks run in order schema, analytics, user, size, empty, count', async () => {
      const off = await openTab(await t().createProject({ analytics: false }));
      expectError(await upload(off, [rr(clock)], { batch_id: 'x' }), 400, 'SCHEMA_ERROR');
      expectError(await upload(off, []), 400, 'ANALYTICS_NOT_ENABLED', 'Analytics is not enabled for this project.');

      const tab = await openTab();
      const anonymous = tab.project.headers('client');
      expectError(await upload(tab, [rr(clock)], { batch_id: 'x' }, anonymous), 400, 'SCHEMA_ERROR');
      expectError(await upload(tab, [], {}, anonymous), 401, 'USER_AUTHENTICATION_REQUIRED');
      const server = tab.project.headers('server');
      expectError(await upload(tab, [rr(clock)], {}, server), 401, 'USER_AUTHENTICATION_REQUIRED');

      // About 1.2 MB: over the 1 000 000-byte rule, under Fastify's own 2 MiB limit.
      const big = Array.from({ length: 6000 }, (_, i) => ({ ...rr(clock, i), pad: 'x'.repeat(180) }));
      const bigBytes = Buffer.byteLength(JSON.stringify(chunkBody(tab, big)));
      assert.ok(bigBytes > 1_000_000 && bigBytes < 2 * 1024 * 1024, String(bigBytes));
      expectError(await upload(tab, big, {}, anonymous), 401, 'USER_AUTHENTICATION_REQUIRED');
      const tooLarge = await upload(tab, big);
      expectError(tooLarge, 413, 'PAYLOAD_TOO_LARGE', 'Request body too large (max 1000000 bytes)');
      // Past Fastify's 2 MiB read limit the body is refused before any other check.
      const huge = Array.from({ length: 3000 }, (_, i) => ({ ...rr(clock, i), pad: 'z'.repeat(1000) }));
      expectError(await upload(tab, huge), 413, 'PAYLOAD_TOO_LARGE');

      expectError(await upload(tab, []), 400, 'SCHEMA_ERROR', 'events must not be empty');
      const tooMany = Array.from({ length: 5001 }, (_, i) => ({ type: 3, timestamp: clock - i }));
      assert.ok(Buffer.byteLength(JSON.stringify(chunkBody(tab, tooMany))) < 1_000_000);
      expectError(await upload(tab, tooMany), 400, 'SCHEMA_ERROR', 'Too many events (max 5000)');

      // Exactly at the limits is fine: 5000 events, and a body of 1 000 000 bytes.
      const fiveThousand = await uploadOk(tab, tooMany.slice(0, 5000));
      assert.equal(fiveThousand.deduped, false);
      const sized = chunkBody(tab, [{ ...rr(clock), pad: '' }]);
      const pad = 1_000_000 - Buffer.byteLength(JSON.stringify(sized));
      (sized.events[0] as { pad: string }).pad = 'y'.repeat(pad);
      assert.equal(Buffer.byteLength(JSON.stringify(sized)), 1_000_000);
      const atLimit = await t().request({ method: 'POST', url: UPLOAD, headers: tab.client, payload: sized });
      assert.equal(atLimit.statusCode, 200, atLimit.body);
      const [item] = (await getOk(tab.project, LIST)).items;
      assert.equal(item.chunk_count, 2);
      assert.equal(item.event_count, 5001);
    });

    test('upload: response shape; one replay per refresh token while active (3 minutes idle, 12 hours)', async () => {
      const tab = await openTab();
      const first = await uploadOk(tab, [rr(clock - 1000), rr(clock)]);
      assert.deepEqual(Object.keys(first).sort(), ['batch_id', 'deduped', 's3_key', 'session_replay_id']);
      assert.match(first.session_replay_id, /^[0-9a-f-]{36}$/);
      assert.equal(first.deduped, false);
      assert.equal(first.s3_key, storageKey({ projectId: tab.project.projectId, branchId: 'main' }, first.session_replay_id, first.batch_id));

      clock += 2 * MINUTE;
      const second = await uploadOk(tab, [rr(clock)]);
      assert.equal(second.session_replay_id, first.session_replay_id);
      assert.notEqual(second.s3_key, first.s3_key);
      clock += 3 * MINUTE - 1;
      const third = await uploadOk(tab, [rr(clock)]);
      assert.equal(third.session_replay_id, first.session_replay_id, 'updated 1 ms less than 3 minutes ago');

      clock += 3 * MINUTE;
      const afterIdle = await uploadOk(tab, [rr(clock)]);
      assert.notEqual(afterIdle.session_replay_id, first.session_replay_id);

      // A second session (refresh token) of the same user is another replay, even at the same moment.
      const otherTab = await openTab(tab.project, { userId: tab.userId });
      const other = await uploadOk(otherTab, [rr(clock)]);
      assert.notEqual(other.session_replay_id, afterIdle.session_replay_id);
      const again = await uploadOk(tab, [rr(clock)]);
      assert.equal(again.session_replay_id, afterIdle.session_replay_id);

      // 12 hours: a replay whose first events are older than that is closed, however active.
      const old = await openTab(tab.project);
      const started = await uploadOk(old, [rr(clock - 12 * 60 * MINUTE + MINUTE), rr(clock)]);
      clock += MINUTE - 1;
      assert.equal((await uploadOk(old, [rr(clock)])).session_replay_id, started.session_replay_id, 'started 1 ms less than 12 hours ago');
      clock += 2;
      const reopened = await uploadOk(old, [rr(clock)]);
      assert.notEqual(reopened.session_replay_id, started.session_replay_id);

      const items = (await getOk(tab.project, LIST)).items as { id: string; chunk_count: number }[];
      const counts = Object.fromEntries(items.map((item) => [item.id, item.chunk_count]));
      assert.deepEqual(counts, {
        [first.session_replay_id]: 3,
        [afterIdle.session_replay_id]: 2,
        [other.session_replay_id]: 1,
        [started.session_replay_id]: 2,
        [reopened.session_replay_id]: 1,
      });
    });

    test('twenty concurrent first uploads of one refresh token open exactly one replay', async () => {
      const tab = await openTab();
      const second = await openTab(tab.project, { userId: tab.userId });
      const results = await Promise.all([
        ...Array.from({ length: 20 }, (_, i) => uploadOk(tab, [rr(clock - i, i)])),
        ...Array.from({ length: 10 }, (_, i) => uploadOk(second, [rr(clock - i, i)])),
      ]);
      const ids = new Set(results.slice(0, 20).map((r) => r.session_replay_id));
      assert.equal(ids.size, 1);
      const secondIds = new Set(results.slice(20).map((r) => r.session_replay_id));
      assert.equal(secondIds.size, 1);
      assert.ok(!ids.has([...secondIds][0] ?? ''));
      const rows = await pg().execute<{ id: string; chunk_count: number; event_count: number }>(
        'SELECT id, chunk_count, event_count FROM session_replays WHERE project_id = $1 ORDER BY chunk_count DESC',
        [tab.project.projectId],
      );
      assert.deepEqual(
        rows.map((r) => [r.id, r.chunk_count, r.event_count]),
        [
          [[...ids][0], 20, 20],
          [[...secondIds][0], 10, 10],
        ],
      );
    });

    test("times come from the events' timestamps, corrected for the client clock and clamped", async () => {
      const tab = await openTab();
      // The client's clock is 10 s behind: its timestamps move forward by 10 s.
      const skewed = await uploadOk(tab, [rr(clock - 10_000 - 4000), rr(clock - 10_000 - 1000)], { sent_at_ms: clock - 10_000 });
      let [chunk] = await allChunks(tab.project, skewed.session_replay_id);
      assert.equal(chunk?.first_event_at_millis, clock - 4000);
      assert.equal(chunk?.last_event_at_millis, clock - 1000);
      assert.equal(chunk?.created_at_millis, clock);

      // Missing timestamps count as sent_at_ms.
      const missing = await openTab(tab.project);
      const noTimes = await uploadOk(missing, [rr(undefined), { type: 3, timestamp: 'soon' }], { sent_at_ms: clock - 5000 });
      [chunk] = await allChunks(tab.project, noTimes.session_replay_id);
      assert.equal(chunk?.first_event_at_millis, clock);
      assert.equal(chunk?.last_event_at_millis, clock);

      // Clamped to [received - 7 days, received + 5 minutes].
      const wild = await openTab(tab.project);
      const clamped = await uploadOk(wild, [rr(clock - 30 * 24 * 60 * MINUTE), rr(clock + 60 * MINUTE), rr(0)]);
      [chunk] = await allChunks(tab.project, clamped.session_replay_id);
      assert.equal(chunk?.first_event_at_millis, clock - 7 * 24 * 60 * MINUTE);
      assert.equal(chunk?.last_event_at_millis, clock + 5 * MINUTE);

      // The replay spans its chunks: start = earliest event, last = latest.
      const grow = await openTab(tab.project);
      const a = await uploadOk(grow, [rr(clock - 3000), rr(clock - 2000)]);
      clock += 1000;
      await uploadOk(grow, [rr(clock - 5000), rr(clock - 500)]);
      const item = ((await getOk(tab.project, LIST, { user_ids: grow.userId })).items as Record<string, unknown>[])[0];
      assert.equal(item?.id, a.session_replay_id);
      assert.equal(item?.started_at_millis, clock - 5000);
      assert.equal(item?.last_event_at_millis, clock - 500);
      assert.equal(item?.event_count, 4);
    });

    test('a re-sent batch answers deduped with the same key and changes nothing', async () => {
      const tab = await openTab();
      const body = chunkBody(tab, [rr(clock - 2000), rr(clock - 1000)]);
      const first = await t().request({ method: 'POST', url: UPLOAD, headers: tab.client, payload: body });
      assert.equal(first.statusCode, 200, first.body);
      const original = first.json();
      const before = await replayRow(original.session_replay_id);

      // The dedup lookup is in Postgres, so it holds across restarts: a request that
      // arrives after the first one finished goes through the same path as after a restart.
      clock += MINUTE;
      for (const payload of [body, { ...body, events: [rr(clock), rr(clock), rr(clock)], sent_at_ms: clock }]) {
        const again = await t().request({ method: 'POST', url: UPLOAD, headers: tab.client, payload });
        assert.equal(again.statusCode, 200, again.body);
        assert.deepEqual(again.json(), { ...original, deduped: true });
      }
      assert.deepEqual(await replayRow(original.session_replay_id), before, 'timestamps and counts unchanged');
      const chunks = await allChunks(tab.project, original.session_replay_id);
      assert.equal(chunks.length, 1);
      const events = await getOk(tab.project, `${LIST}/${original.session_replay_id}/chunks/${chunks[0]?.id}/events`);
      assert.deepEqual(events, { events: body.events });
      assert.equal(await payloadRows(original.session_replay_id), 1);

      // Upper-case ids are the same batch.
      const upper = await t().request({ method: 'POST', url: UPLOAD, headers: tab.client, payload: { ...body, batch_id: body.batch_id.toUpperCase() } });
      assert.deepEqual(upper.json(), { ...original, deduped: true });
    });

    test('a batch sent several times at once is stored once', async () => {
      const tab = await openTab();
      const body = chunkBody(tab, [rr(clock - 500), rr(clock)]);
      const results = await Promise.all(
        Array.from({ length: 6 }, () => t().request({ method: 'POST', url: UPLOAD, headers: tab.client, payload: body })),
      );
      for (const res of results) assert.equal(res.statusCode, 200, res.body);
      const answers = results.map((res) => res.json());
      assert.equal(answers.filter((a) => !a.deduped).length, 1);
      assert.equal(new Set(answers.map((a) => a.s3_key)).size, 1);
      assert.equal(new Set(answers.map((a) => a.session_replay_id)).size, 1);
      const [item] = (await getOk(tab.project, LIST)).items;
      assert.equal(item.chunk_count, 1);
      assert.equal(item.event_count, 2);
    });

    test('a crash between payload and metadata leaves no visible chunk; the retry completes it', async () => {
      const tab = await openTab();
      const tenancy = { projectId: tab.project.projectId, branchId: 'main' };
      const first = await uploadOk(tab, [rr(clock - 5000)]);
      const batchId = randomUUID();
      const events = [rr(clock - 400, 2), rr(clock - 300, 3)];
      // The payload of `batchId` reached ClickHouse, then the process died.
      await writeChunkPayload(ch(), { tenancy, replayId: first.session_replay_id, batchId, events });
      const chunks = await allChunks(tab.project, first.session_replay_id);
      assert.deepEqual(chunks.map((c) => c.batch_id), [first.batch_id]);
      const [item] = (await getOk(tab.project, LIST)).items;
      assert.equal(item.chunk_count, 1);
      assert.equal(item.event_count, 1);
      const withPayloads = await getOk(tab.project, `${LIST}/${first.session_replay_id}/events`);
      assert.equal(withPayloads.chunk_events.length, 1);

      clock += 1000;
      const retry = await uploadOk(tab, events, { batch_id: batchId });
      assert.deepEqual(retry, { session_replay_id: first.session_replay_id, batch_id: batchId, s3_key: storageKey(tenancy, first.session_replay_id, batchId), deduped: false });
      const after = await allChunks(tab.project, first.session_replay_id);
      assert.deepEqual(after.map((c) => c.batch_id), [first.batch_id, batchId]);
      const read = await getOk(tab.project, `${LIST}/${first.session_replay_id}/chunks/${after[1]?.id}/events`);
      assert.deepEqual(read.events, events);
      assert.equal(await payloadRows(first.session_replay_id), 2);

      // A crash after the replay row was committed but before its first chunk: the
      // empty replay stays hidden, and the retry fills it in.
      const fresh = await openTab(tab.project);
      const [session] = await pg().execute<{ id: string }>('SELECT id FROM refresh_tokens WHERE user_id = $1', [fresh.userId]);
      assert.ok(session);
      const emptyId = randomUUID();
      await pg().execute(
        `INSERT INTO session_replays (id, project_id, branch_id, refresh_token_id, user_id, started_at, last_event_at, updated_at)
         VALUES ($1, $2, 'main', $3, $4, $5, $5, $5)`,
        [emptyId, tenancy.projectId, session.id, fresh.userId, new Date(clock)],
      );
      const lostBatch = randomUUID();
      await writeChunkPayload(ch(), { tenancy, replayId: emptyId, batchId: lostBatch, events });
      assert.ok(!(await listIds(tab.project)).includes(emptyId));
      expectError(await get(tab.project, `${LIST}/${emptyId}/chunks`), 404, 'ITEM_NOT_FOUND');
      const filled = await uploadOk(fresh, events, { batch_id: lostBatch });
      assert.equal(filled.session_replay_id, emptyId);
      assert.ok((await listIds(tab.project)).includes(emptyId));
      assert.equal((await allChunks(tab.project, emptyId)).length, 1);
    });

    test('a real rrweb recording uploaded in 4 chunks reads back event for event', async () => {
      const tab = await openTab(undefined, { profile: { display_name: 'Ada Lovelace', primary_email: 'ada@example.com' } });
      assert.ok(recording.length >= 40 && recording[0]?.type !== undefined);
      const size = Math.ceil(recording.length / 4);
      const parts = [0, 1, 2, 3].map((i) => recording.slice(i * size, (i + 1) * size));
      // The browser's clock differs from ours by a constant: every timestamp moves by `offset`.
      const start = clock;
      const browserStart = recording[0]!.timestamp;
      const offset = start - browserStart;
      let replayId = '';
      for (const part of parts) {
        const sentAt = part.at(-1)!.timestamp + 200;
        clock = start + (sentAt - browserStart);
        const res = await uploadOk(tab, part, { sent_at_ms: sentAt, started_at_ms: browserStart });
        replayId ||= res.session_replay_id;
        assert.equal(res.session_replay_id, replayId);
      }
      const fetched = await getOk(tab.project, `${LIST}/${replayId}/events`, { offset: 0, limit: 100 });
      assert.equal(fetched.chunks.length, 4);
      assert.deepEqual(fetched.chunk_events.map((c: { chunk_id: string }) => c.chunk_id), fetched.chunks.map((c: { id: string }) => c.id));
      assert.deepEqual(fetched.chunk_events.flatMap((c: { events: unknown[] }) => c.events), recording);

      // Page by page, and chunk by chunk, gives the same events.
      const paged: unknown[] = [];
      for (let offsetIndex = 0; offsetIndex < 4; offsetIndex += 3) {
        const page = await getOk(tab.project, `${LIST}/${replayId}/events`, { offset: offsetIndex, limit: 3 });
        assert.equal(page.chunks.length, 4);
        paged.push(...page.chunk_events.flatMap((c: { events: unknown[] }) => c.events));
      }
      assert.deepEqual(paged, recording);
      const byChunk: unknown[] = [];
      for (const chunk of fetched.chunks as { id: string; event_count: number }[]) {
        const { events } = await getOk(tab.project, `${LIST}/${replayId}/chunks/${chunk.id}/events`);
        assert.equal(events.length, chunk.event_count);
        byChunk.push(...events);
      }
      assert.deepEqual(byChunk, recording);

      const [item] = (await getOk(tab.project, LIST)).items;
      assert.deepEqual(item, {
        id: replayId,
        project_user: { id: tab.userId, display_name: 'Ada Lovelace', primary_email: 'ada@example.com' },
        started_at_millis: browserStart + offset,
        last_event_at_millis: recording.at(-1)!.timestamp + offset,
        chunk_count: 4,
        event_count: recording.length,
      });
      assert.deepEqual(
        fetched.chunks.map((c: Record<string, unknown>) => [c.first_event_at_millis, c.last_event_at_millis, c.event_count]),
        parts.map((part) => [part[0]!.timestamp + offset, part.at(-1)!.timestamp + offset, part.length]),
      );
    });

    test('analytics events are tagged with the open replay; earlier events of its segment count as its clicks', async () => {
      const tab = await openTab();
      clock += 5000;
      await postEvents(tab, [...clicks(3), { event_type: '$page-view' }]);
      // The same segment id in another project never counts here.
      const stranger = await openTab();
      stranger.segmentId = tab.segmentId;
      await postEvents(stranger, clicks(10));
      await uploadOk(stranger, [rr(clock)]);

      clock += 1500;
      const { session_replay_id: replayId } = await uploadOk(tab, [rr(clock - 1000), rr(clock)]);
      clock += 1500; // past the open-replay lookup's one-second cache
      await postEvents(tab, [...clicks(2), { event_type: 'checkout.completed' }]);

      const rows = await ch().query<{ event_type: string; session_replay_id: string | null; session_replay_segment_id: string }>({
        name: 'test.tagged-events',
        sql: `SELECT event_type, session_replay_id, session_replay_segment_id FROM analytics_internal.events
              WHERE project_id = {p:String} AND event_type != '$token-refresh' ORDER BY event_at, event_type`,
        params: { p: tab.project.projectId },
      });
      assert.equal(rows.length, 7);
      assert.deepEqual(rows.map((r) => r.session_replay_id), [null, null, null, null, replayId, replayId, replayId]);
      assert.ok(rows.every((r) => r.session_replay_segment_id === tab.segmentId));

      assert.deepEqual(await listIds(tab.project, { click_count_min: 5 }), [replayId]);
      assert.deepEqual(await listIds(tab.project, { click_count_min: 6 }), []);
      assert.deepEqual(await listIds(stranger.project, { click_count_min: 10 }), (await listIds(stranger.project)).slice(0, 1));
      assert.deepEqual(await listIds(stranger.project, { click_count_min: 11 }), []);
    });

    test('admin routes: admin only, and never another project', async () => {
      const tab = await openTab();
      const other = await openTab();
      const mine = await uploadOk(tab, [rr(clock)]);
      const theirs = await uploadOk(other, [rr(clock)]);
      const [myChunk] = await allChunks(tab.project, mine.session_replay_id);
      const [theirChunk] = await allChunks(other.project, theirs.session_replay_id);
      const routes = [
        LIST,
        `${LIST}/${mine.session_replay_id}/chunks`,
        `${LIST}/${mine.session_replay_id}/chunks/${myChunk?.id}/events`,
        `${LIST}/${mine.session_replay_id}/events`,
      ];
      for (const url of routes) {
        for (const access of ['client', 'server'] as const) {
          const res = await get(tab.project, url, {}, tab.project.headers(access));
          expectError(res, 401, 'INSUFFICIENT_ACCESS_TYPE');
          assert.deepEqual(res.json().details.allowed_access_types, ['admin']);
        }
        assert.equal((await get(tab.project, url)).statusCode, 200);
        // Our project id with the other project's admin key.
        const mixed = { ...tab.project.headers('admin'), [HEADERS.superSecretAdminKey]: other.project.keys.super_secret_admin_key };
        expectError(await get(tab.project, url, {}, mixed), 401, 'INVALID_SUPER_SECRET_ADMIN_KEY');
      }
      // The other project's admin sees none of ours.
      assert.deepEqual(await listIds(other.project), [theirs.session_replay_id]);
      const foreign = [
        `${LIST}/${mine.session_replay_id}/chunks`,
        `${LIST}/${mine.session_replay_id}/chunks/${myChunk?.id}/events`,
        `${LIST}/${mine.session_replay_id}/events`,
      ];
      for (const url of foreign) {
        const res = await get(other.project, url);
        expectError(res, 404, 'ITEM_NOT_FOUND');
        assert.equal(res.json().details.item_id, mine.session_replay_id);
      }
      expectError(await get(other.project, LIST, { cursor: mine.session_replay_id }), 404, 'ITEM_NOT_FOUND');
      // Their replay with our chunk, as their admin: the chunk is not theirs.
      const mixedChunk = await get(other.project, `${LIST}/${theirs.session_replay_id}/chunks/${myChunk?.id}/events`);
      expectError(mixedChunk, 404, 'ITEM_NOT_FOUND');
      assert.equal(mixedChunk.json().details.item_id, myChunk?.id);
      expectError(await get(other.project, `${LIST}/${theirs.session_replay_id}/chunks`, { cursor: String(myChunk?.id) }), 404, 'ITEM_NOT_FOUND');
      // A user token of one project does not upload into another.
      const crossUpload = await upload(tab, [rr(clock)], {}, other.project.headers('client', { accessToken: tab.client[HEADERS.accessToken] }));
      assert.equal(crossUpload.statusCode, 401, crossUpload.body);
      assert.equal((await allChunks(other.project, theirs.session_replay_id)).length, 1);
      const theirEvents = await getOk(other.project, `${LIST}/${theirs.session_replay_id}/chunks/${theirChunk?.id}/events`);
      assert.deepEqual(theirEvents, { events: [rr(clock)] });
    });

    test('list: default 50, limit 1-200, keyset pages never skip or repeat (equal last_event_at too)', async () => {
      const tab = await openTab();
      const made: string[] = [];
      for (let i = 0; i < 52; i++) {
        made.push((await uploadOk(tab, [rr(clock - 1000), rr(clock)])).session_replay_id);
        clock += 4 * MINUTE;
        await refresh(tab);
      }
      assert.equal(new Set(made).size, 52);
      const page1 = await getOk(tab.project, LIST);
      assert.equal(page1.items.length, 50);
      assert.deepEqual(page1.items.map((i: { id: string }) => i.id), made.slice(-50).reverse());
      assert.equal(page1.pagination.next_cursor, made[2]);
      const page2 = await getOk(tab.project, LIST, { cursor: page1.pagination.next_cursor });
      assert.deepEqual(page2.items.map((i: { id: string }) => i.id), [made[1], made[0]]);
      assert.equal(page2.pagination.next_cursor, null);
      assert.equal((await getOk(tab.project, LIST, { limit: 200 })).items.length, 52);
      for (const limit of ['0', '201', 'abc', '1.5', '-3']) {
        expectError(await get(tab.project, LIST, { limit }), 400, 'SCHEMA_ERROR', 'limit must be an integer between 1 and 200');
      }
      const unknown = randomUUID();
      const missing = await get(tab.project, LIST, { cursor: unknown });
      expectError(missing, 404, 'ITEM_NOT_FOUND');
      assert.equal(missing.json().details.item_id, unknown);
      expectError(await get(tab.project, LIST, { cursor: 'not-an-id' }), 404, 'ITEM_NOT_FOUND');

      // Nine replays with one identical last_event_at, plus one later and one earlier.
      const tied = await t().createProject();
      const sameTime = clock - 1000;
      const ids: string[] = [];
      const before = await openTab(tied);
      ids.push((await uploadOk(before, [rr(sameTime - 50)])).session_replay_id);
      const tabs = await Promise.all(Array.from({ length: 9 }, () => openTab(tied)));
      for (const t9 of tabs) ids.push((await uploadOk(t9, [rr(sameTime - 10), rr(sameTime)])).session_replay_id);
      const later = await openTab(tied);
      ids.push((await uploadOk(later, [rr(sameTime + 10)])).session_replay_id);
      const expected = [ids[10], ...ids.slice(1, 10).sort().reverse(), ids[0]];
      assert.deepEqual(await listIds(tied), expected);
      for (const limit of [1, 2, 3, 4]) {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page: { items: { id: string }[]; pagination: { next_cursor: string | null } } = await getOk(
            tied,
            LIST,
            cursor ? { limit, cursor } : { limit },
          );
          assert.ok(page.items.length <= limit);
          seen.push(...page.items.map((i) => i.id));
          cursor = page.pagination.next_cursor;
        } while (cursor);
        assert.deepEqual(seen, expected, `limit ${limit}`);
      }
    });

    test('list filters, alone and combined, with messages naming the parameter', async () => {
      const project = await t().createProject();
      const ada = await openTab(project, { profile: { display_name: 'Ada', primary_email: 'ada@example.com' } });
      const ada2 = await openTab(project, { userId: ada.userId });
      const bob = await openTab(project, { profile: { display_name: 'Bob' } });
      const end = clock;
      // r1: Ada, 1 s long, no clicks; r2: Ada, 5 s, 2 clicks; r3: Bob, 20 s, 4 clicks.
      const r1 = (await uploadOk(ada, [rr(end - 3000 - 1000), rr(end - 3000)])).session_replay_id;
      const r2 = (await uploadOk(ada2, [rr(end - 2000 - 5000), rr(end - 2000)])).session_replay_id;
      const r3 = (await uploadOk(bob, [rr(end - 1000 - 20_000), rr(end - 1000)])).session_replay_id;
      clock += 1500;
      await postEvents(ada2, clicks(2));
      await postEvents(bob, [...clicks(4), { event_type: '$page-view' }]);
      await postEvents(ada, [{ event_type: '$page-view' }]);
      const [l1, l2] = [end - 3000, end - 2000];
      const ids = (query: Record<string, string | number>) => listIds(project, query);

      assert.deepEqual(await ids({}), [r3, r2, r1]);
      assert.deepEqual(await ids({ user_ids: ada.userId }), [r2, r1]);
      assert.deepEqual(await ids({ user_ids: ` ${bob.userId.toUpperCase()} ` }), [r3]);
      assert.deepEqual(await ids({ user_ids: `${ada.userId},${bob.userId}` }), [r3, r2, r1]);
      assert.deepEqual(await ids({ duration_ms_min: 5000 }), [r3, r2]);
      assert.deepEqual(await ids({ duration_ms_max: 5000 }), [r2, r1]);
      assert.deepEqual(await ids({ duration_ms_min: 2000, duration_ms_max: 10_000 }), [r2]);
      assert.deepEqual(await ids({ duration_ms_min: 1000, duration_ms_max: 1000 }), [r1]);
      assert.deepEqual(await ids({ last_event_at_from_millis: l2 }), [r3, r2]);
      assert.deepEqual(await ids({ last_event_at_to_millis: l2 }), [r2, r1]);
      assert.deepEqual(await ids({ last_event_at_from_millis: l2, last_event_at_to_millis: l2 }), [r2]);
      assert.deepEqual(await ids({ click_count_min: 0 }), [r3, r2, r1]);
      assert.deepEqual(await ids({ click_count_min: 1 }), [r3, r2]);
      assert.deepEqual(await ids({ click_count_min: 3 }), [r3]);
      assert.deepEqual(await ids({ user_ids: ada.userId, click_count_min: 1 }), [r2]);
      assert.deepEqual(await ids({ duration_ms_min: 1000, last_event_at_to_millis: l2, click_count_min: 1, user_ids: ada.userId }), [r2]);
      assert.deepEqual(await ids({ user_ids: bob.userId, duration_ms_max: 5000 }), []);
      assert.deepEqual(await ids({ last_event_at_from_millis: l1, duration_ms_max: 19_999 }), [r2, r1]);

      // Filtering happens before the page is cut: pages of one still find every match.
      const first = await getOk(project, LIST, { click_count_min: 1, limit: 1 });
      assert.deepEqual(first.items.map((i: { id: string }) => i.id), [r3]);
      const second = await getOk(project, LIST, { click_count_min: 1, limit: 1, cursor: first.pagination.next_cursor });
      assert.deepEqual(second.items.map((i: { id: string }) => i.id), [r2]);
      assert.equal(second.pagination.next_cursor, null);

      const noMatches: Record<string, string | number>[] = [
        { user_ids: randomUUID() },
        { click_count_min: 5 },
        { last_event_at_from_millis: end + 1 },
        { duration_ms_min: 20_001 },
      ];
      for (const query of noMatches) {
        assert.deepEqual(await getOk(project, LIST, query), { items: [], pagination: { next_cursor: null } });
      }

      const bad = async (query: Record<string, string | number>, message: string) =>
        expectError(await get(project, LIST, query), 400, 'SCHEMA_ERROR', message);
      await bad({ user_ids: 'nope' }, 'user_ids must contain valid UUID values');
      await bad({ user_ids: `${ada.userId},x` }, 'user_ids must contain valid UUID values');
      for (const name of ['duration_ms_min', 'duration_ms_max', 'click_count_min']) {
        for (const value of ['-1', '1.5', 'abc']) await bad({ [name]: value }, `${name} must be a non-negative integer`);
      }
      for (const name of ['last_event_at_from_millis', 'last_event_at_to_millis']) {
        for (const value of ['-5', '2.5', 'yesterday']) await bad({ [name]: value }, `${name} must be a non-negative timestamp in milliseconds`);
      }
      await bad({ duration_ms_min: 10, duration_ms_max: 9 }, 'duration_ms_min must be less than or equal to duration_ms_max');
      await bad(
        { last_event_at_from_millis: l2, last_event_at_to_millis: l1 },
        'last_event_at_from_millis must be less than or equal to last_event_at_to_millis',
      );

      const items = (await getOk(project, LIST)).items;
      assert.deepEqual(items[0], {
        id: r3,
        project_user: { id: bob.userId, display_name: 'Bob', primary_email: null },
        started_at_millis: end - 21_000,
        last_event_at_millis: end - 1000,
        chunk_count: 1,
        event_count: 2,
      });
      assert.deepEqual(items[2].project_user, { id: ada.userId, display_name: 'Ada', primary_email: 'ada@example.com' });
    });

    test('chunks: time order, default 100, limit 1-500, cursor must belong to the replay', async () => {
      const tab = await openTab();
      const base = clock - 60_000;
      const bodies = Array.from({ length: 103 }, (_, i) =>
        // Chunks in threes share their first_event_at: the keyset must break ties by id.
        chunkBody(tab, [rr(base + Math.floor(i / 3) * 100, i), rr(base + Math.floor(i / 3) * 100 + 50, i)]),
      );
      const results: { session_replay_id: string }[] = [];
      for (let i = 0; i < bodies.length; i += 10) {
        const group = bodies.slice(i, i + 10).map(async (payload) => {
          const res = await t().request({ method: 'POST', url: UPLOAD, headers: tab.client, payload });
          assert.equal(res.statusCode, 200, res.body);
          return res.json();
        });
        results.push(...(await Promise.all(group)));
      }
      const replayId = results[0]!.session_replay_id;
      assert.ok(results.every((r) => r.session_replay_id === replayId));

      const all = await allChunks(tab.project, replayId);
      assert.equal(all.length, 103);
      const keyOf = (c: Record<string, unknown>) => `${String(c.first_event_at_millis).padStart(15, '0')}:${c.id}`;
      assert.deepEqual(all.map(keyOf), all.map(keyOf).sort());
      const byBatch = new Map<string, (typeof bodies)[number]>(bodies.map((b) => [b.batch_id, b]));
      for (const chunk of all) {
        assert.deepEqual(Object.keys(chunk).sort(), [
          'batch_id', 'browser_session_id', 'byte_length', 'created_at_millis', 'event_count', 'first_event_at_millis', 'id',
          'last_event_at_millis', 'session_replay_segment_id',
        ]);
        const body = byBatch.get(String(chunk.batch_id))!;
        assert.equal(chunk.byte_length, Buffer.byteLength(JSON.stringify(body)));
        assert.equal(chunk.event_count, 2);
        assert.equal(chunk.session_replay_segment_id, tab.segmentId);
        assert.equal(chunk.browser_session_id, tab.browserSessionId);
        assert.equal(chunk.last_event_at_millis, Number(chunk.first_event_at_millis) + 50);
        assert.equal(chunk.created_at_millis, clock);
      }

      const page1 = await getOk(tab.project, `${LIST}/${replayId}/chunks`);
      assert.equal(page1.items.length, 100);
      assert.equal(page1.pagination.next_cursor, all[99]?.id);
      const page2 = await getOk(tab.project, `${LIST}/${replayId}/chunks`, { cursor: page1.pagination.next_cursor });
      assert.deepEqual(page2.items.map((c: { id: string }) => c.id), all.slice(100).map((c) => c.id));
      assert.equal(page2.pagination.next_cursor, null);
      for (const limit of [1, 7]) {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page: { items: { id: string }[]; pagination: { next_cursor: string | null } } = await getOk(
            tab.project,
            `${LIST}/${replayId}/chunks`,
            cursor ? { limit, cursor } : { limit },
          );
          seen.push(...page.items.map((c) => c.id));
          cursor = page.pagination.next_cursor;
        } while (cursor);
        assert.deepEqual(seen, all.map((c) => c.id), `limit ${limit}`);
      }
      for (const limit of ['0', '501', 'x']) expectError(await get(tab.project, `${LIST}/${replayId}/chunks`, { limit }), 400, 'SCHEMA_ERROR');

      const otherTab = await openTab(tab.project);
      const other = await uploadOk(otherTab, [rr(clock)]);
      const [otherChunk] = await allChunks(tab.project, other.session_replay_id);
      const wrongCursor = await get(tab.project, `${LIST}/${replayId}/chunks`, { cursor: String(otherChunk?.id) });
      expectError(wrongCursor, 404, 'ITEM_NOT_FOUND');
      assert.equal(wrongCursor.json().details.item_id, otherChunk?.id);
      expectError(await get(tab.project, `${LIST}/${replayId}/chunks`, { cursor: 'garbage' }), 404, 'ITEM_NOT_FOUND');
      expectError(await get(tab.project, `${LIST}/${randomUUID()}/chunks`), 404, 'ITEM_NOT_FOUND');
      expectError(await get(tab.project, `${LIST}/not-a-uuid/chunks`), 400, 'SCHEMA_ERROR');

      // Chunk events: only through the chunk's own replay.
      const own = await getOk(tab.project, `${LIST}/${replayId}/chunks/${all[5]?.id}/events`);
      assert.deepEqual(own, { events: byBatch.get(String(all[5]?.batch_id))!.events });
      const crossed = await get(tab.project, `${LIST}/${other.session_replay_id}/chunks/${all[5]?.id}/events`);
      expectError(crossed, 404, 'ITEM_NOT_FOUND');
      assert.equal(crossed.json().details.item_id, all[5]?.id);
      expectError(await get(tab.project, `${LIST}/${replayId}/chunks/${randomUUID()}/events`), 404, 'ITEM_NOT_FOUND');
      expectError(await get(tab.project, `${LIST}/${replayId}/chunks/nope/events`), 400, 'SCHEMA_ERROR');

      // /events: every chunk's metadata, the events of the requested slice.
      const slice = await getOk(tab.project, `${LIST}/${replayId}/events`, { offset: 100, limit: 10 });
      assert.deepEqual(slice.chunks.map((c: { id: string }) => c.id), all.map((c) => c.id));
      assert.deepEqual(slice.chunk_events.map((c: { chunk_id: string }) => c.chunk_id), all.slice(100).map((c) => c.id));
      for (const entry of slice.chunk_events as { chunk_id: string; events: unknown[] }[]) {
        const chunk = all.find((c) => c.id === entry.chunk_id)!;
        assert.deepEqual(entry.events, byBatch.get(String(chunk.batch_id))!.events);
      }
      const middle = await getOk(tab.project, `${LIST}/${replayId}/events`, { offset: 40, limit: 5 });
      assert.deepEqual(middle.chunk_events.map((c: { chunk_id: string }) => c.chunk_id), all.slice(40, 45).map((c) => c.id));
      assert.deepEqual((await getOk(tab.project, `${LIST}/${replayId}/events`, { offset: 103 })).chunk_events, []);
      for (const query of [{ limit: 0 }, { offset: -1 }, { offset: 'x' }] as Record<string, string | number>[]) {
        expectError(await get(tab.project, `${LIST}/${replayId}/events`, query), 400, 'SCHEMA_ERROR');
      }
      expectError(await get(tab.project, `${LIST}/${randomUUID()}/events`), 404, 'ITEM_NOT_FOUND');
    });

    test("deleting a user removes their replays, chunks and (once drained) payloads", async () => {
      const tab = await openTab();
      const keep = await openTab(tab.project);
      const r1 = (await uploadOk(tab, [rr(clock)])).session_replay_id;
      clock += 4 * MINUTE;
      const r2 = (await uploadOk(tab, [rr(clock)])).session_replay_id;
      await uploadOk(tab, [rr(clock)]);
      const kept = (await uploadOk(keep, [rr(clock)])).session_replay_id;
      assert.notEqual(r1, r2);
      assert.equal(await payloadRows(r2), 2);

      const deleted = await t().request({ method: 'DELETE', url: `/api/v1/users/${tab.userId}`, headers: tab.project.headers('server') });
      assert.equal(deleted.statusCode, 200, deleted.body);
      assert.deepEqual(await listIds(tab.project), [kept]);
      for (const id of [r1, r2]) {
        expectError(await get(tab.project, `${LIST}/${id}/events`), 404, 'ITEM_NOT_FOUND');
        assert.equal(await replayRow(id), undefined);
      }
      const orphans = await pg().execute('SELECT id FROM session_replay_chunks WHERE session_replay_id = ANY($1::uuid[])', [[r1, r2]]);
      assert.equal(orphans.length, 0);
      const queued = await pg().execute<{ session_replay_id: string }>(
        'SELECT session_replay_id FROM replay_payload_deletions WHERE session_replay_id = ANY($1::uuid[]) ORDER BY session_replay_id',
        [[r1, r2]],
      );
      assert.deepEqual(queued.map((q) => q.session_replay_id), [r1, r2].sort());

      assert.ok((await drainPayloadDeletions({ postgres: pg(), clickhouse: ch() })) >= 2);
      assert.equal(await payloadRows(r1), 0);
      assert.equal(await payloadRows(r2), 0);
      assert.equal((await pg().execute('SELECT 1 FROM replay_payload_deletions')).length, 0);
      assert.equal(await payloadRows(kept), 1);
      const [keptChunk] = await allChunks(tab.project, kept);
      assert.equal((await getOk(tab.project, `${LIST}/${kept}/chunks/${keptChunk?.id}/events`)).events.length, 1);
    });

    // Retention sweeps every tenancy, so it runs last.
    test('retention removes old chunks with their metadata and payloads, and nothing newer', async () => {
      const deps = { postgres: pg(), clickhouse: ch() };
      const oldTab = await openTab();
      const oldReplay = (await uploadOk(oldTab, [rr(clock)])).session_replay_id;
      clock += 40 * 24 * 60 * MINUTE;
      const newTab = await openTab(oldTab.project);
      const newReplay = (await uploadOk(newTab, [rr(clock - 1000), rr(clock)])).session_replay_id;

      const partial = await applyReplayRetention(deps, 30, clock + MINUTE);
      assert.ok(partial.chunks >= 1 && partial.replays >= 1, JSON.stringify(partial));
      assert.deepEqual(await listIds(oldTab.project), [newReplay]);
      assert.equal(await replayRow(oldReplay), undefined);
      assert.equal(await payloadRows(oldReplay), 0);
      assert.equal(await payloadRows(newReplay), 1);
      const [newChunk] = await allChunks(oldTab.project, newReplay);
      assert.equal((await getOk(oldTab.project, `${LIST}/${newReplay}/chunks/${newChunk?.id}/events`)).events.length, 2);

      const everything = await applyReplayRetention(deps, 30, clock + 400 * 24 * 60 * MINUTE);
      assert.ok(everything.chunks >= 1, JSON.stringify(everything));
      for (const table of ['session_replay_chunks', 'session_replays', 'replay_payload_deletions']) {
        assert.equal((await pg().execute(`SELECT 1 FROM ${table}`)).length, 0, table);
      }
      const [left] = await ch().query<{ n: string }>({
        name: 'test.replay-payloads-left',
        sql: 'SELECT count() AS n FROM analytics_internal.session_replay_chunks',
      });
      assert.equal(Number(left?.n), 0);
      assert.deepEqual(await getOk(oldTab.project, LIST), { items: [], pagination: { next_cursor: null } });
    });
  });
}
