import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { openPostgres, type Postgres } from './db.ts';
import { runPostgresContract } from './postgres.contract.ts';

const root = mkdtempSync(path.join(tmpdir(), 'sightline-pglite-'));
after(() => rmSync(root, { recursive: true, force: true }));

const dataDirs = new WeakMap<Postgres, string>();
let counter = 0;
async function open(dataDir: string): Promise<Postgres> {
  const pg = await openPostgres({ kind: 'pglite', dataDir });
  dataDirs.set(pg, dataDir);
  return pg;
}

runPostgresContract({
  name: 'PGlite',
  // A directory that does not exist yet: openPostgres must create it.
  create: () => open(path.join(root, `db-${++counter}`, 'postgres')),
  reopen: (previous) => open(dataDirs.get(previous)!),
});

test('PGlite: using the outer handle inside a transaction fails instead of deadlocking', async () => {
  const pg = await open(path.join(root, 'guard'));
  try {
    await assert.rejects(
      pg.transaction(async () => pg.execute('SELECT 1')),
      /single connection: inside transaction\(\) use tx\.execute/,
    );
    const [row] = await pg.execute<{ ok: number }>('SELECT 1 AS ok');
    assert.equal(row?.ok, 1);
  } finally {
    await pg.close();
  }
});
