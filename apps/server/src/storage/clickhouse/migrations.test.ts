import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openClickHouse, type ClickHouse, type CommandRequest } from './client.ts';
import {
  CLICKHOUSE_MIGRATIONS_DIRECTORY,
  ClickHouseMigrationError,
  SERVER_ONLY_REASON,
  clickHouseMigrationStatus,
  inProcessLock,
  loadMigrationFiles,
  renderMigrationSql,
  runClickHouseMigrations,
  splitSqlStatements,
} from './migrations.ts';

// chDB allows one data directory per process: every test here shares it, in order.
let root: string;
let ch: ClickHouse;

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'sightline-migrations-'));
  ch = await openClickHouse({ kind: 'embedded', dataDir: path.join(root, 'clickhouse') });
});

after(async () => {
  await ch.close();
  await rm(root, { recursive: true, force: true });
});

async function copyMigrations(name: string, extra: Record<string, string> = {}): Promise<string> {
  const directory = path.join(root, name);
  await cp(CLICKHOUSE_MIGRATIONS_DIRECTORY, directory, { recursive: true });
  for (const [file, sql] of Object.entries(extra)) await writeFile(path.join(directory, file), sql);
  return directory;
}

async function ledger(): Promise<Record<string, unknown>[]> {
  return ch.query({
    name: 'test.ledger',
    sql: 'SELECT version, name, checksum, toString(applied_at) AS applied_at FROM analytics_internal._sightline_migrations ORDER BY version, applied_at',
  });
}

const EVENTS_COLUMNS = [
  ['event_type', 'LowCardinality(String)'],
  ['event_at', "DateTime64(3, 'UTC')"],
  ['data', 'JSON'],
  ['project_id', 'String'],
  ['branch_id', 'String'],
  ['user_id', 'Nullable(String)'],
  ['team_id', 'Nullable(String)'],
  ['refresh_token_id', 'Nullable(String)'],
  ['session_replay_id', 'Nullable(String)'],
  ['session_replay_segment_id', 'Nullable(String)'],
  ['created_at', "DateTime64(3, 'UTC')", 'now64(3)'],
];
const USER_VIEW_COLUMNS = [
  ['project_id', 'String'],
  ['branch_id', 'String'],
  ['id', 'UUID'],
  ['display_name', 'Nullable(String)'],
  ['profile_image_url', 'Nullable(String)'],
  ['primary_email', 'Nullable(String)'],
  ['primary_email_verified', 'UInt8'],
  ['signed_up_at', "DateTime64(3, 'UTC')"],
  ['client_metadata', 'String'],
  ['client_read_only_metadata', 'String'],
  ['server_metadata', 'String'],
  ['is_anonymous', 'UInt8'],
  ['restricted_by_admin', 'UInt8'],
  ['restricted_by_admin_reason', 'Nullable(String)'],
  ['restricted_by_admin_private_details', 'Nullable(String)'],
];
const USERS_COLUMNS = [
  ...USER_VIEW_COLUMNS,
  ['sync_sequence_id', 'Int64'],
  ['sync_is_deleted', 'UInt8'],
  ['sync_created_at', "DateTime64(3, 'UTC')", 'now64(3)'],
];
const SYNC_METADATA_COLUMNS = [
  ['tenancy_id', 'UUID'],
  ['mapping_name', 'String'],
  ['last_synced_sequence_id', 'Int64'],
  ['updated_at', "DateTime64(3, 'UTC')", 'now64(3)'],
];
const LEDGER_COLUMNS = [
  ['version', 'UInt32'],
  ['name', 'String'],
  ['checksum', 'String'],
  ['applied_at', "DateTime64(3, 'UTC')"],
];
// Views do not keep column defaults.
const withoutDefaults = (columns: string[][]): string[][] => columns.map(([name, type]) => [name ?? '', type ?? '']);

