import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { KnownError } from '@sightline/protocol';
import { openClickHouse, type ClickHouse } from '../storage/clickhouse/client.ts';
import type { EventRow } from '../storage/clickhouse/events.ts';
import { inProcessLock, runClickHouseMigrations } from '../storage/clickhouse/migrations.ts';
import { createGroupCommitWriter } from './group-commit-writer.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'sightline-writer-'));
const log = pino({ level: 'silent' });
let ch: ClickHouse;

before(async () => {
  ch = await openClickHouse({ kind: 'embedded', dataDir });
  await runClickHouseMigrations(ch, { lock: inProcessLock() });
});
after(async () => {
  await ch.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const row = (project: string, n: number): EventRow => ({
  event_type: 'test',
  event_at: Date.now(),
  data: { n },
  project_id: project,
  branch_id: 'main',
  user_id: null,
  team_id: null,
  refresh_token_id: null,
  session_replay_id: null,
  session_replay_segment_id: null,
});

const countRows = async (project: string) => {
  const [r] = await ch.query<{ n: string }>({
    name: 'test.count',
    sql: 'SELECT count() AS n FROM analytics_internal.events WHERE project_id = {p:String}',
    params: { p: project },
  });
  return Number(r?.n);
};

describe('group-commit writer', () => {
  test('merges concurrent requests into few inserts and answers each after its insert', async () => {
    const writer = createGroupCommitWriter(ch.dedicated(), log, { maxRows: 1000, maxWaitMs: 20 });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => writer.write([row('merge', i), row('merge', i)], { dedupKey: `merge:main:${i}` })),
    );
    assert.ok(results.every((r) => r.inserted === 2 && !r.deduped));
    assert.ok(writer.stats.inserts <= 3, `40 requests took ${writer.stats.inserts} inserts`);
    // Every request was answered only once its rows were readable.
    assert.equal(await countRows('merge'), 80);
    await writer.close();
  });

  test('flushes at the row limit without waiting for the timer', async () => {
    const writer = createGroupCommitWriter(ch.dedicated(), log, { maxRows: 10, maxWaitMs: 60_000 });
    const started = performance.now();
    await writer.write(Array.from({ length: 10 }, (_, i) => row('limit', i)));
    assert.ok(performance.now() - started < 5000);
    await writer.close();
  });

  test('a batch re-sent, concurrently or later, is written once', async () => {
    const writer = createGroupCommitWriter(ch.dedicated(), log, { maxWaitMs: 10 });
    const rows = [row('dedup', 1), row('dedup', 2), row('dedup', 3)];
    const [a, b] = await Promise.all([writer.write(rows, { dedupKey: 'dedup:main:b1' }), writer.write(rows, { dedupKey: 'dedup:main:b1' })]);
    assert.deepEqual([a.inserted, b.inserted], [3, 3]);
    assert.deepEqual([a.deduped, b.deduped].sort(), [false, true]);
    const again = await writer.write(rows, { dedupKey: 'dedup:main:b1' });
    assert.deepEqual(again, { inserted: 3, deduped: true });
    assert.equal(await countRows('dedup'), 3);
    await writer.close();
  });

  test('after a restart the window is read back from the table', async () => {
    const first = createGroupCommitWriter(ch.dedicated(), log);
    await first.write([row('restart', 1), row('restart', 2)], { dedupKey: 'restart:main:b9' });
    await first.close();
    const second = createGroupCommitWriter(ch.dedicated(), log);
    assert.ok((await second.seed()) >= 1);
    assert.deepEqual(await second.write([row('restart', 1), row('restart', 2)], { dedupKey: 'restart:main:b9' }), {
      inserted: 2,
      deduped: true,
    });
    assert.equal(await countRows('restart'), 2);
    await second.close();
  });

  test('a full queue answers 503 instead of growing', async () => {
    const writer = createGroupCommitWriter(ch.dedicated(), log, { maxQueuedRows: 5, maxWaitMs: 50 });
    const accepted = writer.write([row('full', 1), row('full', 2), row('full', 3)]);
    await assert.rejects(writer.write([row('full', 4), row('full', 5), row('full', 6)]), (error: unknown) => {
      assert.ok(error instanceof KnownError);
      assert.equal(error.status, 503);
      return true;
    });
    await accepted;
    assert.equal(await countRows('full'), 3);
    await writer.close();
  });

  test('a failed insert fails its requests and forgets their batch ids', async () => {
    const broken = await openClickHouse({ kind: 'embedded', dataDir, connections: 1 });
    const writer = createGroupCommitWriter(broken, log, { maxWaitMs: 5 });
    await broken.close();
    await assert.rejects(writer.write([row('fail', 1)], { dedupKey: 'fail:main:x' }));
    const retry = createGroupCommitWriter(ch.dedicated(), log);
    assert.deepEqual(await retry.write([row('fail', 1)], { dedupKey: 'fail:main:x' }), { inserted: 1, deduped: false });
    await retry.close();
  });

  test('a stalled insert does not hold the requests queued behind it; normal inserts run one at a time', async () => {
    // An engine double whose first insert hangs until released.
    let release: () => void = () => {};
    const inserts: { rows: number; startedAt: number }[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const engine: ClickHouse = {
      capabilities: { accessControl: false, onCluster: false, embedded: true },
      cluster: undefined,
      query: async () => [],
      command: async () => {},
      async insert(request) {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        inserts.push({ rows: String(request.values).split('\n').length - 1, startedAt: performance.now() });
        if (inserts.length === 1) await new Promise<void>((resolve) => (release = resolve));
        concurrent--;
      },
      dedicated: () => engine,
      close: async () => {},
    };
    const writer = createGroupCommitWriter(engine, log, { maxWaitMs: 1, overlapAfterMs: 30 });
    const stalled = writer.write([row('stall', 1)]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const started = performance.now();
    await writer.write([row('stall', 2)]);
    const waited = performance.now() - started;
    // The overlapping insert starts once the stalled one is 30 ms old (not sooner), and is not held until it ends.
    const overlapAfter = inserts[1]!.startedAt - inserts[0]!.startedAt;
    // (29: Node timers may fire up to a millisecond before performance.now() says the delay passed.)
    assert.ok(overlapAfter >= 29, `the overlapping insert started ${overlapAfter} ms into the stall`);
    assert.ok(waited < 2000, `the second request waited ${waited} ms`);
    release();
    await stalled;
    assert.equal(maxConcurrent, 2);
    // Quick inserts: one at a time.
    maxConcurrent = 0;
    await Promise.all(Array.from({ length: 20 }, (_, i) => writer.write([row('stall', i)])));
    assert.equal(maxConcurrent, 1);
    await writer.close();
  });
});
