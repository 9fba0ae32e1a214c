import type { Session } from 'chdb';

/**
 * What to generate. Project 0 is the measured one: it gets `measuredShare` of
 * the events and `measuredUsers` of the users; the other projects share the
 * rest with a skew (a few large, many small).
 */
export type DataPlan = {
  events: number;
  projectIds: readonly string[];
  measuredShare: number;
  users: number;
  measuredUsers: number;
  days: number;
  /** Events fall in [endMs - days, endMs). */
  endMs: number;
};

const DAY_MS = 86_400_000;

export const dataStart = (plan: DataPlan) => plan.endMs - plan.days * DAY_MS;

const sqlString = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * A deterministic UUID (version 4, variant 10) from hashes of the arguments.
 * The low 64 bits of the UInt128 print as the first 16 hex digits.
 */
const uuidOf = (...parts: string[]) => {
  const args = parts.join(', ');
  const low = `bitOr(bitAnd(cityHash64(${args}, 1), 18446744073709490175), 16384)`;
  const high = `bitOr(bitAnd(cityHash64(${args}, 2), 4611686018427387903), 9223372036854775808)`;
  return `reinterpretAsUUID(reinterpretAsFixedString(bitOr(bitShiftLeft(toUInt128(${high}), 64), toUInt128(${low}))))`;
};

/** A uniform number in [0, 1) from 20 bits of a hash. */
const unit = (hash: string, shift: number) => `(bitAnd(bitShiftRight(${hash}, ${shift}), 1048575) / 1048576)`;

const PATHS = [
  '/', '/dashboard', '/pricing', '/docs', '/docs/getting-started', '/login', '/signup', '/settings', '/blog',
  '/docs/api', '/account', '/integrations', '/changelog', '/docs/sdk', '/team', '/billing', '/search', '/support',
  '/blog/launch-week', '/careers', '/about', '/security', '/status', '/legal/terms',
];
const TITLES = ['Home', 'Dashboard', 'Pricing', 'Docs', 'Getting started', 'Sign in', 'Sign up', 'Settings', 'Blog'];
const REFERRERS = ['', '', '', 'https://www.google.com/', 'https://news.ycombinator.com/', 'https://twitter.com/', 'https://github.com/'];
const TAGS = ['BUTTON', 'BUTTON', 'BUTTON', 'BUTTON', 'A', 'A', 'A', 'DIV', 'DIV', 'INPUT', 'SPAN', 'IMG'];
const TEXTS = ['Save', 'Continue', 'Sign in', 'Upgrade', 'Learn more', 'Delete', 'Cancel', 'Open menu', 'Copy', 'Next'];
const COUNTRIES = ['US', 'DE', 'GB', 'FR', 'IN', 'BR', 'JP', 'CA', 'NL', 'ES'];
const FEATURES = ['export_csv', 'dark_mode', 'share_link', 'invite_member', 'api_key_created', 'webhook_added'];
const FIRST = ['Ada', 'Grace', 'Alan', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger', 'Radia', 'John'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie', 'Allen', 'Dijkstra'];
const DOMAINS = ['example.com', 'mail.test', 'corp.example', 'gmail.test', 'proton.test'];

const list = (values: readonly string[]) => `[${values.map(sqlString).join(', ')}]`;
const pick = (values: readonly string[], hash: string, shift: number) =>
  `${list(values)}[1 + toUInt32(floor(${unit(hash, shift)} * ${values.length}))]`;

/** Users of the other projects: each has at least this many (user i of project k, i < this). */
const otherUsersEach = (plan: DataPlan) => Math.max(1, Math.floor((plan.users - plan.measuredUsers) / (plan.projectIds.length - 1)));

/**
 * How rows are made. Row `n` (0 ≤ n < events) has a template index
 * `t = n % T` (T = ceil(events / copies)) that fixes its event type and, for
 * the browser and custom events, its `data`; everything else (project, user,
 * time, session) comes from hashes of `n`. Building JSON values costs the
 * engine a few seconds per million rows while copying a JSON column costs
 * about half a second, so the common events' `data` is built once per
 * template row (T rows) and copied `copies` times; the rare system events
 * ($token-refresh, $sign-up-rule-trigger, about 5 %) are built row by row,
 * since their data names the row's own user and project.
 */
export const templateRows = (plan: DataPlan, copies: number) => Math.ceil(plan.events / copies);

/** Event type of template row t: 52 % page views, 35 % clicks, 5 % token refreshes, 8 % others. */
const TYPE_OF_R = `multiIf(r < 520, '$page-view', r < 870, '$click', r < 920, '$token-refresh', r < 945, 'checkout.completed',
            r < 990, 'signup.started', r < 998, 'feature.used', '$sign-up-rule-trigger')`;