test('a fresh database ends with exactly the seed schema', async () => {
  const logged: string[] = [];
  const results = await runClickHouseMigrations(ch, { lock: inProcessLock(), log: (line) => logged.push(line) });

  const files = await loadMigrationFiles();
  assert.deepEqual(results.map((r) => r.name), files.map((f) => f.name));
  for (const result of results) {
    if (result.name === '0010_limited_user') {
      assert.deepEqual(result, { version: 10, name: '0010_limited_user', status: 'skipped', reason: SERVER_ONLY_REASON });
    } else {
      assert.equal(result.status, 'applied', result.name);
    }
  }
  assert.ok(logged.some((line) => line.includes('0010_limited_user') && line.includes(SERVER_ONLY_REASON)));

  const columns = await ch.query<{ database: string; table: string; name: string; type: string; default_expression: string }>({
    name: 'test.columns',
    sql: `SELECT database, table, name, type, default_expression FROM system.columns
          WHERE database IN ('analytics_internal', 'default') ORDER BY database, table, position`,
  });
  const of = (database: string, table: string): string[][] =>
    columns
      .filter((c) => c.database === database && c.table === table)
      .map((c) => (c.default_expression ? [c.name, c.type, c.default_expression] : [c.name, c.type]));
  // The seed's columns, then Sightline's batch_id (0012), which the view does not show.
  assert.deepEqual(of('analytics_internal', 'events'), [...EVENTS_COLUMNS, ['batch_id', 'Nullable(String)']]);
  assert.deepEqual(of('analytics_internal', 'users'), USERS_COLUMNS);
  assert.deepEqual(of('analytics_internal', '_stack_sync_metadata'), SYNC_METADATA_COLUMNS);
  assert.deepEqual(of('analytics_internal', '_sightline_migrations'), LEDGER_COLUMNS);
  assert.deepEqual(of('default', 'events'), withoutDefaults(EVENTS_COLUMNS));
  assert.deepEqual(of('default', 'users'), USER_VIEW_COLUMNS);

  const tables = await ch.query({
    name: 'test.tables',
    sql: `SELECT database, name, engine, sorting_key, partition_key, as_select FROM system.tables
          WHERE database IN ('analytics_internal', 'default') ORDER BY database, name`,
  });
  assert.deepEqual(tables, [
    { database: 'analytics_internal', name: '_sightline_migrations', engine: 'MergeTree', sorting_key: 'version', partition_key: '', as_select: '' },
    { database: 'analytics_internal', name: '_stack_sync_metadata', engine: 'ReplacingMergeTree', sorting_key: 'tenancy_id, mapping_name', partition_key: '', as_select: '' },
    { database: 'analytics_internal', name: 'events', engine: 'MergeTree', sorting_key: 'project_id, branch_id, event_at', partition_key: 'toYYYYMM(event_at)', as_select: '' },
    { database: 'analytics_internal', name: 'session_replay_chunks', engine: 'ReplacingMergeTree', sorting_key: 'project_id, branch_id, session_replay_id, batch_id', partition_key: 'toYYYYMM(created_at)', as_select: '' },
    { database: 'analytics_internal', name: 'users', engine: 'ReplacingMergeTree', sorting_key: 'project_id, branch_id, id', partition_key: 'toYYYYMM(signed_up_at)', as_select: '' },
    { database: 'default', name: 'events', engine: 'View', sorting_key: '', partition_key: '', as_select: 'SELECT * FROM analytics_internal.events' },
    {
      database: 'default',
      name: 'users',
      engine: 'View',
      sorting_key: '',
      partition_key: '',
      as_select: `SELECT ${USER_VIEW_COLUMNS.map(([name]) => name).join(', ')} FROM analytics_internal.users FINAL WHERE sync_is_deleted = 0`,
    },
  ]);

  const definitions = new Map(
    (
      await ch.query<{ name: string; create_table_query: string }>({
        name: 'test.definitions',
        sql: "SELECT database || '.' || name AS name, create_table_query FROM system.tables WHERE database IN ('analytics_internal', 'default')",
      })
    ).map((row) => [row.name, row.create_table_query]),
  );
  assert.match(definitions.get('analytics_internal.users') ?? '', /ENGINE = ReplacingMergeTree\(sync_sequence_id\) PARTITION BY/);
  assert.match(definitions.get('analytics_internal._stack_sync_metadata') ?? '', /ENGINE = ReplacingMergeTree\(updated_at\) ORDER BY/);
  assert.match(definitions.get('analytics_internal.events') ?? '', /SETTINGS .*non_replicated_deduplication_window = 1000/);
  assert.match(definitions.get('default.events') ?? '', /SQL SECURITY DEFINER AS SELECT \* FROM analytics_internal\.events$/);
  assert.match(definitions.get('default.users') ?? '', /SQL SECURITY DEFINER AS SELECT project_id, .* FROM analytics_internal\.users FINAL WHERE sync_is_deleted = 0$/);

  const status = await clickHouseMigrationStatus(ch);
  assert.deepEqual(
    status.map((s) => [s.name, s.status]),
    files.map((f) => [f.name, f.serverOnly ? 'skipped' : 'applied']),
  );
});

