#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type ConfigOverrides } from './config.ts';
import { DataDirInUseError } from './data-dir-lock.ts';
import { migrateAll, migrationStatus, openEngines } from './engines.ts';
import { createLogger } from './logger.ts';
import { installShutdown, startServer, VERSION } from './main.ts';
import { printTable } from './cli-table.ts';
import { openOperatorClient, type OperatorResponse } from './operator-client.ts';
import { SingleBar, Presets } from 'cli-progress';

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
  const config = loadConfig({
    ...overridesFrom(flags),
    PORT: flags.port,
    HOST: flags.host,
    SIGHTLINE_ADMIN_SECRET: flags.adminSecret,
    SIGHTLINE_TRUST_PROXY: flags.trustProxy ? 'true' : undefined,
  });
  const log = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY });
  const server = await startServer(config, log, { demo: flags.demo ?? false });
  if (flags.demo) process.stdout.write(`\n  Demo page: ${server.url}/demo  (the events it sends: see the query printed on the page)\n\n`);
  installShutdown(server, log);
});

engineOptions(
  program
    .command('migrate')
    .description('apply pending Postgres and ClickHouse migrations, or list them with --status')
    .option('--status', 'list every migration and whether it is applied, without applying anything'),
).action(async (flags: EngineFlags & { status?: boolean }) => {
  const config = loadConfig(overridesFrom(flags));
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

/** Prints a known error's envelope and sets a failing exit code; true when the call succeeded. */
function succeeded(response: OperatorResponse): boolean {
  if (response.status < 300) return true;
  const body = response.body as { code?: string; error?: string } | undefined;
  console.error(`error ${response.status}${body?.code ? ` ${body.code}` : ''}: ${body?.error ?? JSON.stringify(body)}`);
  process.exitCode = 1;
  return false;
}

const project = program.command('project').description('manage projects (instance operator)');
engineOptions(
  project
    .command('create')
    .description('create a project and print its id and keys (shown once)')
    .option('--name <name>', 'display name', 'Untitled project')
    .option('--analytics', 'turn analytics on'),
).action(async (flags: EngineFlags & { name: string; analytics?: boolean }) => {
  const client = await openOperatorClient(loadConfig(overridesFrom(flags)));
  try {
    const response = await client.request('POST', '/api/v1/internal/projects', {
      display_name: flags.name,
      analytics: { enabled: flags.analytics ?? false },
    });
    if (succeeded(response)) console.log(JSON.stringify(response.body, null, 2));
  } finally {
    await client.close();
  }
});

engineOptions(
  program
    .command('query')
    .description("run SQL over one project's analytics (the tables events and users) and print a table")
    .argument('<sql>', 'a ClickHouse SELECT, e.g. "SELECT event_type, count() FROM events GROUP BY event_type"')
    .requiredOption('--project <id>', 'project id')
    .option('--branch <id>', 'branch id', 'main')
    .option('--param <name=value...>', 'query parameter for a {name:Type} placeholder (repeatable)')
    .option('--timeout-ms <ms>', 'timeout in milliseconds (1000-120000)', '10000')
    .option('--json', 'print the raw JSON response instead of a table'),
).action(
  async (
    sql: string,
    flags: EngineFlags & { project: string; branch: string; param?: string[]; timeoutMs: string; json?: boolean },
  ) => {
    const params = Object.fromEntries(
      (flags.param ?? []).map((pair) => {
        const at = pair.indexOf('=');
        if (at <= 0) throw new Error(`--param expects name=value, got ${JSON.stringify(pair)}`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
    );
    const client = await openOperatorClient(loadConfig(overridesFrom(flags)));
    try {
      const response = await client.request('POST', `/api/v1/internal/operator/projects/${encodeURIComponent(flags.project)}/query`, {
        query: sql,
        branch_id: flags.branch,
        timeout_ms: Number(flags.timeoutMs),
        ...(Object.keys(params).length > 0 ? { params } : {}),
      });
      if (!succeeded(response)) return;
      const body = response.body as { result: Record<string, unknown>[]; stats: { read_rows: number; elapsed_ms: number } };
      if (flags.json) {
        console.log(JSON.stringify(body, null, 2));
        return;
      }
      const columns = [...new Set(body.result.flatMap((row) => Object.keys(row)))];
      const cell = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value) ?? '');
      printTable(columns, body.result.map((row) => columns.map((c) => cell(row[c]))));
      console.log(`read ${body.stats.read_rows} rows in ${body.stats.elapsed_ms} ms (${client.target})`);
    } finally {
      await client.close();
    }
  },
);

const sync = program.command('sync').description('the users mirror from Postgres to ClickHouse');
engineOptions(sync.command('run').description('sequence and mirror every pending change now, then print what was done')).action(
  async (flags: EngineFlags) => {
    const client = await openOperatorClient(loadConfig(overridesFrom(flags)));
    try {
      const response = await client.request('POST', '/api/v1/internal/operator/sync/run');
      if (succeeded(response)) console.log(JSON.stringify(response.body));
    } finally {
      await client.close();
    }
  },
);

type VerifyPage = {
  checked: number;
  total: number;
  next_cursor: string | null;
  differences: { id: string; kind: string; fields?: { field: string; postgres: unknown; clickhouse: unknown }[] }[];
};

engineOptions(
  program
    .command('verify')
    .description('compare users in Postgres and ClickHouse row by row; exit 1 on any difference')
    .option('--project <id>', 'only this project (default: every project)')
    .option('--branch <id>', 'branch id (with --project)', 'main')
    .option('--page-size <n>', 'users compared per request', '1000'),
).action(async (flags: EngineFlags & { project?: string; branch: string; pageSize: string }) => {
  const client = await openOperatorClient(loadConfig(overridesFrom(flags)));
  let differences = 0;
  try {
    let tenancies: { project_id: string; branch_id: string }[];
    if (flags.project) tenancies = [{ project_id: flags.project, branch_id: flags.branch }];
    else {
      const response = await client.request('GET', '/api/v1/internal/operator/sync/tenancies');
      if (!succeeded(response)) return;
      tenancies = (response.body as { tenancies: typeof tenancies }).tenancies;
    }
    for (const tenancy of tenancies) {
      const bar = new SingleBar({ format: `${tenancy.project_id}/${tenancy.branch_id} [{bar}] {value}/{total} users`, stream: process.stderr }, Presets.shades_classic);
      let cursor: string | null = null;
      let checked = 0;
      do {
        const query = new URLSearchParams({ branch_id: tenancy.branch_id, limit: flags.pageSize, ...(cursor ? { cursor } : {}) });
        const response = await client.request('GET', `/api/v1/internal/operator/projects/${tenancy.project_id}/sync/verify?${query}`);
        if (!succeeded(response)) return;
        const page = response.body as VerifyPage;
        if (checked === 0) bar.start(page.total, 0);
        checked += page.checked;
        bar.update(checked);
        for (const difference of page.differences) {
          differences++;
          bar.stop();
          const fields = difference.fields?.map((f) => `${f.field}: postgres=${JSON.stringify(f.postgres)} clickhouse=${JSON.stringify(f.clickhouse)}`);
          console.log(`${tenancy.project_id}/${tenancy.branch_id} user ${difference.id}: ${difference.kind}${fields ? ` (${fields.join('; ')})` : ''}`);
        }
        cursor = page.next_cursor;
      } while (cursor);
      bar.stop();
    }
    console.log(differences === 0 ? `verified ${tenancies.length} tenancies: no differences` : `${differences} difference(s)`);
    if (differences > 0) process.exitCode = 1;
  } finally {
    await client.close();
  }
});

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataDirInUseError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
