import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openClickHouse, type ClickHouse } from '../storage/clickhouse/client.ts';
import { inProcessLock, runClickHouseMigrations } from '../storage/clickhouse/migrations.ts';
import { DEFAULT_LIMITS, embeddedTenantReader, type TenantReader } from './tenant-reader.ts';

/**
 * The engine layer alone, without the validator in front: what the reader's
 * connection arguments confine by themselves (DESIGN.md section 9 says this is
 * not a boundary on its own; these are the parts it does hold).
 */
describe('embedded tenant reader (engine layer alone)', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sightline-reader-'));
  let ch: ClickHouse;
  let reader: TenantReader;
  const a = { projectId: '11111111-1111-4111-8111-111111111111', branchId: 'main' };
  const b = { projectId: '22222222-2222-4222-8222-222222222222', branchId: 'main' };
  const limits = { ...DEFAULT_LIMITS, timeoutMs: 5000 };

  before(async () => {
    ch = await openClickHouse({ kind: 'embedded', dataDir });
    await runClickHouseMigrations(ch, { lock: inProcessLock() });
    const row = (project: string, branch: string, n: number) => ({
      event_type: 'e',
      event_at: Date.now(),
      data: { n },
      project_id: project,
      branch_id: branch,
    });
    await ch.insert({
      name: 'test.seed',
      table: 'analytics_internal.events',
      values: [row(a.projectId, 'main', 1), row(a.projectId, 'main', 2), row(a.projectId, 'dev', 3), row(b.projectId, 'main', 4)],
    });
    reader = await embeddedTenantReader(dataDir);
  });
  after(async () => {
    await reader.close();
    await ch.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const count = async (tenancy: typeof a, sql: string) => Number((await reader.run(tenancy, sql, {}, limits)).rows[0]?.n);

  test('the view and the table behind it both show only the tenancy (project and branch)', async () => {
    assert.equal(await count(a, 'SELECT count() AS n FROM events'), 2);
    assert.equal(await count(b, 'SELECT count() AS n FROM events'), 1);
    assert.equal(await count({ ...a, branchId: 'dev' }, 'SELECT count() AS n FROM events'), 1);
    assert.equal(await count(a, 'SELECT count() AS n FROM analytics_internal.events'), 2);
  });

  test('writes and file access are refused by readonly', async () => {
    await assert.rejects(reader.run(a, "INSERT INTO analytics_internal.events (event_type) VALUES ('x')", {}, limits), /READONLY|readonly/);
    await assert.rejects(reader.run(a, "SELECT * FROM file('/etc/passwd', 'LineAsString')", {}, limits), /READONLY|readonly/);
  });

  test('result rows and bytes are capped by the engine and the reader', async () => {
    assert.equal((await reader.run(a, 'SELECT number FROM numbers(10000)', {}, limits)).rows.length, 10_000);
    await assert.rejects(reader.run(a, 'SELECT number FROM numbers(10001)', {}, limits), /TOO_MANY_ROWS_OR_BYTES|Limit for result exceeded/);
    await assert.rejects(reader.run(a, "SELECT repeat('x', 1000000) AS s FROM numbers(20)", {}, limits), /larger than/);
  });

  test('the execution time limit is enforced by the engine', async () => {
    await assert.rejects(
      reader.run(a, 'SELECT sum(cityHash64(toString(number))) AS s FROM numbers(1999999999)', {}, { ...limits, timeoutMs: 1000 }),
      /TIMEOUT_EXCEEDED|Timeout exceeded/,
    );
  });
});
