// The hostile-query suite's cases (DESIGN.md section 9): data only, read by
// query.suite.ts. Every case must answer 400 without revealing another tenancy's
// rows, a hidden table, column or type name, file contents or settings.
// Placeholders filled in by the suite: {{other_project}} (another tenancy's
// project id), {{other_marker}} (a secret in that tenancy's events).

export type HostileGroup =
  | 'system tables'
  | 'other databases'
  | 'table functions'
  | 'scalar functions'
  | 'implicit file tables'
  | 'routes into hidden tables'
  | 'scalar subqueries'
  | 'column transformers'
  | 'settings'
  | 'format and outfile'
  | 'multi-statements'
  | 'statements other than SELECT'
  | 'probes of hidden names and types'
  | 'parameters'
  | 'limits';

export type HostileCase = {
  /** Unique; the test's name. */
  name: string;
  group: HostileGroup;
  query: string;
  params?: Record<string, unknown>;
  timeoutMs?: number;
  /** The error code expected (default `ANALYTICS_QUERY_ERROR`). */
  code?: 'ANALYTICS_QUERY_ERROR' | 'ANALYTICS_QUERY_TIMEOUT';
  /** What the error message must say, when it matters. */
  error?: RegExp;
  /** A known gap that is not a leak (e.g. a limit not enforced): reported as a todo until fixed. */
  todo?: string;
};

/** Names a tenant must never see in a response (compared case-insensitively). */
export const HIDDEN_NAMES: readonly string[] = [
  'analytics_internal',
  '_sightline_migrations',
  '_stack_sync_metadata',
  'sync_sequence_id',
  'sync_is_deleted',
  'sync_created_at',
  'batch_id',
  'created_at_minmax',
  'limited_user',
  'system.',
  'information_schema',
  'ReplacingMergeTree',
  'MergeTreeSelect',
];

/** Text that only appears when something read a file, the environment or an engine internal. */
export const FORBIDDEN_TEXT: readonly string[] = [
  'root:x:0:0',
  'daemon:x:',
  'PATH=',
  'HOME=',
  'NODE_',
  'SIGHTLINE_',
  'DB::Exception',
  'Stack trace',
  'Code: ',
  '(code ',
  '(version ',
  '26.7',
  '/proc/',
  'sightline-test-',
  '__table',
  '__getScalar',
];

const BLOCKED_TABLE_FUNCTIONS: readonly [string, string][] = [
  ['file', "file('/etc/passwd', 'RawBLOB')"],
  ['file environ', "file('/proc/self/environ', 'RawBLOB')"],
  ['file relative', "file('../../../../etc/passwd', 'LineAsString')"],
  ['fileCluster', "fileCluster('default', '/etc/passwd', 'RawBLOB')"],
  ['url', "url('http://127.0.0.1:8787/api/v1/health', 'RawBLOB')"],
  ['urlCluster', "urlCluster('default', 'http://127.0.0.1:8787/', 'RawBLOB')"],
  ['s3', "s3('http://127.0.0.1:9000/bucket/key', 'RawBLOB')"],
  ['s3Cluster', "s3Cluster('default', 'http://127.0.0.1:9000/bucket/key', 'RawBLOB')"],
  ['gcs', "gcs('http://127.0.0.1:9000/bucket/key', 'RawBLOB')"],
  ['remote', "remote('127.0.0.1', 'analytics_internal', 'events')"],
  ['remote system', "remote('127.0.0.1', system.tables)"],
  ['remoteSecure', "remoteSecure('127.0.0.1:9440', 'analytics_internal', 'users')"],
  ['cluster', "cluster('default', system.tables)"],
  ['clusterAllReplicas', "clusterAllReplicas('default', analytics_internal.events)"],
  ['merge', "merge('analytics_internal', '.*')"],
  ['merge regexp', "merge(REGEXP('.*'), '^events$')"],
  ['mergeTreeIndex', "mergeTreeIndex('analytics_internal', 'events', with_marks = true)"],
  ['mergeTreeProjection', "mergeTreeProjection('analytics_internal', 'events', 'p')"],
  ['view', 'view(SELECT * FROM analytics_internal.events)'],
  ['viewIfPermitted', "viewIfPermitted(SELECT * FROM analytics_internal.users ELSE null('x UInt8'))"],
  ['input', "input('x String')"],
  ['generateRandom', "generateRandom('a UInt8', 1, 10, 2)"],
  ['jdbc', "jdbc('jdbc:mysql://127.0.0.1:3306/db', 'schema', 'table')"],
  ['odbc', "odbc('DSN=x', 'db', 'table')"],
  ['mysql', "mysql('127.0.0.1:3306', 'db', 'table', 'user', 'password')"],
  ['postgresql', "postgresql('127.0.0.1:5432', 'postgres', 'projects', 'postgres', 'postgres')"],
  ['sqlite', "sqlite('/etc/passwd', 'table')"],
  ['hdfs', "hdfs('hdfs://127.0.0.1:9000/x', 'RawBLOB')"],
  ['azureBlobStorage', "azureBlobStorage('DefaultEndpointsProtocol=http;AccountName=x', 'c', 'b', 'RawBLOB')"],
  ['executable', "executable('cat /etc/passwd', 'RawBLOB', 'x String')"],
  ['format', "format(JSONEachRow, '{\"a\": 1}')"],
  ['values', "values('x UInt8', 1, 2)"],
  ['loop', 'loop(analytics_internal.events)'],
  ['dictionary', "dictionary('any_dictionary')"],
  ['fuzzJSON', "fuzzJSON('{\"a\": 1}', random_seed = 1)"],
  ['iceberg', "iceberg('http://127.0.0.1:9000/bucket/table')"],
  ['icebergLocal', "icebergLocal('/etc')"],
  ['deltaLake', "deltaLake('http://127.0.0.1:9000/bucket/table')"],
  ['hudi', "hudi('http://127.0.0.1:9000/bucket/table')"],
  ['mongodb', "mongodb('127.0.0.1:27017', 'db', 'c', 'u', 'p', 'x String')"],
  ['redis', "redis('127.0.0.1:6379', 'k', 'k String, v String')"],
  ['null', "null('x UInt8')"],
  ['zeros', 'zeros(10)'],
  ['zeros_mt', 'zeros_mt(10)'],
  ['numbers_mt', 'numbers_mt(10)'],
  ['generate_series', 'generate_series(1, 10)'],
  ['upper-case FILE', "FILE('/etc/passwd', 'RawBLOB')"],
  ['a parameterised-view call of events', "events(project_id = '{{other_project}}')"],
];

