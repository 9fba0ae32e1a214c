import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Postgres } from '../storage/postgres/db.ts';
import { createOpenReplayLookup } from './open-replay-cache.ts';

/** A Postgres double answering `findOpenReplay`'s query from a queue of results. */
function fakePostgres(answers: (string | undefined | Error)[]) {
  const calls: unknown[][] = [];
  const postgres = {
    async execute(_sql: string, params: unknown[] = []) {
      calls.push(params);
      const next = answers.shift();
      if (next instanceof Error) throw next;
      return next ? [{ id: next }] : [];
    },
  } as unknown as Postgres;
  return { postgres, calls };
}

const tenancy = { projectId: '00000000-0000-4000-8000-000000000001', branchId: 'main' };

test('open-replay lookup: one query per refresh token per second', async () => {
  const { postgres, calls } = fakePostgres([undefined, 'replay-1', 'replay-2']);
  const lookup = createOpenReplayLookup(postgres);
  assert.equal(await lookup(tenancy, 'rt-1', 10_000), undefined);
  assert.equal(await lookup(tenancy, 'rt-1', 10_999), undefined, 'a miss is cached too, for a second');
  assert.equal(calls.length, 1);
  assert.equal(await lookup(tenancy, 'rt-1', 11_000), 'replay-1');
  assert.equal(await lookup(tenancy, 'rt-2', 11_000), 'replay-2', 'each refresh token has its own entry');
  assert.equal(calls.length, 3);
  // The query asks for replays updated in the last 3 minutes and started in the last 12 hours.
  assert.deepEqual(calls[1]?.slice(2), ['rt-1', new Date(11_000 - 180_000), new Date(11_000 - 12 * 3600_000)]);
});

test('open-replay lookup: concurrent callers share one query; failures are not cached', async () => {
  const { postgres, calls } = fakePostgres([new Error('connection lost'), 'replay-1']);
  const lookup = createOpenReplayLookup(postgres);
  const both = await Promise.allSettled([lookup(tenancy, 'rt', 5000), lookup(tenancy, 'rt', 5000)]);
  assert.deepEqual(both.map((r) => r.status), ['rejected', 'rejected']);
  assert.equal(calls.length, 1);
  assert.equal(await lookup(tenancy, 'rt', 5001), 'replay-1');
  assert.equal(calls.length, 2);
});
