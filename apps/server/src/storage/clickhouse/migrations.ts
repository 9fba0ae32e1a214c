import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { ClickHouse } from './client.ts';

/** The numbered `NNNN_name.sql` files shipped with the server. */
export const CLICKHOUSE_MIGRATIONS_DIRECTORY = fileURLToPath(new URL('./sql/', import.meta.url));

export const SERVER_ONLY_REASON =
  'server-only: needs users, row policies and grants (embedded chDB has no access control)';

const LEDGER = 'analytics_internal._sightline_migrations';
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const SERVER_ONLY_MARKER = /^--\s*sightline:\s*server-only\s*$/;

/** Runs `fn` while no other migration runner (in any process sharing the lock) runs. */
export type MigrationLock = <T>(fn: () => Promise<T>) => Promise<T>;

export type MigrationFile = Readonly<{
  version: number;
  /** File name without `.sql`, e.g. `0002_events`. */
  name: string;
  sql: string;
  /** SHA-256 (hex) of the file as written, before any rendering. */
  checksum: string;
  serverOnly: boolean;
}>;

export type MigrationResult = {
  version: number;
  name: string;
  status: 'applied' | 'already-applied' | 'skipped';
  reason?: string;
};

export type MigrationState =
  | { version: number; name: string; status: 'applied'; appliedAt: string }
  | { version: number; name: string; status: 'pending' }
  | { version: number; name: string; status: 'skipped'; reason: string }
  | { version: number; name: string; status: 'checksum-mismatch'; appliedAt: string; appliedChecksum: string; checksum: string };

export type MigrationOptions = {
  lock: MigrationLock;
  /** Structured log line: what happened, plus fields such as `{ version, name, reason }`. */
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Password of `limited_user`; required when a server-only file is pending on a server. */
  limitedPassword?: string;
  /** Apply files up to and including this version only. */
  upTo?: number;
  /** Where the `.sql` files are (tests use a modified copy). */
  directory?: string;
};