const BLOCKED_SCALAR_FUNCTIONS: readonly [string, string][] = [
  ['file', "file('/etc/passwd')"],
  ['file environ', "file('/proc/self/environ')"],
  ['getSetting', "getSetting('additional_table_filters')"],
  ['getSettingOrDefault', "getSettingOrDefault('SQL_project_id', '')"],
  ['getServerSetting', "getServerSetting('path')"],
  ['getMergeTreeSetting', "getMergeTreeSetting('index_granularity')"],
  ['currentUser', 'currentUser()'],
  ['user', 'user()'],
  ['hostName', 'hostName()'],
  ['fqdn', 'fqdn()'],
  ['version', 'version()'],
  ['chdb version', 'chdb()'],
  ['revision', 'revision()'],
  ['buildId', 'buildId()'],
  ['currentDatabase', 'currentDatabase()'],
  ['currentSchemas', 'currentSchemas(true)'],
  ['uptime', 'uptime()'],
  ['serverUUID', 'serverUUID()'],
  ['getMacro', "getMacro('replica')"],
  ['tcpPort', 'tcpPort()'],
  ['displayName', 'displayName()'],
  ['currentProfiles', 'currentProfiles()'],
  ['currentRoles', 'currentRoles()'],
  ['queryID', 'queryID()'],
  ['initialQueryID', 'initialQueryID()'],
  ['filesystemAvailable', 'filesystemAvailable()'],
  ['hasColumnInTable', "hasColumnInTable('analytics_internal', 'events', 'batch_id')"],
  ['dictGet', "dictGet('any_dictionary', 'value', toUInt64(1))"],
  ['dictHas', "dictHas('any_dictionary', toUInt64(1))"],
  ['joinGet', "joinGet('analytics_internal.events', 'data', '{{other_project}}')"],
  ['globalIn', "globalIn(project_id, (SELECT project_id FROM analytics_internal.events))"],
  ['sleep', 'sleep(3)'],
  ['sleepEachRow', 'sleepEachRow(3)'],
  ['throwIf', "throwIf(1, 'x')"],
  ['getClientHTTPHeader', "getClientHTTPHeader('authorization')"],
  ['errorCodeToName', 'errorCodeToName(60)'],
];