const RARE_R = '((r >= 870 AND r < 920) OR r >= 998)';

/** The template-level columns (from `t`): type and the browser context. */
const templateColumns = () => `
    cityHash64(t, 13) AS ht,
    cityHash64(t, 15) AS hx,
    ht % 1000 AS r,
    ${TYPE_OF_R} AS event_type,
    if(${unit('ht', 12)} < 0.12,
       concat('/projects/', toString(ht % 5000)),
       ${list(PATHS)}[1 + toUInt32(floor(pow(${unit('ht', 32)}, 1.8) * ${PATHS.length}))]) AS path,
    ${pick(TAGS, 'hx', 0)} AS tag`;

/** The row-level columns (from `n` and the row's event_type). */
function rowColumns(plan: DataPlan): string {
  const projects = plan.projectIds.length;
  const measuredPerMillion = Math.round(plan.measuredShare * 1_000_000);
  return `
    cityHash64(n, 11) AS hp,
    cityHash64(n, 12) AS hu,
    cityHash64(n, 14) AS hd,
    toUInt32(if(hp % 1000000 < ${measuredPerMillion}, 0,
       1 + least(${projects - 2}, toUInt32(floor(${projects - 1} * pow(${unit('hp', 24)}, 2)))))) AS pi,
    ${list(plan.projectIds)}[pi + 1] AS project_id,
    toUInt32(floor(if(pi = 0, ${plan.measuredUsers}, ${otherUsersEach(plan)}) * pow(${unit('hu', 8)}, 2.5))) AS ui,
    (hu % 100 < 88 OR event_type = '$token-refresh') AS identified,
    if(identified, toString(${uuidOf('pi', 'ui')}), NULL) AS user_id,
    toUInt32(floor(${plan.days} * sqrt(${unit('hd', 0)}))) AS day,
    fromUnixTimestamp64Milli(toInt64(${dataStart(plan)} + day * ${DAY_MS}
      + floor((${unit('hd', 20)} + ${unit('hd', 40)}) / 2 * ${DAY_MS})), 'UTC') AS event_at,
    if(event_type IN ('$page-view', '$click') AND identified, toString(${uuidOf('pi', 'ui', 'day')}), NULL) AS segment_id`;
}

const EVENT_COLUMNS = `(event_type, event_at, data, project_id, branch_id, user_id, team_id, refresh_token_id,
   session_replay_id, session_replay_segment_id, created_at)`;
const EVENT_VALUES = `event_type, event_at, data, project_id, 'main', user_id, NULL, refresh_token_id,
       NULL, segment_id, event_at + toIntervalMillisecond(150 + hu % 2000)`;

/** The scratch table of template rows (dropped after generation). */
export const TEMPLATE_TABLE = 'bench_query_gen.template';

/** Builds the common events' `data` once per template row. */
export function templateInsertSql(plan: DataPlan, copies: number): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS bench_query_gen`,
    `DROP TABLE IF EXISTS ${TEMPLATE_TABLE}`,
    `CREATE TABLE ${TEMPLATE_TABLE} (t UInt64, event_type LowCardinality(String), data JSON) ENGINE MergeTree ORDER BY t`,
    `
INSERT INTO ${TEMPLATE_TABLE}
SELECT t, event_type, data FROM (
  SELECT number AS t, ${templateColumns()},
    multiIf(
      event_type = '$page-view',
      CAST(tuple(path, concat('https://app.example.com', path), ${pick(TITLES, 'hx', 20)}, ${pick(REFERRERS, 'hx', 40)},
                 toInt64(1280 + ht % 1280), toInt64(720 + hx % 720))
           AS Tuple(path String, url String, title String, referrer String, viewport_width Int64, viewport_height Int64))::JSON,
      event_type = '$click',
      CAST(tuple(tag, ${pick(TEXTS, 'hx', 20)}, concat('#app > main > ', lower(tag)), path, toInt64(ht % 1920), toInt64(hx % 1080))
           AS Tuple(tag_name String, text String, selector String, path String, x Int64, y Int64))::JSON,
      event_type = 'checkout.completed',
      CAST(tuple(toString(${uuidOf('t')}), round(toFloat64(ht % 50000) / 100, 2), 'USD', toInt64(1 + hx % 5))
           AS Tuple(order_id String, total Float64, currency String, items Int64))::JSON,
      event_type = 'signup.started',
      CAST(tuple(['free', 'pro', 'team'][1 + hx % 3], ${pick(REFERRERS, 'hx', 40)}) AS Tuple(plan String, source String))::JSON,
      CAST(tuple(${pick(FEATURES, 'hx', 20)}) AS Tuple(feature String))::JSON
    ) AS data
  FROM numbers_mt(${templateRows(plan, copies)})
  WHERE NOT ${RARE_R}
)
SETTINGS max_insert_threads = 2`,
  ];
}

/**
 * All events in one INSERT: the common events (every template row copied
 * `copies` times, each copy a row `n` of its own) and the rare system events
 * (built row by row, since their data names the row's user and project),
 * squashed into blocks of `insertBlockRows` (one part per block and month).
 */
export function eventsInsertSql(plan: DataPlan, copies: number): string {
  const rows = templateRows(plan, copies);
  return `