test('running again changes nothing', async () => {
  const before = await ledger();
  const results = await runClickHouseMigrations(ch, { lock: inProcessLock() });
  for (const result of results) {
    assert.equal(result.status, result.name === '0010_limited_user' ? 'skipped' : 'already-applied', result.name);
  }
  assert.deepEqual(await ledger(), before);
  assert.equal(before.length, results.length - 1);
});

test('a changed applied file is refused before anything runs', async () => {
  const directory = await copyMigrations('changed', { '0090_after_change.sql': 'CREATE TABLE analytics_internal.after_change (x UInt8) ENGINE MergeTree ORDER BY x;\n' });
  const usersFile = path.join(directory, '0003_users.sql');
  await writeFile(usersFile, (await readFile(usersFile, 'utf8')).replace('display_name Nullable(String)', 'display_name String'));
  const before = await ledger();

  await assert.rejects(runClickHouseMigrations(ch, { lock: inProcessLock(), directory }), (error: unknown) => {
    assert.ok(error instanceof ClickHouseMigrationError);
    assert.match(error.message, /0003_users\.sql was changed after it was applied/);
    assert.deepEqual(error.results, []);
    return true;
  });
  assert.deepEqual(await ledger(), before);
  const probe = await ch.query({ name: 'test.probe', sql: "SELECT name FROM system.tables WHERE name = 'after_change'" });
  assert.deepEqual(probe, []);

  const status = await clickHouseMigrationStatus(ch, { directory });
  const users = status.find((s) => s.version === 3);
  assert.equal(users?.status, 'checksum-mismatch');
  assert.equal(status.find((s) => s.version === 90)?.status, 'pending');
});

test('two racing runners with one lock apply each file once', async () => {
  const directory = await copyMigrations('race', {
    '0090_race_probe.sql': 'CREATE TABLE IF NOT EXISTS analytics_internal.race_probe (x UInt8) ENGINE MergeTree ORDER BY x;\n',
    // Not idempotent on purpose: a second application would add a second row.
    '0091_race_insert.sql': 'INSERT INTO analytics_internal.race_probe VALUES (1);\n',
  });
  const lock = inProcessLock();
  const [first, second] = await Promise.all([
    runClickHouseMigrations(ch, { lock, directory }),
    runClickHouseMigrations(ch, { lock, directory }),
  ]);
  // Whichever runner takes the lock first applies; the other finds the ledger done.
  const statuses = [first, second].map((results) => results.filter((r) => r.version >= 90).map((r) => r.status)).sort();
  assert.deepEqual(statuses, [['already-applied', 'already-applied'], ['applied', 'applied']]);

  const versions = (await ledger()).map((row) => row['version']);
  assert.deepEqual(versions, [...new Set(versions)]);
  assert.ok(versions.includes(90) && versions.includes(91));
  const rows = await ch.query({ name: 'test.race-rows', sql: 'SELECT count() AS n FROM analytics_internal.race_probe' });
  assert.equal(Number(rows[0]?.['n']), 1);
});

test('a failing statement names the file and is not recorded', async () => {
  const directory = await copyMigrations('broken', {
    '0090_race_probe.sql': 'CREATE TABLE IF NOT EXISTS analytics_internal.race_probe (x UInt8) ENGINE MergeTree ORDER BY x;\n',
    '0091_race_insert.sql': 'INSERT INTO analytics_internal.race_probe VALUES (1);\n',
    '0020_ok.sql': 'CREATE TABLE IF NOT EXISTS analytics_internal.broken_probe (x UInt8) ENGINE MergeTree ORDER BY x;\n',
    '0021_broken.sql': 'SELECT 1;\nSELEC 2;\n',
  });
  await assert.rejects(runClickHouseMigrations(ch, { lock: inProcessLock(), directory }), (error: unknown) => {
    assert.ok(error instanceof ClickHouseMigrationError);
    assert.match(error.message, /0021_broken\.sql failed at statement 2 of 2/);
    assert.deepEqual(error.results.at(-1), { version: 20, name: '0020_ok', status: 'applied' });
    return true;
  });
  const versions = (await ledger()).map((row) => row['version']);
  assert.ok(versions.includes(20));
  assert.ok(!versions.includes(21));
});

