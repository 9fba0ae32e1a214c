import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Postgres } from './db.ts';

export type PostgresMigration = { version: number; name: string; file: string; sql: string; checksum: string };
export type PostgresMigrationResult = { version: number; name: string; status: 'applied' | 'already-applied' };
export type PostgresMigrationState = { version: number; name: string; status: 'applied' | 'pending' | 'checksum-mismatch' };
export type PostgresMigrationOptions = { /** Folder of `NNNN_name.sql` files; default `./sql`. */ directory?: string };

/** The lock that makes concurrent server start-ups migrate once. */
export const POSTGRES_MIGRATION_LOCK = 'sightline:postgres-migrations';
const LEDGER = '_sightline_migrations';
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const defaultDirectory = fileURLToPath(new URL('./sql/', import.meta.url));

/** An applied migration file was edited afterwards; nothing was applied. */
export class PostgresMigrationChecksumError extends Error {
  readonly code = 'POSTGRES_MIGRATION_CHECKSUM_MISMATCH';
  constructor(readonly files: string[]) {
    super(
      `Postgres migration file(s) changed after being applied: ${files.join(', ')}. ` +
        'Applied migrations are immutable; restore the file and add a new numbered migration instead. Nothing was applied.',
    );
  }
}

/**
 * Reads and checksums the migration files, in version order.
 *
 * @example
 * loadPostgresMigrations().map((m) => m.file); // ['0001_projects.sql', …]
 */
export function loadPostgresMigrations(directory = defaultDirectory): PostgresMigration[] {
  const migrations = readdirSync(directory)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => {
      const match = FILE_NAME.exec(file);
      if (!match) throw new Error(`Postgres migration file name must look like 0001_name.sql: ${file}`);
      const sql = readFileSync(path.join(directory, file), 'utf8');
      return { version: Number(match[1]), name: match[2] ?? '', file, sql, checksum: checksumOf(sql) };
    })
    .sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]?.version === migrations[i - 1]?.version) {
      throw new Error(`two Postgres migrations share version ${migrations[i]?.version}`);
    }
  }
  return migrations;
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory
 * lock; refuses to start if an applied file's checksum changed.
 *
 * @example
 * const results = await runPostgresMigrations(pg);
 * // [{ version: 1, name: 'projects', status: 'applied' }]
 */
export async function runPostgresMigrations(
  pg: Postgres,
  options: PostgresMigrationOptions = {},
): Promise<PostgresMigrationResult[]> {
  const migrations = loadPostgresMigrations(options.directory);
  return pg.withAdvisoryLock(POSTGRES_MIGRATION_LOCK, async () => {
    await ensureLedger(pg);
    const applied = await readLedger(pg);
    const changed = migrations.filter((m) => applied.has(m.version) && applied.get(m.version) !== m.checksum);
    if (changed.length > 0) throw new PostgresMigrationChecksumError(changed.map((m) => m.file));
    const results: PostgresMigrationResult[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) {
        results.push({ version: m.version, name: m.name, status: 'already-applied' });
        continue;
      }
      await pg.transaction(async (tx) => {
        await tx.executeScript(m.sql);
        await tx.execute(`INSERT INTO ${LEDGER} (version, name, checksum) VALUES ($1, $2, $3)`, [
          m.version,
          m.name,
          m.checksum,
        ]);
      });
      results.push({ version: m.version, name: m.name, status: 'applied' });
    }
    return results;
  });
}

/**
 * Per file: applied, pending, or changed since it was applied. Reads only.
 *
 * @example
 * (await postgresMigrationStatus(pg)).filter((m) => m.status === 'pending');
 */
export async function postgresMigrationStatus(
  pg: Postgres,
  options: PostgresMigrationOptions = {},
): Promise<PostgresMigrationState[]> {
  const migrations = loadPostgresMigrations(options.directory);
  const [exists] = await pg.execute<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [LEDGER]);
  const applied = exists?.present ? await readLedger(pg) : new Map<number, string>();
  return migrations.map((m) => {
    const checksum = applied.get(m.version);
    const status = checksum === undefined ? 'pending' : checksum === m.checksum ? 'applied' : 'checksum-mismatch';
    return { version: m.version, name: m.name, status };
  });
}

async function ensureLedger(pg: Postgres): Promise<void> {
  await pg.execute(
    `CREATE TABLE IF NOT EXISTS ${LEDGER} (
       version int PRIMARY KEY,
       name text NOT NULL,
       checksum text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
}

async function readLedger(pg: Postgres): Promise<Map<number, string>> {
  const rows = await pg.execute<{ version: number; checksum: string }>(`SELECT version, checksum FROM ${LEDGER}`);
  return new Map(rows.map((row) => [row.version, row.checksum]));
}

/** Line endings are normalised so a Windows checkout does not look like an edit. */
function checksumOf(sql: string): string {
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}
