import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { lockDataDir, type DataDirLock } from './data-dir-lock.ts';
import { openClickHouse, type ClickHouse } from './storage/clickhouse/client.ts';
import { clickHouseMigrationStatus, runClickHouseMigrations } from './storage/clickhouse/migrations.ts';
import { openPostgres, type Postgres } from './storage/postgres/db.ts';
import { postgresMigrationStatus, runPostgresMigrations } from './storage/postgres/migrations.ts';

export type Engines = {
  clickhouse: ClickHouse;
  postgres: Postgres;
  /** The embedded chDB directory; undefined with a ClickHouse server. */
  clickhouseDataDir: string | undefined;
  /** Held while an embedded engine uses the data directory. */
  dataDirLock: DataDirLock | undefined;
  close(): Promise<void>;
};

/** The Postgres advisory lock key under which ClickHouse migrations run. */
const CLICKHOUSE_MIGRATION_LOCK = 'sightline:clickhouse-migrations';

/**
 * Opens both engines from the configuration: embedded chDB and PGlite under
 * the data directory unless `CLICKHOUSE_URL` / `DATABASE_URL` name servers.
 *
 * @example
 * const engines = await openEngines(config, log);
 */
export async function openEngines(
  config: Config,
  log: Logger,
  options: { clickhouseDataDir?: string | undefined } = {},
): Promise<Engines> {
  const embedded = !config.databaseUrl || !config.clickhouse.url;
  const dataDirLock = embedded ? lockDataDir(config.dataDir) : undefined;
  let postgres: Postgres;
  try {
    postgres = await openPostgres(
      config.databaseUrl
        ? { kind: 'pg', url: config.databaseUrl }
        : { kind: 'pglite', dataDir: path.join(config.dataDir, 'postgres') },
    );
  } catch (error) {
    dataDirLock?.release();
    throw error;
  }
  const clickhouseDataDir = config.clickhouse.url
    ? undefined
    : (options.clickhouseDataDir ?? path.join(config.dataDir, 'clickhouse'));
  let clickhouse: ClickHouse;
  try {
    clickhouse = await openClickHouse(
      config.clickhouse.url
        ? {
            kind: 'server',
            url: config.clickhouse.url,
            user: config.clickhouse.user,
            password: config.clickhouse.password,
            cluster: config.clickhouse.cluster,
          }
        : { kind: 'embedded', dataDir: clickhouseDataDir ?? '' },
    );
  } catch (error) {
    await postgres.close();
    dataDirLock?.release();
    throw error;
  }
  log.info(
    {
      clickhouse: clickhouse.capabilities.embedded ? 'embedded chDB' : 'server',
      postgres: postgres.kind,
      dataDir: config.dataDir,
    },
    'engines open',
  );
  return {
    clickhouse,
    postgres,
    clickhouseDataDir,
    dataDirLock,
    async close() {
      await Promise.allSettled([clickhouse.close(), postgres.close()]);
      dataDirLock?.release();
    },
  };
}

export type MigrationReport = {
  postgres: Awaited<ReturnType<typeof runPostgresMigrations>>;
  clickhouse: Awaited<ReturnType<typeof runClickHouseMigrations>>;
};

/**
 * Applies Postgres then ClickHouse migrations. ClickHouse migrations run
 * under a Postgres advisory lock: servers sharing a database migrate once.
 */
export async function migrateAll(engines: Engines, config: Config, log: Logger): Promise<MigrationReport> {
  const postgres = await runPostgresMigrations(engines.postgres);
  const clickhouse = await runClickHouseMigrations(engines.clickhouse, {
    lock: (fn) => engines.postgres.withAdvisoryLock(CLICKHOUSE_MIGRATION_LOCK, fn),
    log: (message, fields) => log.info(fields ?? {}, message),
    limitedPassword: config.clickhouse.limitedPassword,
  });
  return { postgres, clickhouse };
}

/** Every migration of both engines with its state, for `sightline migrate --status` and `/ready`. */
export async function migrationStatus(engines: Engines) {
  return {
    postgres: await postgresMigrationStatus(engines.postgres),
    clickhouse: await clickHouseMigrationStatus(engines.clickhouse),
  };
}