test('upTo applies only the files up to that version', async () => {
  const directory = await copyMigrations('up-to', {
    '0030_first.sql': 'CREATE TABLE IF NOT EXISTS analytics_internal.up_to_a (x UInt8) ENGINE MergeTree ORDER BY x;\n',
    '0031_second.sql': 'CREATE TABLE IF NOT EXISTS analytics_internal.up_to_b (x UInt8) ENGINE MergeTree ORDER BY x;\n',
  });
  const results = await runClickHouseMigrations(ch, { lock: inProcessLock(), directory, upTo: 30 });
  assert.equal(results.at(-1)?.name, '0030_first');
  const status = await clickHouseMigrationStatus(ch, { directory });
  assert.equal(status.find((s) => s.version === 30)?.status, 'applied');
  assert.equal(status.find((s) => s.version === 31)?.status, 'pending');
});

test('splitSqlStatements splits at semicolons outside strings and comments', () => {
  const sql = [
    "-- header; not a statement",
    "SELECT 'a;b', 'it''s;', 'back\\'slash;' AS `x;y`;",
    '/* block; comment */ SELECT "q;id"',
    'FROM t; -- trailing; comment',
    '',
  ].join('\n');
  assert.deepEqual(splitSqlStatements(sql), [
    "-- header; not a statement\nSELECT 'a;b', 'it''s;', 'back\\'slash;' AS `x;y`",
    '/* block; comment */ SELECT "q;id"\nFROM t',
  ]);
  assert.deepEqual(splitSqlStatements('-- only a comment;\n'), []);
  assert.throws(() => splitSqlStatements("SELECT 'open"), /unterminated/);
});

test('every shipped file splits into statements', async () => {
  const counts = Object.fromEntries((await loadMigrationFiles()).map((f) => [f.name, splitSqlStatements(f.sql).length]));
  assert.equal(counts['0006_views'], 2);
  assert.equal(counts['0010_limited_user'], 8);
  assert.equal(counts['0007_normalize_token_refresh'], 1);
});