/** A migration run refused or failed; `results` holds what was done before it stopped. */
export class ClickHouseMigrationError extends Error {
  override name = 'ClickHouseMigrationError';
  constructor(
    message: string,
    readonly results: readonly MigrationResult[],
    options?: { cause: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Applies the pending migration files in version order, inside `lock`, and
 * records each in the ledger. Refuses before changing anything when an applied
 * file's checksum changed.
 *
 * @example
 * const results = await runClickHouseMigrations(ch, { lock: inProcessLock(), log: console.log });
 * // [{ version: 1, name: '0001_create_database', status: 'applied' }, ...]
 */
export async function runClickHouseMigrations(ch: ClickHouse, options: MigrationOptions): Promise<MigrationResult[]> {
  const log = options.log ?? (() => {});
  const files = await loadMigrationFiles(options.directory);
  const selected = options.upTo === undefined ? files : files.filter((file) => file.version <= (options.upTo ?? 0));
  const target = { cluster: ch.cluster, limitedPassword: options.limitedPassword };

  return options.lock(async () => {
    await ensureLedger(ch);
    const ledger = await readLedger(ch);
    const changed = files.find((file) => {
      const applied = ledger.get(file.version);
      return applied !== undefined && applied.checksum !== file.checksum;
    });
    if (changed) {
      throw new ClickHouseMigrationError(
        `ClickHouse migration ${changed.name}.sql was changed after it was applied ` +
          `(checksum ${ledger.get(changed.version)?.checksum} in the ledger, ${changed.checksum} on disk); ` +
          'restore the file and put the change in a new numbered file. Nothing was applied.',
        [],
      );
    }
    const known = new Set(files.map((file) => file.version));
    for (const version of ledger.keys()) {
      if (!known.has(version)) log('ClickHouse migration in the ledger has no file (applied by a newer release?)', { version });
    }
    const needsPassword = ch.capabilities.accessControl && selected.some((file) => file.serverOnly && !ledger.has(file.version));
    if (needsPassword && options.limitedPassword === undefined) {
      throw new ClickHouseMigrationError('ClickHouse migrations need the limited user password (CLICKHOUSE_LIMITED_PASSWORD). Nothing was applied.', []);
    }

    const results: MigrationResult[] = [];
    for (const file of selected) {
      const { version, name } = file;
      if (ledger.has(version)) {
        results.push({ version, name, status: 'already-applied' });
      } else if (file.serverOnly && !ch.capabilities.accessControl) {
        log(`ClickHouse migration ${name} skipped: ${SERVER_ONLY_REASON}`, { version, name, reason: SERVER_ONLY_REASON });
        results.push({ version, name, status: 'skipped', reason: SERVER_ONLY_REASON });
      } else {
        await applyFile(ch, file, target, results);
        log(`ClickHouse migration ${name} applied`, { version, name });
        results.push({ version, name, status: 'applied' });
      }
    }
    return results;
  });
}

/**
 * Every migration file with its state in the ledger; reads only, takes no lock.
 *
 * @example
 * for (const s of await clickHouseMigrationStatus(ch)) console.log(s.name, s.status);
 */
export async function clickHouseMigrationStatus(ch: ClickHouse, options: { directory?: string } = {}): Promise<MigrationState[]> {
  const files = await loadMigrationFiles(options.directory);
  const ledgerExists = await ch.query({
    name: 'migrations.ledger-exists',
    sql: "SELECT 1 AS present FROM system.tables WHERE database = 'analytics_internal' AND name = '_sightline_migrations'",
  });
  const ledger = ledgerExists.length > 0 ? await readLedger(ch) : new Map<number, LedgerRow>();
  return files.map((file): MigrationState => {
    const { version, name } = file;
    const applied = ledger.get(version);
    if (applied === undefined) {
      return file.serverOnly && !ch.capabilities.accessControl
        ? { version, name, status: 'skipped', reason: SERVER_ONLY_REASON }
        : { version, name, status: 'pending' };
    }
    if (applied.checksum !== file.checksum) {
      return { version, name, status: 'checksum-mismatch', appliedAt: applied.appliedAt, appliedChecksum: applied.checksum, checksum: file.checksum };
    }
    return { version, name, status: 'applied', appliedAt: applied.appliedAt };
  });
}

/**
 * A promise-chain mutex: callers run one after another. Enough when a single
 * process migrates (embedded engine, CLI, tests); servers sharing a ClickHouse
 * pass a Postgres advisory lock instead.
 *
 * @example
 * const lock = inProcessLock();
 * await Promise.all([run(ch, { lock }), run(ch, { lock })]); // the second waits
 */
export function inProcessLock(): MigrationLock {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/**
 * Reads `NNNN_name.sql` files sorted by version; any other `.sql` name or a
 * repeated version is an error (a typo must not silently skip a migration).
 *
 * @example
 * const files = await loadMigrationFiles(); // [{ version: 1, name: '0001_create_database', ... }]
 */
export async function loadMigrationFiles(directory = CLICKHOUSE_MIGRATIONS_DIRECTORY): Promise<MigrationFile[]> {
  const entries = (await readdir(directory)).filter((entry) => entry.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  for (const entry of entries) {
    const match = FILE_NAME.exec(entry);
    if (!match) throw new Error(`ClickHouse migration file ${entry} is not named NNNN_lower_snake_name.sql`);
    const version = Number(match[1]);
    if (files.some((file) => file.version === version)) throw new Error(`ClickHouse migration version ${version} is used twice (${entry})`);
    const sql = await readFile(path.join(directory, entry), 'utf8');
    files.push({
      version,
      name: entry.slice(0, -'.sql'.length),
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
      serverOnly: SERVER_ONLY_MARKER.test(sql.split('\n', 1)[0]?.trim() ?? ''),
    });
  }
  return files;
}

/**
 * Splits a file into statements at each `;` outside string literals, quoted
 * identifiers and comments. Comment-only pieces are dropped.
 *
 * @example
 * splitSqlStatements("SELECT ';'; -- a;\nSELECT 2;"); // ["SELECT ';'", "-- a;\nSELECT 2"]
 */
export function splitSqlStatements(text: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let hasCode = false;
  let i = 0;
  const flush = (end: number): void => {
    const statement = text.slice(start, end).trim();
    if (hasCode) statements.push(statement);
    hasCode = false;
  };
  while (i < text.length) {
    const char = text[i];
    const next = text[i + 1];
    if (char === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end + 1;
    } else if (char === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) throw new Error('unterminated /* comment in migration SQL');
      i = end + 2;
    } else if (char === "'" || char === '"' || char === '`') {
      i = endOfQuoted(text, i, char);
      hasCode = true;
    } else if (char === ';') {
      flush(i);
      start = ++i;
    } else {
      if (char !== undefined && /\S/.test(char)) hasCode = true;
      i++;
    }
  }
  flush(text.length);
  return statements;
}

function endOfQuoted(text: string, open: number, quote: string): number {
  let i = open + 1;
  while (i < text.length) {
    const char = text[i];
    if (char === '\\') i += 2;
    else if (char === quote && text[i + 1] === quote) i += 2;
    else if (char === quote) return i + 1;
    else i++;
  }
  throw new Error(`unterminated ${quote} in migration SQL`);
}

/**
 * Fills a statement's placeholders for the target engine: `{on_cluster}` becomes
 * ` ON CLUSTER <cluster>` (or nothing), `{limited_password}` a quoted string
 * literal, and in cluster mode `*MergeTree` engines become `Replicated*MergeTree`
 * (default ZooKeeper path and replica macros).
 *
 * @example
 * renderMigrationSql('CREATE DATABASE d{on_cluster}', { cluster: 'main' }); // "CREATE DATABASE d ON CLUSTER `main`"
 */
export function renderMigrationSql(statement: string, target: { cluster?: string | undefined; limitedPassword?: string | undefined }): string {
  const rendered = statement.replace(/\{([a-z_]+)\}/g, (placeholder, key: string) => {
    if (key === 'on_cluster') return target.cluster === undefined ? '' : ` ON CLUSTER ${quoteIdentifier(target.cluster)}`;
    if (key === 'limited_password') {
      if (target.limitedPassword === undefined) throw new Error('migration SQL needs {limited_password} but none was given');
      return quoteString(target.limitedPassword);
    }
    throw new Error(`unknown placeholder ${placeholder} in migration SQL`);
  });
  if (target.cluster === undefined) return rendered;
  return rendered.replace(/\bENGINE(\s*=\s*|\s+)(?!Replicated)([A-Za-z]*MergeTree)\b/g, 'ENGINE$1Replicated$2');
}

function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function quoteIdentifier(value: string): string {
  return `\`${value.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

type LedgerRow = { checksum: string; appliedAt: string };

async function ensureLedger(ch: ClickHouse): Promise<void> {
  const render = (sql: string): string => renderMigrationSql(sql, { cluster: ch.cluster });
  await ch.command({ name: 'migrations.create-database', sql: render('CREATE DATABASE IF NOT EXISTS analytics_internal{on_cluster}') });
  await ch.command({
    name: 'migrations.create-ledger',
    sql: render(
      `CREATE TABLE IF NOT EXISTS ${LEDGER}{on_cluster} (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC'))
       ENGINE MergeTree ORDER BY version`,
    ),
  });
}

const ledgerRow = z.object({ version: z.number().int(), checksum: z.string(), applied_at_ms: z.coerce.number() });

async function readLedger(ch: ClickHouse): Promise<Map<number, LedgerRow>> {
  // Grouped: a replica that lagged behind could have let a version be recorded twice.
  const rows = await ch.query({
    name: 'migrations.read-ledger',
    sql: `SELECT version, argMin(checksum, applied_at) AS checksum, toUnixTimestamp64Milli(min(applied_at)) AS applied_at_ms
          FROM ${LEDGER} GROUP BY version ORDER BY version`,
    row: ledgerRow,
  });
  return new Map(rows.map((row) => [row.version, { checksum: row.checksum, appliedAt: new Date(row.applied_at_ms).toISOString() }]));
}

async function applyFile(
  ch: ClickHouse,
  file: MigrationFile,
  target: { cluster: string | undefined; limitedPassword: string | undefined },
  results: readonly MigrationResult[],
): Promise<void> {
  const statements = splitSqlStatements(file.sql);
  for (const [index, statement] of statements.entries()) {
    try {
      await ch.command({ name: `migrations.${file.name}.${index + 1}`, sql: renderMigrationSql(statement, target) });
    } catch (error) {
      const message = redact(error instanceof Error ? error.message : String(error), target.limitedPassword);
      throw new ClickHouseMigrationError(
        `ClickHouse migration ${file.name}.sql failed at statement ${index + 1} of ${statements.length}: ${message}`,
        results,
        // The original error can quote the statement, password included.
        file.serverOnly ? undefined : { cause: error },
      );
    }
  }
  await ch.command({
    name: 'migrations.record',
    sql: `INSERT INTO ${LEDGER} (version, name, checksum, applied_at) VALUES ({version:UInt32}, {name:String}, {checksum:String}, now64(3))`,
    params: { version: file.version, name: file.name, checksum: file.checksum },
  });
}

function redact(message: string, password: string | undefined): string {
  if (!password) return message;
  return message.split(quoteString(password)).join("'[redacted]'").split(password).join('[redacted]');
}
