#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type ConfigOverrides } from './config.ts';
import { migrateAll, migrationStatus, openEngines } from './engines.ts';
import { createLogger } from './logger.ts';
import { installShutdown, startServer, VERSION } from './main.ts';
import { printTable } from './cli-table.ts';

type EngineFlags = { dataDir?: string; clickhouseUrl?: string; databaseUrl?: string; logLevel?: string };

/** Flags shared by every command that opens the engines. */
function engineOptions(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'embedded data directory (SIGHTLINE_DATA_DIR, default ./.sightline)')
    .option('--clickhouse-url <url>', 'ClickHouse server URL instead of embedded chDB (CLICKHOUSE_URL)')
    .option('--database-url <url>', 'PostgreSQL URL instead of embedded PGlite (DATABASE_URL)')
    .addOption(
      new Option('--log-level <level>', 'log level (SIGHTLINE_LOG_LEVEL)').choices([
        'trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent',
      ]),
    );
}

function overridesFrom(flags: EngineFlags & Record<string, unknown>): ConfigOverrides {
  return {
    SIGHTLINE_DATA_DIR: flags.dataDir,
    CLICKHOUSE_URL: flags.clickhouseUrl,
    DATABASE_URL: flags.databaseUrl,
    SIGHTLINE_LOG_LEVEL: flags.logLevel,
  };
}

const program = new Command()
  .name('sightline')
  .description('Self-hosted, multi-tenant product analytics on ClickHouse')
  .version(VERSION)
  .showHelpAfterError();

engineOptions(
  program
    .command('serve')
    .description('run the HTTP service (embedded chDB + PGlite unless server URLs are configured)')
    .option('-p, --port <port>', 'HTTP port (PORT, default 8787)')
    .option('--host <host>', 'address to bind (HOST, default 127.0.0.1)')
    .option('--admin-secret <secret>', 'operator secret (SIGHTLINE_ADMIN_SECRET; generated on first start if unset)')
    .option('--trust-proxy', 'take the client IP from x-forwarded-for (SIGHTLINE_TRUST_PROXY)')
    .option('--demo', 'create a demo project (analytics on) on first start and print its keys'),
).action(async (flags: EngineFlags & { port?: string; host?: string; adminSecret?: string; trustProxy?: boolean; demo?: boolean }) => {
  const config = loadConfig(process.env, {
    ...overridesFrom(flags),
    PORT: flags.port,
    HOST: flags.host,
    SIGHTLINE_ADMIN_SECRET: flags.adminSecret,
    SIGHTLINE_TRUST_PROXY: flags.trustProxy ? 'true' : undefined,
  });
  const log = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY });
  const server = await startServer(config, log, { demo: flags.demo ?? false });
  installShutdown(server, log);
});

engineOptions(
  program
    .command('migrate')
    .description('apply pending Postgres and ClickHouse migrations, or list them with --status')
    .option('--status', 'list every migration and whether it is applied, without applying anything'),
).action(async (flags: EngineFlags & { status?: boolean }) => {
  const config = loadConfig(process.env, overridesFrom(flags));
  const log = createLogger({ level: flags.logLevel ?? 'warn', pretty: process.stdout.isTTY });
  const engines = await openEngines(config, log);
  try {
    if (!flags.status) {
      const report = await migrateAll(engines, config, log);
      printTable(
        ['engine', 'version', 'name', 'result'],
        [
          ...report.postgres.map((r) => ['postgres', String(r.version), r.name, r.status]),
          ...report.clickhouse.map((r) => ['clickhouse', String(r.version), r.name, r.status + (r.reason ? ` (${r.reason})` : '')]),
        ],
      );
    }
    const status = await migrationStatus(engines);
    const rows = [
      ...status.postgres.map((s) => ['postgres', String(s.version), s.name, s.status]),
      ...status.clickhouse.map((s) => ['clickhouse', String(s.version), s.name, s.status]),
    ];
    if (flags.status) printTable(['engine', 'version', 'name', 'status'], rows);
    const pending = rows.filter((r) => r[3] !== 'applied' && r[3] !== 'skipped');
    if (pending.length > 0) {
      console.error(`${pending.length} migration(s) not applied`);
      process.exitCode = 1;
    }
  } finally {
    await engines.close();
  }
});

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