INSERT INTO analytics_internal.events ${EVENT_COLUMNS}
SELECT ${EVENT_VALUES}
FROM (
  SELECT t, event_type, data, c * ${rows} + t AS n, NULL AS refresh_token_id, ${rowColumns(plan)}
  FROM ${TEMPLATE_TABLE}
  ARRAY JOIN range(${copies}) AS c
  WHERE n < ${plan.events}
)
UNION ALL
SELECT ${EVENT_VALUES}
FROM (
  SELECT number AS n, n % ${rows} AS t, ${templateColumns()}, ${rowColumns(plan)},
    if(event_type = '$token-refresh', toString(${uuidOf('pi', 'ui', 'n')}), NULL) AS refresh_token_id,
    if(event_type = '$token-refresh',
      CAST(tuple(assumeNotNull(refresh_token_id), hu % 100 >= 95,
                 tuple(IPv4NumToString(toUInt32(hd % 4294967296)), hd % 10 < 8, ${pick(COUNTRIES, 'hd', 36)}, '', '',
                       toFloat64(hd % 180) - 90, toFloat64(hp % 360) - 180, 'UTC'))
           AS Tuple(refresh_token_id String, is_anonymous Bool,
                    ip_info Tuple(ip String, is_trusted Bool, country_code String, region_code String, city_name String,
                                  latitude Float64, longitude Float64, tz_identifier String)))::JSON,
      CAST(tuple(project_id, 'main', toString(${uuidOf('hd % 20')}), ['allow', 'reject', 'restrict'][1 + hd % 3],
                 concat('user', toString(ui), '@example.com'), ['password', 'otp', 'oauth'][1 + hp % 3], 'github')
           AS Tuple(project_id String, branch_id String, rule_id String, action String, email String,
                    auth_method String, oauth_provider String))::JSON
    ) AS data
  FROM numbers_mt(${plan.events})
  WHERE ${RARE_R}
)
SETTINGS max_threads = 2, max_insert_threads = 1,
  min_insert_block_size_rows = ${insertBlockRows(plan)}, min_insert_block_size_bytes = ${2 ** 40}`;
}

/**
 * Rows per inserted block, hence per part: a quarter of the events. The
 * layout is then a few large parts per month, as in a table that has been
 * merging for a while, and four similar parts are not what the merge selector
 * picks on its own, so nothing merges under the measurements (run.ts checks
 * the part count). Memory: about 5 GiB peak at 10 M events (a JSON column
 * with ~35 paths costs ~2 KiB per row while a block is squashed and sorted;
 * a single block of 10 M rows exceeded 21 GiB). Merging everything instead
 * (`OPTIMIZE … FINAL`, option `optimize`) took 141 s at 10 M events.
 */
export const insertBlockRows = (plan: DataPlan) => Math.max(1_048_576, Math.ceil(plan.events / 4));

/** The user rows (project index, user index) as a subquery over numbers(users). */
function userRows(plan: DataPlan): string {
  const projects = plan.projectIds.length;
  return `
  SELECT
    number AS j,
    toUInt32(if(j < ${plan.measuredUsers}, 0, 1 + (j - ${plan.measuredUsers}) % ${projects - 1})) AS pi,
    toUInt32(if(j < ${plan.measuredUsers}, j, intDiv(j - ${plan.measuredUsers}, ${projects - 1}))) AS ui,
    cityHash64(pi, ui, 21) AS h,
    ${list(plan.projectIds)}[pi + 1] AS project_id,
    ${uuidOf('pi', 'ui')} AS id,
    ${pick(FIRST, 'h', 0)} AS first_name,
    ${pick(LAST, 'h', 20)} AS last_name,
    fromUnixTimestamp64Milli(toInt64(${plan.endMs} - floor(pow(${unit('h', 40)}, 1.5) * 365 * ${DAY_MS})), 'UTC') AS signed_up_at
  FROM numbers(${plan.users})`;
}

const USER_COLUMNS = `(project_id, branch_id, id, display_name, profile_image_url, primary_email, primary_email_verified,
   signed_up_at, client_metadata, client_read_only_metadata, server_metadata, is_anonymous, restricted_by_admin,
   restricted_by_admin_reason, restricted_by_admin_private_details, sync_sequence_id, sync_is_deleted, sync_created_at)`;

/**
 * The users as the sync engine writes them: every user once, then a later
 * batch that updates 5 % (new display name, metadata) and deletes 0.5 %
 * (tombstones), so the `users` view's FINAL has versions to collapse.
 */
export function usersInsertSql(plan: DataPlan): string[] {
  const email = `lower(concat(first_name, '.', last_name, toString(ui), '@', ${pick(DOMAINS, 'cityHash64(h)', 0)}))`;
  const base = `