/** The cases, attacks of DESIGN.md section 9 first. */
export const HOSTILE_QUERIES: readonly HostileCase[] = [
  // DESIGN.md section 9: the bypasses measured on chDB 26.7.
  { name: 'SETTINGS in a subquery removes the tenant filter', group: 'settings', query: "SELECT * FROM (SELECT * FROM events SETTINGS additional_table_filters = {'default.events': '1'})" },
  { name: 'SETTINGS in a CTE re-enables writes', group: 'settings', query: 'WITH x AS (SELECT * FROM events SETTINGS readonly = 0) SELECT * FROM x' },
  { name: 'SETTINGS inside view()', group: 'settings', query: 'SELECT * FROM view(SELECT * FROM events SETTINGS readonly = 0)' },
  { name: "scalar file('/proc/self/environ')", group: 'scalar functions', query: "SELECT file('/proc/self/environ') AS e FROM events LIMIT 1" },
  { name: "implicit file table FROM '/etc/passwd'", group: 'implicit file tables', query: "SELECT * FROM '/etc/passwd'" },
  { name: 'implicit file table FROM "/etc/passwd"', group: 'implicit file tables', query: 'SELECT * FROM "/etc/passwd"' },
  { name: 'implicit file table FROM `/etc/passwd`', group: 'implicit file tables', query: 'SELECT * FROM `/etc/passwd`' },
  { name: 'implicit file table of the environment', group: 'implicit file tables', query: "SELECT * FROM '/proc/self/environ'" },
  { name: 'implicit file table with a glob', group: 'implicit file tables', query: "SELECT * FROM '/etc/*.conf'" },
  { name: 'implicit file table named like the view', group: 'implicit file tables', query: "SELECT * FROM 'events,x'" },
  { name: 'implicit file table joined to events', group: 'implicit file tables', query: "SELECT * FROM events AS e, '/etc/passwd' AS f" },
  { name: 'implicit file table in a subquery', group: 'implicit file tables', query: "SELECT count() FROM events WHERE event_type IN (SELECT * FROM '/etc/passwd')" },
  { name: 'INTO OUTFILE writes a file', group: 'format and outfile', query: "SELECT * FROM events INTO OUTFILE '/tmp/sightline-outfile.tsv'" },
  { name: 'merge() reads every tenant', group: 'table functions', query: "SELECT * FROM merge('analytics_internal', '^events$')" },
  { name: 'mergeTreeIndex() reads every tenant', group: 'table functions', query: "SELECT * FROM mergeTreeIndex('analytics_internal', 'events')" },
  { name: 'KILL QUERY cancels other sessions', group: 'statements other than SELECT', query: 'KILL QUERY WHERE 1' },
  { name: 'system.processes carries other tenants SQL', group: 'system tables', query: 'SELECT query FROM system.processes' },
  { name: 'system.errors', group: 'system tables', query: 'SELECT name, last_error_message FROM system.errors' },
  { name: 'system.mutations', group: 'system tables', query: 'SELECT command FROM system.mutations' },
  { name: 'a ; in the text runs every statement', group: 'multi-statements', query: 'SELECT count() FROM events; DROP TABLE events' },

  // system tables, however spelled
  { name: 'system.tables', group: 'system tables', query: 'SELECT * FROM system.tables' },
  { name: 'system.tables double-quoted', group: 'system tables', query: 'SELECT * FROM "system"."tables"' },
  { name: 'system.tables backticked', group: 'system tables', query: 'SELECT * FROM `system`.`tables`' },
  { name: 'system.tables mixed case', group: 'system tables', query: 'SELECT * FROM SyStEm.TaBlEs' },
  { name: 'system . tables with spaces', group: 'system tables', query: 'SELECT * FROM system . tables' },
  { name: 'system/**/.tables with a comment', group: 'system tables', query: 'SELECT * FROM system/**/.tables' },
  { name: 'system.tables with a line comment and newline', group: 'system tables', query: 'SELECT * FROM system -- x\n.tables' },
  { name: 'system.columns names hidden columns', group: 'system tables', query: "SELECT name, type FROM system.columns WHERE table = 'events'" },
  { name: 'system.databases', group: 'system tables', query: 'SELECT name FROM system.databases' },
  { name: 'system.settings', group: 'system tables', query: "SELECT value FROM system.settings WHERE name = 'additional_table_filters'" },
  { name: 'system.parts shows paths', group: 'system tables', query: 'SELECT path FROM system.parts' },
  { name: 'system.query_log', group: 'system tables', query: 'SELECT query FROM system.query_log' },
  { name: 'system.users and grants', group: 'system tables', query: 'SELECT * FROM system.users, system.grants' },
  { name: 'system.one', group: 'system tables', query: 'SELECT dummy FROM system.one' },
  { name: 'system.numbers', group: 'system tables', query: 'SELECT number FROM system.numbers LIMIT 10' },
  { name: 'arrayJoin over a system table', group: 'system tables', query: 'SELECT arrayJoin(groupArray(name)) FROM system.tables' },

  // other databases
  { name: 'analytics_internal.events', group: 'other databases', query: 'SELECT * FROM analytics_internal.events' },
  { name: 'analytics_internal.users (deleted users, sync columns)', group: 'other databases', query: 'SELECT * FROM analytics_internal.users' },
  { name: 'analytics_internal._sightline_migrations', group: 'other databases', query: 'SELECT * FROM analytics_internal._sightline_migrations' },
  { name: 'analytics_internal._stack_sync_metadata', group: 'other databases', query: 'SELECT * FROM analytics_internal._stack_sync_metadata' },
  { name: 'INFORMATION_SCHEMA.TABLES', group: 'other databases', query: 'SELECT * FROM INFORMATION_SCHEMA.TABLES' },
  { name: 'information_schema.columns', group: 'other databases', query: "SELECT column_name FROM information_schema.columns WHERE table_name = 'events'" },
  { name: 'a table that does not exist', group: 'other databases', query: 'SELECT * FROM default.eventz' },

  // table functions
  ...BLOCKED_TABLE_FUNCTIONS.map(([name, call]): HostileCase => ({
    name: `table function ${name}`,
    group: 'table functions',
    query: `SELECT * FROM ${call}`,
  })),
  { name: 'a table function in a JOIN', group: 'table functions', query: "SELECT * FROM events AS e JOIN file('/etc/passwd', 'LineAsString') AS f ON 1 = 1" },
  { name: 'a table function in an IN subquery', group: 'table functions', query: "SELECT count() FROM events WHERE event_type IN (SELECT * FROM file('/etc/passwd', 'LineAsString'))" },
  { name: 'INSERT INTO FUNCTION file', group: 'table functions', query: "INSERT INTO FUNCTION file('/tmp/x.tsv', 'TSV', 'x String') SELECT event_type FROM events" },

  // scalar functions off the allowlist
  ...BLOCKED_SCALAR_FUNCTIONS.map(([name, call]): HostileCase => ({
    name: `function ${name}`,
    group: 'scalar functions',
    query: `SELECT ${call} AS x FROM events LIMIT 1`,
  })),
  { name: 'file() inside a lambda', group: 'scalar functions', query: "SELECT arrayMap(x -> file(x), ['/etc/passwd']) FROM events LIMIT 1" },
  { name: 'file() in a WHERE clause', group: 'scalar functions', query: "SELECT count() FROM events WHERE length(file('/etc/passwd')) > 0" },
  { name: 'file() in a REPLACE transformer', group: 'scalar functions', query: "SELECT * REPLACE (file(p) AS p) FROM (SELECT '/etc/passwd' AS p FROM events LIMIT 1)" },
  { name: 'upper-case FILE()', group: 'scalar functions', query: "SELECT FILE('/etc/passwd') FROM events LIMIT 1" },

  // column transformers that name a function without a Function node
  { name: 'APPLY(file) reads a file', group: 'column transformers', query: "SELECT * APPLY(file) FROM (SELECT '/etc/passwd' AS p FROM numbers(1))" },
  { name: 'COLUMNS() APPLY(file) reads the environment', group: 'column transformers', query: "SELECT COLUMNS('p') APPLY(file) FROM (SELECT '/proc/self/environ' AS p FROM numbers(1))" },
  { name: 'APPLY(lambda calling file)', group: 'column transformers', query: "SELECT * APPLY(x -> file(x)) FROM (SELECT '/etc/passwd' AS p FROM numbers(1))" },
  { name: 'APPLY(file) over a subquery of events', group: 'column transformers', query: "SELECT COLUMNS('p') APPLY(file) FROM (SELECT '/etc/passwd' AS p FROM events LIMIT 1)" },
  { name: 'APPLY(sleep)', group: 'column transformers', query: 'SELECT * APPLY(sleepEachRow) FROM (SELECT 3 AS s FROM numbers(1))', timeoutMs: 1000 },

  // scalar subqueries (EXPLAIN QUERY TREE executes and folds them)
  { name: 'scalar subquery over system.tables', group: 'scalar subqueries', query: 'SELECT (SELECT groupArray(name) FROM system.tables) AS x FROM events LIMIT 1' },
  { name: 'WITH (SELECT …) AS x over system.databases', group: 'scalar subqueries', query: 'WITH (SELECT groupArray(name) FROM system.databases) AS x SELECT x FROM events LIMIT 1' },
  { name: 'scalar subquery over system.processes', group: 'scalar subqueries', query: 'SELECT (SELECT groupArray(query) FROM system.processes) AS x FROM events LIMIT 1' },
  { name: 'scalar subquery over _stack_sync_metadata', group: 'scalar subqueries', query: 'SELECT (SELECT groupArray((toString(tenancy_id), mapping_name)) FROM analytics_internal._stack_sync_metadata) AS x FROM events LIMIT 1' },
  { name: 'scalar subquery over deleted users', group: 'scalar subqueries', query: 'SELECT (SELECT groupArray(primary_email) FROM analytics_internal.users WHERE sync_is_deleted = 1) AS x FROM events LIMIT 1' },
  { name: 'scalar subquery over system.columns', group: 'scalar subqueries', query: "SELECT (SELECT groupArray((name, type)) FROM system.columns WHERE database = 'analytics_internal') AS x FROM numbers(1)" },
  { name: 'arrayJoin of a scalar subquery over system.tables', group: 'scalar subqueries', query: 'SELECT arrayJoin((SELECT groupArray(create_table_query) FROM system.tables)) AS x FROM numbers(1)' },
  { name: 'scalar subquery in WHERE', group: 'scalar subqueries', query: "SELECT count() FROM events WHERE (SELECT count() FROM system.tables WHERE name = '_sightline_migrations') = 1" },
  { name: 'scalar subquery over system.settings', group: 'scalar subqueries', query: "SELECT (SELECT value FROM system.settings WHERE name = 'additional_table_filters') AS x FROM numbers(1)" },
  { name: 'scalar subquery in LIMIT', group: 'scalar subqueries', query: "SELECT event_type FROM events LIMIT (SELECT count() FROM system.tables WHERE database = 'analytics_internal')" },
  { name: "scalar subquery over system.errors (other sessions' messages)", group: 'scalar subqueries', query: 'SELECT (SELECT groupArray(last_error_message) FROM system.errors) AS x FROM events LIMIT 1' },
  { name: 'scalar subquery over system.parts (data paths)', group: 'scalar subqueries', query: 'SELECT (SELECT groupArray(path) FROM system.parts) AS x FROM events LIMIT 1' },
  { name: 'APPLY(file) inside a scalar subquery', group: 'scalar subqueries', query: "SELECT (SELECT * APPLY(file) FROM (SELECT '/etc/passwd' AS p FROM numbers(1))) AS x FROM events LIMIT 1" },
  { name: 'scalar subquery returning a tuple', group: 'scalar subqueries', query: "SELECT (SELECT (name, engine) FROM system.tables WHERE database = 'analytics_internal' LIMIT 1) AS x FROM events LIMIT 1" },
  { name: 'scalar subquery returning a map', group: 'scalar subqueries', query: "SELECT (SELECT map(name, engine) FROM system.tables WHERE database = 'analytics_internal' LIMIT 1) AS x FROM events LIMIT 1" },
  { name: 'scalar subquery returning a Nullable string', group: 'scalar subqueries', query: "SELECT (SELECT toNullable(any(name)) FROM system.tables WHERE database = 'analytics_internal') AS x FROM events LIMIT 1" },
  { name: 'scalar subquery returning a LowCardinality string', group: 'scalar subqueries', query: "SELECT (SELECT toLowCardinality(any(name)) FROM system.tables WHERE database = 'analytics_internal') AS x FROM events LIMIT 1" },
  { name: 'scalar subquery returning an array cast to a string', group: 'scalar subqueries', query: "SELECT (SELECT toString(groupArray(name)) FROM system.tables WHERE database = 'analytics_internal') AS x FROM events LIMIT 1" },
  { name: 'ARRAY JOIN of a scalar subquery', group: 'scalar subqueries', query: 'SELECT d FROM events ARRAY JOIN (SELECT groupArray(name) FROM system.databases) AS d' },
  { name: 'lambda over a scalar subquery', group: 'scalar subqueries', query: 'SELECT arrayMap(x -> concat(x, \'!\'), (SELECT groupArray(name) FROM system.databases)) AS x FROM numbers(1)' },

  // routes into hidden tables
  { name: 'UNION ALL with analytics_internal.events', group: 'routes into hidden tables', query: 'SELECT project_id FROM events UNION ALL SELECT project_id FROM analytics_internal.events' },
  { name: 'UNION DISTINCT with system.tables', group: 'routes into hidden tables', query: 'SELECT event_type FROM events UNION DISTINCT SELECT name FROM system.tables' },
  { name: 'INTERSECT with analytics_internal.users', group: 'routes into hidden tables', query: 'SELECT id FROM users INTERSECT SELECT id FROM analytics_internal.users' },
  { name: 'EXCEPT with analytics_internal.users', group: 'routes into hidden tables', query: 'SELECT id FROM analytics_internal.users EXCEPT SELECT id FROM users' },
  { name: 'CTE over analytics_internal.events', group: 'routes into hidden tables', query: 'WITH x AS (SELECT * FROM analytics_internal.events) SELECT * FROM x' },
  { name: 'a CTE named events shadows the view', group: 'routes into hidden tables', query: 'WITH events AS (SELECT * FROM analytics_internal.events) SELECT count() FROM events' },
  { name: 'a recursive CTE over a system table', group: 'routes into hidden tables', query: 'WITH RECURSIVE r AS (SELECT name FROM system.tables) SELECT * FROM r' },
  { name: 'a CTE named users over system.users', group: 'routes into hidden tables', query: 'WITH users AS (SELECT * FROM system.users) SELECT * FROM users' },
  { name: 'a subquery in FROM', group: 'routes into hidden tables', query: 'SELECT * FROM (SELECT * FROM analytics_internal.users)' },
  { name: 'a JOIN with a hidden table', group: 'routes into hidden tables', query: 'SELECT * FROM events AS e JOIN analytics_internal.events AS i ON e.user_id = i.user_id' },
  { name: 'a comma join with a system table', group: 'routes into hidden tables', query: 'SELECT * FROM events, system.tables' },
  { name: 'IN subquery over a hidden table', group: 'routes into hidden tables', query: 'SELECT count() FROM events WHERE project_id IN (SELECT project_id FROM analytics_internal.events)' },
  { name: 'IN a table by name', group: 'routes into hidden tables', query: 'SELECT count() FROM events WHERE project_id IN analytics_internal.events' },
  { name: 'GLOBAL IN over a hidden table', group: 'routes into hidden tables', query: 'SELECT count() FROM events WHERE project_id GLOBAL IN (SELECT project_id FROM analytics_internal.events)' },
  { name: 'EXISTS over a system table', group: 'routes into hidden tables', query: 'SELECT count() FROM events WHERE exists(SELECT 1 FROM system.tables)' },
  { name: 'ARRAY JOIN a subquery column from a system table', group: 'routes into hidden tables', query: 'SELECT n FROM (SELECT groupArray(name) AS names FROM system.tables) ARRAY JOIN names AS n' },

  // SETTINGS and SET
  { name: 'top-level SETTINGS readonly=0', group: 'settings', query: 'SELECT * FROM events SETTINGS readonly = 0' },
  { name: 'top-level SETTINGS additional_table_filters', group: 'settings', query: "SELECT * FROM events SETTINGS additional_table_filters = {'default.events': '1'}" },
  { name: 'top-level SETTINGS SQL_project_id', group: 'settings', query: "SELECT * FROM events SETTINGS SQL_project_id = '{{other_project}}'" },
  { name: 'SETTINGS in a scalar subquery', group: 'settings', query: 'SELECT (SELECT count() FROM events SETTINGS readonly = 0) AS x FROM events' },
  { name: 'SETTINGS in an IN subquery', group: 'settings', query: "SELECT count() FROM events WHERE user_id IN (SELECT user_id FROM events SETTINGS additional_table_filters = {'default.events': '1'})" },
  { name: 'SETTINGS in a UNION branch', group: 'settings', query: "SELECT 1 FROM events UNION ALL SELECT 1 FROM events SETTINGS additional_table_filters = {'default.events': '1'}" },
  { name: 'SETTINGS in view() of a hidden table', group: 'settings', query: 'SELECT * FROM view(SELECT * FROM analytics_internal.events SETTINGS readonly = 0)' },
  { name: 'SETTINGS after FORMAT', group: 'settings', query: 'SELECT * FROM events FORMAT JSON SETTINGS readonly = 0' },
  { name: 'SET readonly = 0', group: 'settings', query: 'SET readonly = 0' },
  { name: 'SET additional_table_filters', group: 'settings', query: "SET additional_table_filters = {'default.events': '1'}" },
  { name: 'SET SQL_project_id', group: 'settings', query: "SET SQL_project_id = '{{other_project}}'" },
  { name: 'SET then SELECT', group: 'settings', query: "SET SQL_project_id = '{{other_project}}'; SELECT * FROM events" },

  // FORMAT and INTO OUTFILE
  { name: 'FORMAT JSON', group: 'format and outfile', query: 'SELECT * FROM events FORMAT JSON' },
  { name: 'FORMAT TabSeparated', group: 'format and outfile', query: 'SELECT * FROM events FORMAT TabSeparated' },
  { name: 'INTO OUTFILE TRUNCATE', group: 'format and outfile', query: "SELECT * FROM events INTO OUTFILE '/tmp/x.tsv' TRUNCATE FORMAT TSV" },
  { name: 'INTO OUTFILE AND STDOUT', group: 'format and outfile', query: "SELECT 1 FROM events INTO OUTFILE '/tmp/x.tsv' AND STDOUT" },

  // multi-statements
  { name: 'a second statement after a line comment', group: 'multi-statements', query: 'SELECT 1 FROM events; -- x\nDROP TABLE events' },
  { name: 'a ; inside a string then a second statement', group: 'multi-statements', query: "SELECT ';' FROM events; SELECT 2 FROM events" },
  { name: 'a ; inside a comment then a second statement', group: 'multi-statements', query: 'SELECT 1 FROM events /* ; */; TRUNCATE TABLE events' },
  { name: 'two SELECTs', group: 'multi-statements', query: 'SELECT 1 FROM events; SELECT * FROM system.tables' },
  { name: 'a second statement after a trailing ;', group: 'multi-statements', query: 'SELECT 1 FROM events;\nKILL QUERY WHERE 1;' },
  { name: 'heredoc string with a ;', group: 'multi-statements', query: 'SELECT $$;$$ FROM events; DROP TABLE users' },

  // statements other than SELECT
  { name: 'DROP TABLE', group: 'statements other than SELECT', query: 'DROP TABLE events' },
  { name: 'DROP DATABASE', group: 'statements other than SELECT', query: 'DROP DATABASE analytics_internal' },
  { name: 'TRUNCATE', group: 'statements other than SELECT', query: 'TRUNCATE TABLE analytics_internal.events' },
  { name: 'INSERT', group: 'statements other than SELECT', query: "INSERT INTO analytics_internal.events (event_type, project_id, branch_id) VALUES ('x', '{{other_project}}', 'main')" },
  { name: 'ALTER DELETE', group: 'statements other than SELECT', query: 'ALTER TABLE analytics_internal.events DELETE WHERE 1' },
  { name: 'lightweight DELETE', group: 'statements other than SELECT', query: 'DELETE FROM events WHERE 1' },
  { name: 'UPDATE', group: 'statements other than SELECT', query: "UPDATE events SET event_type = 'x' WHERE 1" },
  { name: 'CREATE TABLE', group: 'statements other than SELECT', query: "CREATE TABLE x ENGINE = File(TSV, '/etc/passwd')" },
  { name: 'CREATE VIEW', group: 'statements other than SELECT', query: 'CREATE VIEW v AS SELECT * FROM analytics_internal.events' },
  { name: 'CREATE FUNCTION', group: 'statements other than SELECT', query: 'CREATE FUNCTION f AS (x) -> x' },
  { name: 'CREATE USER', group: 'statements other than SELECT', query: "CREATE USER x IDENTIFIED BY 'x'" },
  { name: 'GRANT', group: 'statements other than SELECT', query: 'GRANT SELECT ON *.* TO limited_user' },
  { name: 'REVOKE', group: 'statements other than SELECT', query: 'REVOKE ALL ON *.* FROM default' },
  { name: 'KILL MUTATION', group: 'statements other than SELECT', query: 'KILL MUTATION WHERE 1' },
  { name: 'SYSTEM FLUSH LOGS', group: 'statements other than SELECT', query: 'SYSTEM FLUSH LOGS' },
  { name: 'SYSTEM SHUTDOWN', group: 'statements other than SELECT', query: 'SYSTEM SHUTDOWN' },
  { name: 'USE', group: 'statements other than SELECT', query: 'USE analytics_internal' },
  { name: 'OPTIMIZE', group: 'statements other than SELECT', query: 'OPTIMIZE TABLE analytics_internal.users FINAL' },
  { name: 'ATTACH', group: 'statements other than SELECT', query: "ATTACH TABLE x FROM '/etc' (x String) ENGINE = File(TSV)" },
  { name: 'DETACH', group: 'statements other than SELECT', query: 'DETACH TABLE events' },
  { name: 'RENAME', group: 'statements other than SELECT', query: 'RENAME TABLE events TO e2' },
  { name: 'BACKUP', group: 'statements other than SELECT', query: "BACKUP TABLE analytics_internal.events TO File('/tmp/b')" },
  { name: 'EXPLAIN', group: 'statements other than SELECT', query: 'EXPLAIN SELECT * FROM events' },
  { name: 'EXPLAIN QUERY TREE', group: 'statements other than SELECT', query: 'EXPLAIN QUERY TREE SELECT * FROM events' },
  { name: 'SHOW TABLES', group: 'statements other than SELECT', query: 'SHOW TABLES FROM analytics_internal' },
  { name: 'SHOW DATABASES', group: 'statements other than SELECT', query: 'SHOW DATABASES' },
  { name: 'SHOW CREATE TABLE', group: 'statements other than SELECT', query: 'SHOW CREATE TABLE events' },
  { name: 'SHOW PROCESSLIST', group: 'statements other than SELECT', query: 'SHOW PROCESSLIST' },
  { name: 'SHOW SETTINGS', group: 'statements other than SELECT', query: "SHOW SETTINGS LIKE '%filter%'" },
  { name: 'DESCRIBE a view', group: 'statements other than SELECT', query: 'DESCRIBE TABLE events' },
  { name: 'DESCRIBE a hidden table', group: 'statements other than SELECT', query: 'DESCRIBE TABLE analytics_internal.events' },
  { name: 'EXISTS TABLE', group: 'statements other than SELECT', query: 'EXISTS TABLE analytics_internal.events' },
  { name: 'CHECK TABLE', group: 'statements other than SELECT', query: 'CHECK TABLE events' },

  // probes whose engine errors would name hidden columns or types (codes 43, 47, 386…)
  { name: 'the hidden events column batch_id', group: 'probes of hidden names and types', query: 'SELECT batch_id FROM events' },
  { name: 'the hidden users column sync_is_deleted', group: 'probes of hidden names and types', query: 'SELECT sync_is_deleted FROM users' },
  { name: 'the hidden users column sync_sequence_id in WHERE', group: 'probes of hidden names and types', query: 'SELECT count() FROM users WHERE sync_sequence_id > 0' },
  { name: 'a typo of a hidden column', group: 'probes of hidden names and types', query: 'SELECT sync_is_delete FROM users' },
  { name: 'JSON compared with a number', group: 'probes of hidden names and types', query: 'SELECT * FROM events WHERE data = 1' },
  { name: 'a Nullable(String) compared with a number', group: 'probes of hidden names and types', query: 'SELECT * FROM events WHERE user_id = 1' },
  { name: 'arithmetic on a JSON column', group: 'probes of hidden names and types', query: 'SELECT data + 1 FROM events' },
  { name: 'a UUID column cast to an IP address', group: 'probes of hidden names and types', query: 'SELECT toIPv4(id) FROM users' },
  { name: 'a type error in a JOIN condition', group: 'probes of hidden names and types', query: 'SELECT count() FROM events AS e JOIN users AS u ON e.user_id = u.id' },
  { name: 'an unknown column', group: 'probes of hidden names and types', query: 'SELECT nosuch FROM users' },
  { name: 'an unknown table', group: 'probes of hidden names and types', query: 'SELECT * FROM eventz' },
  { name: 'virtual columns of the base table', group: 'probes of hidden names and types', query: 'SELECT _part, _partition_id FROM events' },
  { name: 'a wrong argument type', group: 'probes of hidden names and types', query: 'SELECT toDate(data) FROM events' },
  { name: 'JOIN USING a hidden column', group: 'probes of hidden names and types', query: 'SELECT * FROM events AS e JOIN users AS u USING (sync_sequence_id)' },
  { name: 'an unparsable DateTime', group: 'probes of hidden names and types', query: "SELECT count() FROM users WHERE signed_up_at = 'not a date'" },
  { name: 'an identifier parameter naming a hidden column', group: 'probes of hidden names and types', query: 'SELECT {c:Identifier} FROM events', params: { c: 'batch_id' } },

  // parameters
  { name: 'an identifier parameter naming a hidden table', group: 'parameters', query: 'SELECT * FROM {t:Identifier}', params: { t: 'analytics_internal.events' } },
  { name: 'an identifier parameter naming a system table', group: 'parameters', query: 'SELECT * FROM {t:Identifier}', params: { t: 'system.tables' } },
  { name: 'a parameter named like a setting does not set it', group: 'parameters', query: "SELECT * FROM file('/etc/passwd', 'RawBLOB')", params: { readonly: '0' } },
  { name: 'a missing parameter', group: 'parameters', query: 'SELECT {x:String} FROM events' },

  // limits
  { name: 'more than 10 000 rows', group: 'limits', query: 'SELECT number FROM numbers(10001)', error: /Limit for result exceeded, max rows: 10\.00 thousand/ },
  { name: 'more than 10 000 rows from arrayJoin', group: 'limits', query: 'SELECT arrayJoin(range(20000)) AS n FROM numbers(1)', error: /Limit for result exceeded/ },
  {
    name: 'more than 10 MiB of result',
    group: 'limits',
    query: "SELECT repeat('x', 1000000) AS big FROM numbers(20)",
  },
  { name: 'more rows read than allowed', group: 'limits', query: 'SELECT count() FROM numbers(10000000000)', error: /max_rows_to_read/ },
  { name: 'more memory than allowed', group: 'limits', query: 'SELECT groupArray(repeat(toString(number), 200)) FROM numbers(100000000)' },
];
