import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

test('defaults run everything embedded under ./.sightline on 127.0.0.1:8787', () => {
  const config = loadConfig({}, {});
  assert.equal(config.port, 8787);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.dataDir, path.resolve('.sightline'));
  assert.equal(config.clickhouse.url, undefined);
  assert.equal(config.databaseUrl, undefined);
  assert.equal(config.trustProxy, false);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.clickhouse));
});

test('flags win over the environment', () => {
  const config = loadConfig({ PORT: '9100', SIGHTLINE_TRUST_PROXY: 'true' }, { PORT: '9000', SIGHTLINE_TRUST_PROXY: 'false' });
  assert.equal(config.port, 9100);
  assert.equal(config.trustProxy, true);
});

test('a bad value names the variable and the value', () => {
  assert.throws(() => loadConfig({}, { PORT: 'eighty' }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /PORT: .*"eighty"/);
    return true;
  });
  assert.throws(() => loadConfig({}, { DATABASE_URL: 'mysql://x' }), /DATABASE_URL: must be a postgres/);
  assert.throws(() => loadConfig({}, { SIGHTLINE_ADMIN_SECRET: 'short' }), /SIGHTLINE_ADMIN_SECRET: must be at least 16/);
  assert.throws(() => loadConfig({}, { SIGHTLINE_TRUST_PROXY: 'maybe' }), /SIGHTLINE_TRUST_PROXY/);
});

test('a ClickHouse server needs the limited user password for tenant queries', () => {
  assert.throws(() => loadConfig({}, { CLICKHOUSE_URL: 'http://localhost:8123' }), /CLICKHOUSE_LIMITED_PASSWORD/);
  const config = loadConfig({}, { CLICKHOUSE_URL: 'http://localhost:8123', CLICKHOUSE_LIMITED_PASSWORD: 'pw', CLICKHOUSE_CLUSTER: 'main' });
  assert.equal(config.clickhouse.cluster, 'main');
});

test('the writer and the users sync can be tuned; out-of-range values are refused', () => {
  const defaults = loadConfig({}, {});
  assert.deepEqual([defaults.ingest.connections, defaults.sync.minIntervalMs, defaults.sync.sweepMs], [2, 500, 5000]);
  const tuned = loadConfig({}, { SIGHTLINE_INGEST_CONNECTIONS: '1', SIGHTLINE_SYNC_MIN_INTERVAL_MS: '0', SIGHTLINE_SYNC_SWEEP_MS: '60000' });
  assert.deepEqual([tuned.ingest.connections, tuned.sync.minIntervalMs, tuned.sync.sweepMs], [1, 0, 60_000]);
  assert.ok(Object.isFrozen(tuned.sync));
  assert.throws(() => loadConfig({}, { SIGHTLINE_INGEST_CONNECTIONS: '0' }), /SIGHTLINE_INGEST_CONNECTIONS/);
  assert.throws(() => loadConfig({}, { SIGHTLINE_SYNC_MIN_INTERVAL_MS: '-1' }), /SIGHTLINE_SYNC_MIN_INTERVAL_MS/);
  assert.throws(() => loadConfig({}, { SIGHTLINE_SYNC_SWEEP_MS: '10' }), /SIGHTLINE_SYNC_SWEEP_MS/);
});
