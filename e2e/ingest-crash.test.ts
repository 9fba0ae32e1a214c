import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { HEADERS } from '@sightline/protocol';
import { openClickHouse, type ClickHouse } from '../apps/server/src/storage/clickhouse/client.ts';
import { freePort, startServerProcess, type ServerProcess } from './support/server-process.ts';

/**
 * DESIGN §14 "Crash": `kill -9` the real server during sustained ingestion,
 * restart it on the same data directory, re-send every batch, and count:
 * every acknowledged batch is present, and nothing is present twice.
 */

const CLIENTS = 16;
const EVENTS_PER_BATCH = 50;
const LOAD_MS = 2_500;
const TEST_TIMEOUT_MS = 88_000;
const ADMIN_SECRET = `crash-test-operator-${randomUUID()}`;
const BATCH_URL = '/api/v1/analytics/events/batch';

const dataDir = mkdtempSync(path.join(tmpdir(), 'sightline-crash-'));
const children: ServerProcess[] = [];
let clickhouse: ClickHouse | undefined;

after(async () => {
  for (const child of children) if (!child.exited) await child.kill('SIGKILL', 5_000).catch(() => undefined);
  await clickhouse?.close().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

type Batch = {
  id: string;
  body: string;
  /** Answered 200 by the first server (before or while it was killed). */
  acked: boolean;
  /** What the first attempt ended with: a status, or the network error. */
  firstOutcome: string;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails with `message` when `promise` has not settled within `ms` (and leaves no timer behind). */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function postJson(url: string, headers: Record<string, string>, body: unknown, timeoutMs = 15_000) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

function makeBatch(client: number, seq: number, segment: string): Batch {
  const id = randomUUID();
  const now = Date.now();
  const events = Array.from({ length: EVENTS_PER_BATCH }, (_, i) => ({
    event_type: i % 3 === 0 ? '$page-view' : i % 3 === 1 ? '$click' : 'crash.test',
    event_at_ms: now - (EVENTS_PER_BATCH - i),
    data: { client, seq, i, path: `/page/${i}` },
  }));
  const body = JSON.stringify({ session_replay_segment_id: segment, batch_id: id, sent_at_ms: now, events });
  return { id, body, acked: false, firstOutcome: 'not sent' };
}

test('kill -9 during sustained ingestion loses no acknowledged batch and duplicates none', { timeout: TEST_TIMEOUT_MS }, async () => {
  const started = Date.now();
  const port = await freePort();
  const serverEnv = { SIGHTLINE_INGEST_RATE_LIMIT: '0' };
  const first = await startServerProcess({ dataDir, port, adminSecret: ADMIN_SECRET, env: serverEnv, readyTimeoutMs: 40_000 });
  children.push(first);
  console.log(`# first server ready after ${Date.now() - started} ms (pid ${first.pid})`);

  // A project, a user and a session (all in PGlite: they must survive the kill too).
  const created = await postJson(`${first.url}/api/v1/internal/projects`, { authorization: `Bearer ${ADMIN_SECRET}` }, {
    display_name: 'crash test',
    analytics: { enabled: true },
  });
  assert.equal(created.status, 201, created.text);
  const { project_id: projectId, publishable_client_key: clientKey, secret_server_key: serverKey } = created.json;
  const serverHeaders = {
    [HEADERS.projectId]: projectId,
    [HEADERS.accessType]: 'server',
    [HEADERS.secretServerKey]: serverKey,
  };
  const user = await postJson(`${first.url}/api/v1/users`, serverHeaders, {});
  assert.equal(user.status, 201, user.text);
  const session = await postJson(`${first.url}/api/v1/auth/sessions`, serverHeaders, { user_id: user.json.id });
  assert.equal(session.status, 200, session.text);
  const clientHeaders = {
    [HEADERS.projectId]: projectId,
    [HEADERS.accessType]: 'client',
    [HEADERS.publishableClientKey]: clientKey,
    [HEADERS.accessToken]: session.json.access_token,
  };

  // Sustained load: CLIENTS loops, each posting one batch after another.
  const batches: Batch[] = [];
  const segment = randomUUID();
  let killed = false;
  let inFlight = 0;
  const unexpected: string[] = [];
  const loadClient = async (client: number) => {
    for (let seq = 0; !killed; seq++) {
      const batch = makeBatch(client, seq, segment);
      batches.push(batch);
      inFlight++;
      try {
        const res = await postJson(`${first.url}${BATCH_URL}`, clientHeaders, batch.body);
        batch.firstOutcome = String(res.status);
        if (res.status === 200) {
          batch.acked = true;
          if (res.json?.inserted !== EVENTS_PER_BATCH) unexpected.push(`batch ${batch.id}: 200 with ${res.text}`);
        } else if (!killed) {
          unexpected.push(`batch ${batch.id}: ${res.status} ${res.text.slice(0, 200)}`);
        }
      } catch (error) {
        batch.firstOutcome = `network: ${(error as Error).cause ?? (error as Error).message}`;
        if (!killed) unexpected.push(`batch ${batch.id}: ${batch.firstOutcome}`);
        return;
      } finally {
        inFlight--;
      }
    }
  };
  const loadStarted = Date.now();
  const load = Promise.all(Array.from({ length: CLIENTS }, (_, i) => loadClient(i)));
  await sleep(LOAD_MS);
  const ackedBeforeSignal = batches.filter((b) => b.acked).length;
  const inFlightAtKill = inFlight;
  killed = true;
  const killedWith = await first.kill('SIGKILL', 10_000);
  assert.equal(killedWith.signal, 'SIGKILL');
  const loadMs = Date.now() - loadStarted;
  // In-flight requests fail as their sockets close; bound the wait anyway.
  await within(load, 20_000, 'load clients did not settle after the kill');
  assert.deepEqual(unexpected, [], 'no error answer before the kill');

  const acked = batches.filter((b) => b.acked);
  const lost = batches.filter((b) => !b.acked);
  console.log(
    `# load ${loadMs} ms: ${batches.length} batches sent, ${acked.length} acked (${ackedBeforeSignal} before SIGKILL was sent, ` +
      `${inFlightAtKill} in flight at the kill), ${lost.length} unanswered`,
  );
  assert.ok(acked.length >= CLIENTS, `the load acked only ${acked.length} batches: too little to prove anything`);
  assert.ok(inFlightAtKill > 0, 'the kill happened while requests were in flight');

  // Restart on the same data directory: the stale sightline.lock of the dead pid is taken over.
  const restartStarted = Date.now();
  const second = await startServerProcess({ dataDir, port, adminSecret: ADMIN_SECRET, env: serverEnv, readyTimeoutMs: 40_000 });
  children.push(second);
  console.log(`# restarted after ${Date.now() - restartStarted} ms (pid ${second.pid})`);

  // What survived the crash, before anything is re-sent (operator query on the tenant's view).
  const survived = await postJson(`${second.url}/api/v1/internal/operator/projects/${projectId}/query`, { authorization: `Bearer ${ADMIN_SECRET}` }, {
    query: "SELECT count() AS n FROM events WHERE event_type != '$token-refresh'",
    branch_id: 'main',
    timeout_ms: 30_000,
  });
  if (survived.status === 200) {
    const rows = Number(survived.json.result[0]?.n);
    console.log(`# rows present after the restart, before re-sending: ${rows} (acked x ${EVENTS_PER_BATCH} = ${acked.length * EVENTS_PER_BATCH})`);
    assert.ok(rows >= acked.length * EVENTS_PER_BATCH, `only ${rows} rows survived, ${acked.length} batches were acked`);
    assert.equal(rows % EVENTS_PER_BATCH, 0, 'no batch was written in part');
  } else {
    console.log(`# (could not count rows before re-sending: ${survived.status} ${survived.text.slice(0, 200)})`);
  }

  // Re-send every batch once, acked or not, with the same batch id, until each answers 200.
  const deadline = started + TEST_TIMEOUT_MS - 20_000;
  let retries = 0;
  const answers = new Map<string, number>();
  let next = 0;
  const resendClient = async () => {
    for (let index = next++; index < batches.length; index = next++) {
      const batch = batches[index]!;
      for (;;) {
        assert.ok(Date.now() < deadline, `re-sending did not finish in time (${answers.size}/${batches.length} answered)`);
        try {
          const res = await postJson(`${second.url}${BATCH_URL}`, clientHeaders, batch.body);
          if (res.status === 200) {
            answers.set(batch.id, res.json?.inserted);
            break;
          }
          // Only a busy server may ask to retry; anything else is a failure.
          assert.ok(res.status === 503 || res.status === 429, `re-send of ${batch.id}: ${res.status} ${res.text}`);
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
          assert.ok(!second.exited, `the restarted server died: ${second.output()}`);
        }
        retries++;
        await sleep(100);
      }
    }
  };
  const resendStarted = Date.now();
  await Promise.all(Array.from({ length: CLIENTS }, () => resendClient()));
  console.log(`# re-sent ${batches.length} batches in ${Date.now() - resendStarted} ms (${retries} retries)`);
  const oddAnswers = [...answers].filter(([, inserted]) => inserted !== EVENTS_PER_BATCH);
  assert.deepEqual(oddAnswers, [], 'every re-send answers {inserted: 50} (written now or earlier)');

  // Clean stop: the writer flushes, the engines close, the process exits 0.
  const stopped = await second.kill('SIGTERM', 30_000);
  assert.equal(stopped.code, 0, `clean stop exit code (${JSON.stringify(stopped)}):\n${second.output()}`);

  // Count in ClickHouse itself, now that no server holds the directory.
  clickhouse = await openClickHouse({ kind: 'embedded', dataDir: path.join(dataDir, 'clickhouse'), connections: 1 });
  const counted = await clickhouse.query<{ batch_id: string; n: string; distinct_events: string }>({
    name: 'e2e.crash.rows-per-batch',
    sql: `SELECT batch_id, count() AS n, uniqExact(toString(data.i)) AS distinct_events
          FROM analytics_internal.events
          WHERE project_id = {p:String} AND batch_id IS NOT NULL
          GROUP BY batch_id`,
    params: { p: projectId },
  });
  const perBatch = new Map(counted.map((row) => [row.batch_id, { n: Number(row.n), distinct: Number(row.distinct_events) }]));
  const totalRows = counted.reduce((sum, row) => sum + Number(row.n), 0);
  console.log(
    `# after re-send: ${perBatch.size} batches in ClickHouse (${batches.length} sent, ${acked.length} acked before the kill), ` +
      `${totalRows} rows (expected ${batches.length * EVENTS_PER_BATCH})`,
  );

  const missingAcked = acked.filter((b) => perBatch.get(b.id)?.n !== EVENTS_PER_BATCH);
  assert.deepEqual(
    missingAcked.map((b) => ({ batch: b.id, rows: perBatch.get(b.id)?.n ?? 0 })),
    [],
    'every batch acked before the kill holds exactly its 50 rows',
  );
  const wrong = batches.filter((b) => perBatch.get(b.id)?.n !== EVENTS_PER_BATCH || perBatch.get(b.id)?.distinct !== EVENTS_PER_BATCH);
  assert.deepEqual(
    wrong.map((b) => ({ batch: b.id, acked: b.acked, first: b.firstOutcome, rows: perBatch.get(b.id)?.n ?? 0 })),
    [],
    'after the re-send every batch is present exactly once',
  );
  const known = new Set(batches.map((b) => b.id));
  assert.deepEqual([...perBatch.keys()].filter((id) => !known.has(id)), [], 'no rows from a batch nobody sent');
  assert.equal(totalRows, batches.length * EVENTS_PER_BATCH);
  console.log(`# finished in ${Date.now() - started} ms`);
});