test('cluster and server rendering: ON CLUSTER, Replicated engines, escaped password, and it parses', async () => {
  const password = "p'w\\d;--";
  const target = { cluster: 'main', limitedPassword: password };
  for (const file of await loadMigrationFiles()) {
    for (const statement of splitSqlStatements(file.sql)) {
      const sql = renderMigrationSql(statement, target);
      assert.match(sql, / ON CLUSTER `main`/, `${file.name}: ${sql}`);
      assert.doesNotMatch(sql, /ENGINE (?!Replicated)\w*MergeTree/);
      const [parsed] = await ch.query<{ ok: number }>({
        name: 'test.parse',
        sql: 'SELECT length(formatQuery({sql:String})) > 0 AS ok',
        params: { sql },
      });
      assert.equal(parsed?.ok, 1, `${file.name} does not parse: ${sql}`);
    }
  }
  const [events] = splitSqlStatements((await loadMigrationFiles()).find((f) => f.version === 2)?.sql ?? '');
  assert.match(renderMigrationSql(events ?? '', target), /CREATE TABLE IF NOT EXISTS analytics_internal\.events ON CLUSTER `main` \([\s\S]*ENGINE ReplicatedMergeTree\n/);
  const [users] = splitSqlStatements((await loadMigrationFiles()).find((f) => f.version === 3)?.sql ?? '');
  assert.match(renderMigrationSql(users ?? '', target), /ENGINE ReplicatedReplacingMergeTree\(sync_sequence_id\)/);
  assert.match(renderMigrationSql(users ?? '', {}), /ENGINE ReplacingMergeTree\(sync_sequence_id\)/);
  assert.doesNotMatch(renderMigrationSql(users ?? '', {}), /ON CLUSTER/);

  const server = (await loadMigrationFiles()).find((f) => f.serverOnly);
  const rendered = splitSqlStatements(server?.sql ?? '').map((s) => renderMigrationSql(s, target).replace(/^(--.*\n)+/, ''));
  assert.deepEqual(rendered.map((s) => s.replace(/\s+/g, ' ')), [
    "CREATE USER IF NOT EXISTS limited_user ON CLUSTER `main` IDENTIFIED WITH sha256_password BY 'p\\'w\\\\d;--'",
    "ALTER USER limited_user ON CLUSTER `main` SETTINGS SQL_project_id = '' CHANGEABLE_IN_READONLY, SQL_branch_id = '' CHANGEABLE_IN_READONLY",
    "CREATE ROW POLICY IF NOT EXISTS events_project_isolation ON CLUSTER `main` ON default.events FOR SELECT USING project_id = getSetting('SQL_project_id') AND branch_id = getSetting('SQL_branch_id') TO limited_user",
    "CREATE ROW POLICY IF NOT EXISTS users_project_isolation ON CLUSTER `main` ON default.users FOR SELECT USING project_id = getSetting('SQL_project_id') AND branch_id = getSetting('SQL_branch_id') TO limited_user",
    'REVOKE ON CLUSTER `main` ALL ON *.* FROM limited_user',
    'REVOKE ON CLUSTER `main` ALL FROM limited_user',
    'GRANT ON CLUSTER `main` SELECT ON default.events TO limited_user',
    'GRANT ON CLUSTER `main` SELECT ON default.users TO limited_user',
  ]);
  // The parser sees the password as one literal, not as more SQL.
  const [literal] = await ch.query<{ f: string }>({ name: 'test.literal', sql: 'SELECT formatQuery({sql:String}) AS f', params: { sql: rendered[0] } });
  assert.match(literal?.f ?? '', /BY 'p\\'w\\\\d;--'$/);

  assert.throws(() => renderMigrationSql('CREATE USER u IDENTIFIED BY {limited_password}', {}), /limited_password/);
  assert.throws(() => renderMigrationSql('SELECT 1 {oops}', {}), /unknown placeholder \{oops\}/);
  assert.equal(renderMigrationSql("SELECT '{', {n:UInt8}", { cluster: 'c' }), "SELECT '{', {n:UInt8}");
});

/** A server-shaped ClickHouse that records commands instead of running them. */
function recordingServer(fail?: (sql: string) => Error | undefined): { ch: ClickHouse; commands: string[] } {
  const commands: string[] = [];
  const server: ClickHouse = {
    capabilities: { accessControl: true, onCluster: true, embedded: false },
    cluster: 'main',
    query: async () => [],
    command: async (request: CommandRequest) => {
      const error = fail?.(request.sql);
      if (error) throw error;
      commands.push(request.sql);
    },
    insert: async () => {},
    dedicated: () => server,
    close: async () => {},
  };
  return { ch: server, commands };
}

test('on a server the server-only file runs, with the password, and needs one', async () => {
  const refused = recordingServer();
  await assert.rejects(runClickHouseMigrations(refused.ch, { lock: inProcessLock() }), /limited user password/);
  assert.ok(refused.commands.every((sql) => sql.includes('_sightline_migrations') || sql.startsWith('CREATE DATABASE')));

  const { ch: server, commands } = recordingServer();
  const results = await runClickHouseMigrations(server, { lock: inProcessLock(), limitedPassword: 's3cret' });
  assert.ok(results.every((r) => r.status === 'applied'));
  assert.ok(commands.some((sql) => sql.includes("IDENTIFIED WITH sha256_password BY 's3cret'")));
  assert.ok(commands.some((sql) => /CREATE TABLE IF NOT EXISTS analytics_internal\._sightline_migrations ON CLUSTER `main`[\s\S]*ReplicatedMergeTree/.test(sql)));
  assert.equal(commands.filter((sql) => sql.startsWith('INSERT INTO analytics_internal._sightline_migrations')).length, results.length);
});

test('a failing server-only statement does not leak the password', async () => {
  const { ch: server } = recordingServer((sql) =>
    sql.includes('CREATE USER') ? new Error(`Code: 62. Syntax error in: ${sql}`) : undefined,
  );
  await assert.rejects(runClickHouseMigrations(server, { lock: inProcessLock(), limitedPassword: 'hunter2' }), (error: unknown) => {
    assert.ok(error instanceof ClickHouseMigrationError);
    assert.match(error.message, /0010_limited_user\.sql failed at statement 1 of 8/);
    assert.doesNotMatch(error.message, /hunter2/);
    assert.equal(error.cause, undefined);
    return true;
  });
});

test('inProcessLock runs callers one at a time, even after a failure', async () => {
  const lock = inProcessLock();
  const events: string[] = [];
  const step = (name: string, fail = false) =>
    lock(async () => {
      events.push(`${name}:start`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      events.push(`${name}:end`);
      if (fail) throw new Error(name);
      return name;
    });
  const outcomes = await Promise.allSettled([step('a', true), step('b'), step('c')]);
  assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'fulfilled', 'fulfilled']);
  assert.deepEqual(events, ['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
});
