import assert from 'node:assert/strict';
import { randomUUID, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { eq } from 'drizzle-orm';
import type { Postgres } from './db.ts';
import { Int8OutOfRangeError } from './int8.ts';
import { loadPostgresMigrations, postgresMigrationStatus, runPostgresMigrations } from './migrations.ts';
import { projectKeys, projects } from './schema.ts';

export type PostgresContractOptions = {
  name: string;
  /** A connection to an empty database, new for each test. */
  create: () => Promise<Postgres>;
  /** Opens the same database again after `previous` was closed (a restart). */
  reopen?: (previous: Postgres) => Promise<Postgres>;
  /** Opens the same database while `first` stays open (a second server); engines with one process per data dir omit it. */
  openAlongside?: (first: Postgres) => Promise<Postgres>;
  skip?: { reason: string; tests: string[] }[];
};

/**
 * Registers the behaviour every Postgres implementation must have, Kysely style.
 *
 * @example
 * runPostgresContract({ name: 'pglite', create: () => openPostgres({ kind: 'pglite', dataDir: tmp() }) });
 */
export function runPostgresContract(options: PostgresContractOptions): void {
  const skipReason = (title: string) => options.skip?.find((s) => s.tests.includes(title))?.reason;
  const it = (title: string, body: (pg: Postgres) => Promise<void>, when: string | false = false) =>
    test(title, { skip: when || skipReason(title) || false }, async () => {
      const pg = await options.create();
      try {
        await body(pg);
      } finally {
        await pg.close();
      }
    });

  describe(`Postgres contract: ${options.name}`, () => {
    it('migrations apply, then a second run is all already-applied', async (pg) => {
      const files = loadPostgresMigrations();
      assert.ok(files.length >= 1);
      assert.deepEqual(
        (await postgresMigrationStatus(pg)).map((m) => m.status),
        files.map(() => 'pending'),
      );
      const first = await runPostgresMigrations(pg);
      assert.deepEqual(first, files.map((m) => ({ version: m.version, name: m.name, status: 'applied' })));
      const second = await runPostgresMigrations(pg);
      assert.deepEqual(second.map((r) => r.status), files.map(() => 'already-applied'));
      assert.deepEqual((await postgresMigrationStatus(pg)).map((m) => m.status), files.map(() => 'applied'));
      const ledger = await pg.execute<{ version: number; checksum: string }>(
        'SELECT version, checksum FROM _sightline_migrations ORDER BY version',
      );
      assert.deepEqual(ledger, files.map((m) => ({ version: m.version, checksum: m.checksum })));

      // The Drizzle schema matches the SQL, on this driver.
      const projectId = randomUUID();
      const hash = createHash('sha256').update('sak_secret').digest();
      await pg.db.insert(projects).values({ id: projectId, displayName: 'Demo' });
      await pg.db.insert(projectKeys).values({ id: randomUUID(), projectId, kind: 'super_secret_admin', secretHash: hash });
      const [project] = await pg.db.select().from(projects).where(eq(projects.id, projectId));
      assert.equal(project?.analyticsEnabled, false);
      assert.ok(project?.createdAt instanceof Date);
      const [key] = await pg.db.select().from(projectKeys).where(eq(projectKeys.projectId, projectId));
      assert.ok(key && Buffer.isBuffer(key.secretHash) && key.secretHash.equals(hash));
      assert.equal(key.revokedAt, null);
      await assert.rejects(
        pg.execute("INSERT INTO project_keys (id, project_id, kind, secret_hash) VALUES ($1, $2, 'root', '\\x00')", [
          randomUUID(),
          projectId,
        ]),
        /check constraint/i,
      );
      await pg.db.delete(projects).where(eq(projects.id, projectId));
      const [left] = await pg.execute<{ n: number }>('SELECT count(*) AS n FROM project_keys');
      assert.equal(left?.n, 0, 'keys are deleted with their project');
    });

    it('a transaction commits, and a throw inside it rolls everything back', async (pg) => {
      await pg.execute('CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
      const value = await pg.transaction(async (tx) => {
        await tx.execute('INSERT INTO notes VALUES ($1, $2)', [1, 'kept']);
        return 'done';
      });
      assert.equal(value, 'done');
      const boom = new Error('boom');
      await assert.rejects(
        pg.transaction(async (tx) => {
          await tx.execute('INSERT INTO notes VALUES ($1, $2)', [2, 'lost']);
          await tx.execute("UPDATE notes SET body = 'changed' WHERE id = 1");
          throw boom;
        }),
        (error) => error === boom,
      );
      // A failed statement also aborts the whole transaction.
      await assert.rejects(
        pg.transaction(async (tx) => {
          await tx.execute('INSERT INTO notes VALUES ($1, $2)', [3, 'lost']);
          await tx.execute('INSERT INTO notes VALUES ($1, $2)', [1, 'duplicate']);
        }),
        /duplicate key/,
      );
      // Nested work is a savepoint: its failure alone is undone.
      await pg.transaction(async (tx) => {
        await tx.execute('INSERT INTO notes VALUES ($1, $2)', [4, 'outer']);
        await assert.rejects(
          tx.db.transaction(async (inner) => {
            await inner.execute(`INSERT INTO notes VALUES (5, 'inner')`);
            throw new Error('inner');
          }),
          /inner/,
        );
      });
      assert.deepEqual(await pg.execute('SELECT id, body FROM notes ORDER BY id'), [
        { id: 1, body: 'kept' },
        { id: 4, body: 'outer' },
      ]);
    });

    it('20 concurrent read-modify-write transactions all count', async (pg) => {
      await pg.execute('CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL)');
      await pg.execute('INSERT INTO counter VALUES (1, 0)');
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          pg.transaction(async (tx) => {
            const [row] = await tx.execute<{ n: number }>('SELECT n FROM counter WHERE id = 1 FOR UPDATE');
            await sleep(i % 3); // yield so that transactions would interleave if they could
            await tx.execute('UPDATE counter SET n = $1 WHERE id = 1', [(row?.n ?? 0) + 1]);
            return i;
          }),
        ),
      );
      assert.equal(results.length, 20);
      const [row] = await pg.execute<{ n: number }>('SELECT n FROM counter WHERE id = 1');
      assert.equal(row?.n, 20);
    });

    it("one transaction's uncommitted write is invisible to another", async (pg) => {
      await pg.execute('CREATE TABLE seen (id int PRIMARY KEY)');
      let writerFinishing = false;
      let writerWrote!: () => void;
      const wrote = new Promise<void>((resolve) => (writerWrote = resolve));
      let readerDone!: () => void;
      const read = new Promise<void>((resolve) => (readerDone = resolve));
      const writer = pg.transaction(async (tx) => {
        await tx.execute('INSERT INTO seen VALUES (1)');
        writerWrote();
        // A server lets the reader run now; PGlite queues it behind us, so stop waiting after a while.
        await Promise.race([read, sleep(300)]);
        writerFinishing = true;
      });
      await wrote;
      const reader = pg.transaction(async (tx) => {
        const [row] = await tx.execute<{ n: number }>('SELECT count(*) AS n FROM seen');
        return { n: row?.n, writerFinishing };
      });
      const seen = await reader;
      readerDone();
      await writer;
      // Either the reader ran during the writer's transaction and saw nothing, or it ran after the commit.
      assert.equal(seen.n, seen.writerFinishing ? 1 : 0, JSON.stringify(seen));
      const [after] = await pg.execute<{ n: number }>('SELECT count(*) AS n FROM seen');
      assert.equal(after?.n, 1);
    });

    it('int8 comes back as a number, and an unsafe one is refused', async (pg) => {
      const [row] = await pg.execute<Record<string, unknown>>(
        'SELECT 9007199254740991::int8 AS max, (-9007199254740991)::int8 AS min, count(*) AS n, ARRAY[1::int8, NULL, 3::int8] AS list, 7::int4 AS small FROM generate_series(1, 3)',
      );
      assert.deepEqual(row, { max: Number.MAX_SAFE_INTEGER, min: -Number.MAX_SAFE_INTEGER, n: 3, list: [1, null, 3], small: 7 });
      await pg.execute('CREATE TABLE big (id bigserial PRIMARY KEY, v int8)');
      await pg.execute('INSERT INTO big (v) VALUES ($1), ($2)', [42, null]);
      const rows = await pg.transaction((tx) => tx.execute<{ id: unknown; v: unknown }>('SELECT id, v FROM big ORDER BY id'));
      assert.deepEqual(rows, [{ id: 1, v: 42 }, { id: 2, v: null }]);
      await assert.rejects(pg.execute('SELECT 9007199254740992::int8 AS x'), Int8OutOfRangeError);
      await assert.rejects(pg.execute('SELECT ARRAY[(-9007199254740992)::int8] AS x'), /beyond Number.MAX_SAFE_INTEGER/);
      await assert.rejects(
        pg.transaction((tx) => tx.execute('SELECT 9223372036854775807::int8 AS x')),
        Int8OutOfRangeError,
      );
      const [text] = await pg.execute<{ x: string }>('SELECT 9223372036854775807::int8::text AS x');
      assert.equal(text?.x, '9223372036854775807', 'casting to text is the escape hatch');
      const [still] = await pg.execute<{ ok: number }>('SELECT 1 AS ok');
      assert.equal(still?.ok, 1, 'the connection is usable after a refused value');
    });

    it(
      'data survives close and reopen',
      async (pg) => {
        await runPostgresMigrations(pg);
        const id = randomUUID();
        await pg.db.insert(projects).values({ id, displayName: 'Persistent' });
        await pg.close();
        const again = await options.reopen!(pg);
        try {
          const [row] = await again.db.select().from(projects).where(eq(projects.id, id));
          assert.equal(row?.displayName, 'Persistent');
          assert.deepEqual(
            (await runPostgresMigrations(again)).map((r) => r.status),
            loadPostgresMigrations().map(() => 'already-applied'),
          );
        } finally {
          await again.close();
        }
      },
      options.reopen ? false : 'no reopen() for this implementation',
    );

    it('advisory locks on one key never overlap; other keys do; a throw releases', async (pg) => {
      let active = 0;
      let maxActive = 0;
      const order: number[] = [];
      await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          pg.withAdvisoryLock('contract:same', async () => {
            active++;
            maxActive = Math.max(maxActive, active);
            await sleep(15);
            order.push(i);
            active--;
          }),
        ),
      );
      assert.equal(maxActive, 1);
      assert.equal(order.length, 5);

      let bothInside = false;
      let aEntered!: () => void;
      const aIn = new Promise<void>((resolve) => (aEntered = resolve));
      await Promise.all([
        pg.withAdvisoryLock('contract:a', async () => {
          aEntered();
          await sleep(50);
        }),
        pg.withAdvisoryLock('contract:b', async () => {
          await Promise.race([aIn, sleep(2000)]);
          bothInside = true;
        }),
      ]);
      assert.ok(bothInside, 'different keys do not exclude each other');

      await assert.rejects(pg.withAdvisoryLock('contract:same', async () => Promise.reject(new Error('inside'))), /inside/);
      const value = await Promise.race([pg.withAdvisoryLock('contract:same', async () => 'free'), sleep(5000, 'stuck')]);
      assert.equal(value, 'free');
    });

    it(
      'two servers starting together migrate once, and the lock spans them',
      async (pg) => {
        const other = await options.openAlongside!(pg);
        try {
          const [a, b] = await Promise.all([runPostgresMigrations(pg), runPostgresMigrations(other)]);
          const statuses = [...a, ...b].map((r) => r.status).sort();
          const files = loadPostgresMigrations().length;
          assert.deepEqual(statuses, [...Array(files).fill('already-applied'), ...Array(files).fill('applied')]);
          let active = 0;
          let maxActive = 0;
          const hold = async () => {
            active++;
            maxActive = Math.max(maxActive, active);
            await sleep(30);
            active--;
          };
          await Promise.all([0, 1, 2].flatMap(() => [pg.withAdvisoryLock('contract:x', hold), other.withAdvisoryLock('contract:x', hold)]));
          assert.equal(maxActive, 1);
        } finally {
          await other.close();
        }
      },
      options.openAlongside ? false : 'one process per data directory (no second server)',
    );

    it('an applied migration file that changed is refused by name, and nothing is applied', async (pg) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'sightline-migrations-'));
      try {
        writeFileSync(path.join(dir, '0001_first.sql'), 'CREATE TABLE first_table (id int);\nCREATE TABLE first_other (id int);\n');
        assert.deepEqual(await runPostgresMigrations(pg, { directory: dir }), [{ version: 1, name: 'first', status: 'applied' }]);
        writeFileSync(path.join(dir, '0001_first.sql'), 'CREATE TABLE first_table (id int, extra text);\n');
        writeFileSync(path.join(dir, '0002_second.sql'), 'CREATE TABLE second_table (id int);\n');
        await assert.rejects(runPostgresMigrations(pg, { directory: dir }), (error: Error) => {
          assert.match(error.message, /0001_first\.sql/);
          assert.equal((error as { code?: string }).code, 'POSTGRES_MIGRATION_CHECKSUM_MISMATCH');
          return true;
        });
        const [second] = await pg.execute<{ present: boolean }>("SELECT to_regclass('second_table') IS NOT NULL AS present");
        assert.equal(second?.present, false);
        const status = await postgresMigrationStatus(pg, { directory: dir });
        assert.deepEqual(status.map((s) => s.status), ['checksum-mismatch', 'pending']);
        // A failing file is rolled back whole and not recorded.
        writeFileSync(path.join(dir, '0001_first.sql'), 'CREATE TABLE first_table (id int);\nCREATE TABLE first_other (id int);\n');
        writeFileSync(path.join(dir, '0002_second.sql'), 'CREATE TABLE second_table (id int);\nSELECT no_such_function();\n');
        await assert.rejects(runPostgresMigrations(pg, { directory: dir }), /no_such_function/);
        const [rolledBack] = await pg.execute<{ present: boolean }>("SELECT to_regclass('second_table') IS NOT NULL AS present");
        assert.equal(rolledBack?.present, false);
        const ledger = await pg.execute<{ version: number }>('SELECT version FROM _sightline_migrations ORDER BY version');
        assert.deepEqual(ledger, [{ version: 1 }]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
