import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { openPostgres, type Postgres } from './db.ts';
import { runPostgresContract } from './postgres.contract.ts';
import { createTestDatabase, findTestPostgresServer } from './test-database.ts';

const server = await findTestPostgresServer();

if (!server.available && server.mustFail) {
  test('PostgreSQL server is reachable (required when CI is set)', () => assert.fail(server.reason));
} else if (!server.available) {
  console.log(`# skipping PostgreSQL contract: ${server.reason}`);
  describe('Postgres contract: PostgreSQL 15 server (pg)', { skip: server.reason }, () => {});
} else {
  const drops: (() => Promise<void>)[] = [];
  const urls = new WeakMap<Postgres, string>();
  after(async () => {
    for (const drop of drops) await drop();
  });
  const open = async (url: string) => {
    const pg = await openPostgres({ kind: 'pg', url });
    urls.set(pg, url);
    return pg;
  };

  runPostgresContract({
    name: 'PostgreSQL server (pg)',
    // A fresh database per test: migrations and ledgers never leak between tests.
    create: async () => {
      const database = await createTestDatabase(server.adminUrl);
      drops.push(database.drop);
      return open(database.url);
    },
    reopen: (previous) => open(urls.get(previous)!),
    openAlongside: (first) => open(urls.get(first)!),
  });

  test('pg: an unreachable server fails at open, not at the first query', async () => {
    await assert.rejects(openPostgres({ kind: 'pg', url: 'postgres://postgres@127.0.0.1:1/none' }), /ECONNREFUSED/);
  });
}
