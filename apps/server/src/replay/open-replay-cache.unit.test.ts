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

test('open-replay lookup: a tenancy renews its recently asked tokens in one query (real PGlite)', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const { randomUUID } = await import('node:crypto');
  const { openPostgres } = await import('../storage/postgres/db.ts');
  const { runPostgresMigrations } = await import('../storage/postgres/migrations.ts');
  const dir = mkdtempSync(path.join(tmpdir(), 'sightline-open-replay-'));
  const pg = await openPostgres({ kind: 'pglite', dataDir: dir });
  try {
    await runPostgresMigrations(pg);
    // Replay rows without their users and sessions: foreign keys are not what this tests.
    await pg.execute('SET session_replication_role = replica');
    const queries: string[] = [];
    const counted = { ...pg, execute: (sql: string, params?: unknown[]) => (queries.push(sql), pg.execute(sql, params)) } as typeof pg;
    const tokens = [randomUUID(), randomUUID(), randomUUID()];
    const at = Date.now();
    const open = async (token: string, updatedAt: number) => {
      const id = randomUUID();
      await pg.execute(
        `INSERT INTO session_replays (id, project_id, branch_id, refresh_token_id, user_id, started_at, last_event_at, updated_at)
         VALUES ($1, $2, 'main', $3, $4, $5, $5, $5)`,
        [id, tenancy.projectId, token, randomUUID(), new Date(updatedAt)],
      );
      return id;
    };
    const older = await open(tokens[0]!, at - 60_000);
    const newer = await open(tokens[0]!, at - 1000);
    await open(tokens[1]!, at - 10 * 60_000); // idle for longer than 3 minutes: closed
    const lookup = createOpenReplayLookup(counted);
    for (const token of tokens) assert.equal(await lookup(tenancy, token, at), token === tokens[0] ? newer : undefined);
    assert.equal(queries.length, 3);
    const third = await open(tokens[2]!, at + 500);
    // Still asked (cached answers), so still worth renewing.
    assert.equal(await lookup(tenancy, tokens[2]!, at + 600), undefined);
    assert.equal(await lookup(tenancy, tokens[1]!, at + 600), undefined);
    // At +1000 the first token's entry expires; the others (asked, past half their life) come along.
    assert.equal(await lookup(tenancy, tokens[0]!, at + 1000), newer);
    assert.equal(queries.length, 4);
    assert.equal(await lookup(tenancy, tokens[2]!, at + 1001), third, 'renewed with the first token');
    assert.equal(await lookup(tenancy, tokens[1]!, at + 1001), undefined);
    assert.equal(queries.length, 4);
    assert.notEqual(older, newer);
  } finally {
    await pg.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
