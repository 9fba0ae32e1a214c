import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openClickHouse, type ClickHouse } from './client.ts';
import { inProcessLock, loadMigrationFiles, runClickHouseMigrations, splitSqlStatements } from './migrations.ts';

// Rows as older releases wrote them, loaded between the schema (0001–0006) and the
// data fixes (0007–0009). `user_id` labels each fixture row.
const ZURICH = {
  ip: '203.0.113.7',
  isTrusted: true,
  countryCode: 'CH',
  regionCode: 'ZH',
  cityName: 'Zürich',
  latitude: 47.3769,
  longitude: 8.5417,
  tzIdentifier: 'Europe/Zurich',
};
const NORMALISED_IP_INFO = {
  ip: '198.51.100.9',
  is_trusted: false,
  country_code: 'US',
  region_code: 'CA',
  city_name: 'San Francisco',
  latitude: 37.77,
  longitude: -122.42,
  tz_identifier: 'America/Los_Angeles',
};

const FIXTURES: { label: string; event_type: string; refresh_token_id?: string; data: Record<string, unknown> }[] = [
  { label: 'refresh-full-ip', event_type: '$token-refresh', data: { refreshTokenId: 'rt-a', isAnonymous: false, ipInfo: ZURICH } },
  { label: 'refresh-no-ip', event_type: '$token-refresh', data: { refreshTokenId: 'rt-b', isAnonymous: true } },
  { label: 'refresh-partial-ip', event_type: '$token-refresh', data: { refreshTokenId: 'rt-c', isAnonymous: true, ipInfo: { ip: '192.0.2.1', countryCode: 'DE', latitude: 52 } } },
  { label: 'refresh-no-anonymous', event_type: '$token-refresh', data: { refreshTokenId: 'rt-d', ipInfo: null } },
  {
    label: 'rule-full',
    event_type: '$sign-up-rule-trigger',
    data: { projectId: 'proj', branchId: 'main', ruleId: 'rule-1', action: 'reject', email: 'mallory@example.test', authMethod: 'oauth', oauthProvider: 'github' },
  },
  {
    label: 'rule-nulls',
    event_type: '$sign-up-rule-trigger',
    data: { projectId: 'proj', branchId: 'main', ruleId: 'rule-2', action: 'allow', email: null, authMethod: null, oauthProvider: null },
  },
  // Already in the new shape: data must stay as it is.
  { label: 'new-refresh-column-null', event_type: '$token-refresh', data: { refresh_token_id: 'rt-g', is_anonymous: false, ip_info: NORMALISED_IP_INFO } },
  { label: 'new-refresh-column-set', event_type: '$token-refresh', refresh_token_id: 'rt-h', data: { refresh_token_id: 'rt-h', is_anonymous: true } },
  {
    label: 'new-rule',
    event_type: '$sign-up-rule-trigger',
    data: { project_id: 'proj', branch_id: 'main', rule_id: 'rule-3', action: 'allow', email: 'ann@example.test', auth_method: 'password' },
  },
  // Other event types that happen to use the legacy member names.
  { label: 'page-view', event_type: '$page-view', data: { refreshTokenId: 'not-a-refresh', ruleId: 'nope', path: '/' } },
  { label: 'custom', event_type: 'checkout', data: { ruleId: 'rule-x', isAnonymous: true } },
];

