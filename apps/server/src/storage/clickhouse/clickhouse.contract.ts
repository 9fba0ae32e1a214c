import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { ClickHouseQueryError, type ClickHouse } from './client.ts';

export type ClickHouseContractOptions = {
  name: string;
  /** Opens the engine; called again after `close()` to prove persistence. */
  open: () => Promise<ClickHouse>;
  /** Why the whole suite cannot run here (printed), or undefined to run it. */
  skip?: string | undefined;
};

/**
 * The behaviour every ClickHouse engine must show for Sightline's code to be
 * engine-agnostic. Run for embedded chDB always and for a server when one is configured.
 *
 * @example
 * runClickHouseContract({ name: 'chDB', open: () => openClickHouse({ kind: 'embedded', dataDir }) });
 */
export function runClickHouseContract(options: ClickHouseContractOptions): void {
  describe(`ClickHouse contract: ${options.name}`, { skip: options.skip ?? false }, () => {
    const database = `contract_${randomBytes(4).toString('hex')}`;
    let ch: ClickHouse;

    before(async () => {
      ch = await options.open();
      await ch.command({ name: 'contract.create-db', sql: `CREATE DATABASE IF NOT EXISTS ${database}` });
      await ch.command({
        name: 'contract.create-table',
        sql: `CREATE TABLE ${database}.events (id UInt32, kind LowCardinality(String), data JSON, at DateTime64(3, 'UTC'))
              ENGINE = MergeTree ORDER BY id`,
      });
    });

    after(async () => {
      await ch.command({ name: 'contract.drop-db', sql: `DROP DATABASE IF EXISTS ${database}` });
      await ch.close();
    });

    test('inserts JSONEachRow rows and bytes, and reads them back decoded', async () => {
      await ch.insert({
        name: 'contract.insert-rows',
        table: `${database}.events`,
        values: [
          { id: 1, kind: 'a', data: { path: '/home', n: 1 }, at: '2026-01-01 00:00:00.000' },
          { id: 2, kind: 'b', data: { path: '/docs', nested: { x: 'y' } }, at: '2026-01-02 00:00:00.000' },
        ],
      });
      const bytes = Buffer.from(`${JSON.stringify({ id: 3, kind: 'c', data: { path: '/ü' }, at: 1767312000000 })}\n`);
      await ch.insert({ name: 'contract.insert-bytes', table: `${database}.events`, values: bytes });
      const rows = await ch.query({
        name: 'contract.read',
        sql: `SELECT id, kind, toUnixTimestamp64Milli(at) AS at_ms FROM ${database}.events ORDER BY id`,
        row: z.object({ id: z.number(), kind: z.string(), at_ms: z.coerce.number() }),
      });
      assert.deepEqual(rows, [
        { id: 1, kind: 'a', at_ms: Date.UTC(2026, 0, 1) },
        { id: 2, kind: 'b', at_ms: Date.UTC(2026, 0, 2) },
        { id: 3, kind: 'c', at_ms: 1767312000000 },
      ]);
    });

    test('binds typed query parameters, never splicing them into the SQL', async () => {
      const hostile = "x' OR 1=1 --\\'; DROP TABLE t";
      const rows = await ch.query({
        name: 'contract.params',
        sql: 'SELECT {s:String} AS s, {n:UInt32} + 1 AS n, {ids:Array(UInt32)} AS ids, {d:DateTime64(3)} AS d',
        params: { s: hostile, n: 41, ids: [1, 2], d: '2026-03-04 05:06:07.890' },
      });
      assert.deepEqual(rows, [{ s: hostile, n: 42, ids: [1, 2], d: '2026-03-04 05:06:07.890' }]);
    });

    test('applies per-query settings to that query only', async () => {
      const read = (settings?: Record<string, number>) =>
        ch.query({ name: 'contract.setting', sql: "SELECT getSetting('max_threads') AS t", ...(settings ? { settings } : {}) });
      const [baseline] = await read();
      const [withSetting] = await read({ max_threads: 3 });
      const [afterwards] = await read();
      assert.equal(Number(withSetting?.t), 3);
      assert.equal(Number(afterwards?.t), Number(baseline?.t));
      assert.notEqual(Number(baseline?.t), 3, 'baseline must differ for the check to mean anything');
    });

    test('reads JSON-type subcolumns', async () => {
      const rows = await ch.query({
        name: 'contract.json',
        sql: `SELECT data.path::String AS path, data.nested.x::Nullable(String) AS x FROM ${database}.events
              WHERE data.path::String = {p:String}`,
        params: { p: '/docs' },
      });
      assert.deepEqual(rows, [{ path: '/docs', x: 'y' }]);
    });

    test('reports errors with their ClickHouse code', async () => {
      const codeOf = async (sql: string) => {
        try {
          await ch.query({ name: 'contract.error', sql });
        } catch (error) {
          assert.ok(error instanceof ClickHouseQueryError, `expected ClickHouseQueryError, got ${String(error)}`);
          assert.equal(error.queryName, 'contract.error');
          return error.code;
        }
        assert.fail('query should have failed');
      };
      assert.equal(await codeOf('SELEC 1'), 62);
      assert.equal(await codeOf(`SELECT missing_column FROM ${database}.events`), 47);
      assert.equal(await codeOf(`SELECT * FROM ${database}.nope`), 60);
    });

    test('runs several queries at once without blocking the event loop', async () => {
      let ticks = 0;
      let worstGap = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        worstGap = Math.max(worstGap, now - last);
        last = now;
        ticks++;
      }, 10);
      try {
        const started = performance.now();
        const results = await Promise.all(
          [0, 1, 2, 3].map((i) => ch.query({ name: 'contract.sleep', sql: `SELECT sleep(0.4), ${i} AS i` })),
        );
        const elapsed = performance.now() - started;
        assert.deepEqual(results.map((r) => r[0]?.i).sort(), [0, 1, 2, 3]);
        // Four 0.4 s queries one after another take 1.6 s: overlap proves they were in flight together.
        assert.ok(elapsed < 1400, `queries ran one after another (${elapsed.toFixed(0)} ms)`);
      } finally {
        clearInterval(timer);
      }
      assert.ok(ticks > 20, `the event loop ticked only ${ticks} times`);
      assert.ok(worstGap < 150, `the event loop stalled for ${worstGap.toFixed(0)} ms`);
    });

    test('keeps data across close and reopen', async () => {
      await ch.close();
      ch = await options.open();
      const [row] = await ch.query({
        name: 'contract.reopen',
        sql: `SELECT count() AS n FROM ${database}.events`,
        row: z.object({ n: z.coerce.number() }),
      });
      assert.equal(row?.n, 3);
    });
  });
}