INSERT INTO analytics_internal.users ${USER_COLUMNS}
SELECT project_id, 'main', id,
       if(h % 10 = 0, NULL, concat(first_name, ' ', last_name)),
       if(h % 3 = 0, concat('https://avatars.example.com/', toString(id), '.png'), NULL),
       if(h % 20 = 0, NULL, ${email}),
       h % 4 != 0,
       signed_up_at,
       concat('{"theme":"', ['light', 'dark'][1 + h % 2], '"}'), '{}', concat('{"plan":"', ['free', 'pro', 'team'][1 + h % 3], '"}'),
       h % 20 = 1, 0, NULL, NULL,
       j + 1, 0, signed_up_at
FROM (${userRows(plan)})`;
  const later = `
INSERT INTO analytics_internal.users ${USER_COLUMNS}
SELECT project_id, 'main', id,
       concat(first_name, ' ', last_name, ' (updated)'),
       NULL,
       ${email},
       1,
       signed_up_at,
       '{"theme":"dark","onboarded":true}', '{"tier":"gold"}', '{"plan":"team"}',
       0, h % 200 = 2, if(h % 200 = 2, 'spam', NULL), NULL,
       ${plan.users} + j + 1, h % 200 = 1, now64(3)
FROM (${userRows(plan)})
WHERE h % 20 = 0 OR h % 200 = 1`;
  return [base, later];
}

export type GenerationReport = {
  /** Wall and CPU time (this process, engine threads included) of each phase, ms. */
  phases: Record<string, { wallMs: number; cpuMs: number }>;
  totalMs: number;
  events: number;
  users: number;
  measuredEvents: number;
  measuredUsers: number;
  eventParts: number;
  eventBytes: number;
};

/**
 * Generates everything on a writable chDB session over the server's data
 * directory (while no server runs on it). The users' two batches are merged
 * (`OPTIMIZE … FINAL`, cheap) so no merge starts under the server; the
 * events only with `optimize` (slow; see `insertBlockRows`).
 */
export async function generate(
  session: Session,
  plan: DataPlan,
  options: { copies: number; optimize: boolean },
): Promise<GenerationReport> {
  if (plan.projectIds.length < 2) throw new Error('the plan needs at least 2 projects');
  const phases: GenerationReport['phases'] = {};
  const phase = async (name: string, statements: string[]) => {
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (const sql of statements) await session.queryAsync(sql);
    const used = process.cpuUsage(cpu);
    phases[name] = { wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
  };
  const started = performance.now();
  await phase('template rows (common events\' JSON)', templateInsertSql(plan, options.copies));
  await phase(`events (template x${options.copies} + system events)`, [eventsInsertSql(plan, options.copies)]);
  await phase('users (+ updates, tombstones)', usersInsertSql(plan));
  await phase('drop scratch', [`DROP DATABASE IF EXISTS bench_query_gen`]);
  await phase('OPTIMIZE users FINAL', ['OPTIMIZE TABLE analytics_internal.users FINAL']);
  if (options.optimize) await phase('OPTIMIZE events FINAL', ['OPTIMIZE TABLE analytics_internal.events FINAL']);
  const totalMs = performance.now() - started;
  const measured = sqlString(plan.projectIds[0] ?? '');
  const [counts] = (
    await session.queryAsync(
      `SELECT
         (SELECT count() FROM analytics_internal.events) AS events,
         (SELECT count() FROM analytics_internal.events WHERE project_id = ${measured}) AS measured_events,
         (SELECT count() FROM default.users) AS users,
         (SELECT count() FROM default.users WHERE project_id = ${measured}) AS measured_users,
         (SELECT count() FROM system.parts WHERE active AND database = 'analytics_internal' AND table = 'events') AS parts,
         (SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = 'analytics_internal' AND table = 'events') AS bytes`,
      { format: 'JSONEachRow' },
    )
  )
    .text()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, string | number>);
  return {
    phases,
    totalMs,
    events: Number(counts?.events),
    users: Number(counts?.users),
    measuredEvents: Number(counts?.measured_events),
    measuredUsers: Number(counts?.measured_users),
    eventParts: Number(counts?.parts),
    eventBytes: Number(counts?.bytes),
  };
}