// The JSON type does not store null members, so `ip_info: null`, `email: null`… read
// back as absent (the seed's SQL writes them; the engine drops them).
const EXPECTED: Record<string, { data: unknown; refresh_token_id: string | null }> = {
  'refresh-full-ip': {
    data: {
      refresh_token_id: 'rt-a',
      is_anonymous: false,
      ip_info: {
        ip: '203.0.113.7',
        is_trusted: true,
        country_code: 'CH',
        region_code: 'ZH',
        city_name: 'Zürich',
        latitude: 47.3769,
        longitude: 8.5417,
        tz_identifier: 'Europe/Zurich',
      },
    },
    refresh_token_id: 'rt-a',
  },
  'refresh-no-ip': { data: { refresh_token_id: 'rt-b', is_anonymous: true }, refresh_token_id: 'rt-b' },
  'refresh-partial-ip': {
    data: { refresh_token_id: 'rt-c', is_anonymous: true, ip_info: { ip: '192.0.2.1', is_trusted: false, country_code: 'DE', latitude: 52 } },
    refresh_token_id: 'rt-c',
  },
  'refresh-no-anonymous': { data: { refresh_token_id: 'rt-d', is_anonymous: false }, refresh_token_id: 'rt-d' },
  'rule-full': {
    data: { project_id: 'proj', branch_id: 'main', rule_id: 'rule-1', action: 'reject', email: 'mallory@example.test', auth_method: 'oauth', oauth_provider: 'github' },
    refresh_token_id: null,
  },
  'rule-nulls': { data: { project_id: 'proj', branch_id: 'main', rule_id: 'rule-2', action: 'allow' }, refresh_token_id: null },
  'new-refresh-column-null': { data: { refresh_token_id: 'rt-g', is_anonymous: false, ip_info: NORMALISED_IP_INFO }, refresh_token_id: 'rt-g' },
  'new-refresh-column-set': { data: { refresh_token_id: 'rt-h', is_anonymous: true }, refresh_token_id: 'rt-h' },
  'new-rule': {
    data: { project_id: 'proj', branch_id: 'main', rule_id: 'rule-3', action: 'allow', email: 'ann@example.test', auth_method: 'password' },
    refresh_token_id: null,
  },
  'page-view': { data: { refreshTokenId: 'not-a-refresh', ruleId: 'nope', path: '/' }, refresh_token_id: null },
  custom: { data: { ruleId: 'rule-x', isAnonymous: true }, refresh_token_id: null },
};
const UNTOUCHED = ['new-refresh-column-null', 'new-refresh-column-set', 'new-rule', 'page-view', 'custom'];

let root: string;
let ch: ClickHouse;

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'sightline-legacy-'));
  ch = await openClickHouse({ kind: 'embedded', dataDir: path.join(root, 'clickhouse') });
});

after(async () => {
  await ch.close();
  await rm(root, { recursive: true, force: true });
});

type Row = { label: string; data: string; refresh_token_id: string | null };

async function readRows(): Promise<Map<string, Row>> {
  const rows = await ch.query<Row>({
    name: 'test.legacy-rows',
    sql: 'SELECT user_id AS label, toJSONString(data) AS data, refresh_token_id FROM analytics_internal.events ORDER BY label',
  });
  return new Map(rows.map((row) => [row.label, row]));
}

test('legacy rows are normalised and the refresh_token_id column backfilled', async () => {
  const lock = inProcessLock();
  const schema = await runClickHouseMigrations(ch, { lock, upTo: 6 });
  assert.deepEqual(schema.map((r) => r.version), [1, 2, 3, 4, 5, 6]);

  await ch.insert({
    name: 'test.legacy-fixtures',
    table: 'analytics_internal.events',
    values: FIXTURES.map((fixture, index) => ({
      event_type: fixture.event_type,
      event_at: `2024-0${1 + (index % 3)}-15 12:00:00.000`,
      data: fixture.data,
      project_id: 'proj',
      branch_id: 'main',
      user_id: fixture.label,
      team_id: null,
      refresh_token_id: fixture.refresh_token_id ?? null,
    })),
  });
  const before = await readRows();

  const rest = await runClickHouseMigrations(ch, { lock });
  assert.deepEqual(
    rest.filter((r) => r.status === 'applied').map((r) => r.name),
    (await loadMigrationFiles()).filter((f) => f.version >= 7 && f.name !== '0010_limited_user').map((f) => f.name),
  );

  const after = await readRows();
  assert.deepEqual([...after.keys()].sort(), FIXTURES.map((f) => f.label).sort());
  for (const [label, expected] of Object.entries(EXPECTED)) {
    const row = after.get(label);
    assert.deepEqual(JSON.parse(row?.data ?? 'null'), expected.data, `data of ${label}`);
    assert.equal(row?.refresh_token_id, expected.refresh_token_id, `refresh_token_id of ${label}`);
  }
  for (const label of UNTOUCHED) {
    assert.equal(after.get(label)?.data, before.get(label)?.data, `${label} must be untouched`);
  }
});

test('the data fixes are safe to run again (a crashed run re-applies a whole file)', async () => {
  const before = await readRows();
  const fixes = (await loadMigrationFiles()).filter((file) => file.version >= 7 && file.version <= 9);
  for (const file of fixes) {
    for (const statement of splitSqlStatements(file.sql)) {
      await ch.command({ name: `test.rerun.${file.name}`, sql: statement.replace('{on_cluster}', '') });
    }
  }
  assert.deepEqual(await readRows(), before);
  const pending = await ch.query({
    name: 'test.mutations',
    sql: "SELECT count() AS n FROM system.mutations WHERE database = 'analytics_internal' AND NOT is_done",
  });
  assert.equal(Number(pending[0]?.['n']), 0);
});
