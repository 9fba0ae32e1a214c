import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAuthenticator } from './auth/authenticate.ts';
import { bundledCountryDatabase, openGeoIp } from './auth/geoip.ts';
import { operatorAuthenticator } from './auth/operator.ts';
import { activeKeyHashes, findProject } from './auth/projects.ts';
import { authRoutes } from './auth/routes.ts';
import { isSessionActive } from './auth/sessions.ts';
import { createTokenIssuer, loadOrCreateSigningKey } from './auth/tokens.ts';
import type { Config } from './config.ts';
import { demoPageAssets, SDK_DIST, sdkAssets } from './demo-page.ts';
import { ensureDemoProject } from './demo-project.ts';
import { migrateAll, migrationStatus, openEngines, type Engines } from './engines.ts';
import { buildApp } from './http/app.ts';
import { createRateLimiter } from './http/rate-limit.ts';
import type { RouteSpec } from './http/route.ts';
import { createGroupCommitWriter, type GroupCommitWriter } from './ingest/group-commit-writer.ts';
import { ingestRoutes } from './ingest/routes.ts';
import { loadOrCreateAdminSecret } from './instance-secret.ts';
import { verifyServerAccessControl } from './query/access-control.ts';
import { queryRoutes } from './query/routes.ts';
import { createQueryRunner } from './query/runner.ts';
import { savedQueryRoutes } from './query/saved-queries-routes.ts';
import { openStatementClassifier, type StatementClassifier } from './query/statement-classifier.ts';
import { embeddedTenantReader, serverTenantReader, type TenantReader } from './query/tenant-reader.ts';
import { createOpenReplayLookup } from './replay/open-replay-cache.ts';
import { scheduleReplayRetention } from './replay/retention.ts';
import { replayRoutes } from './replay/routes.ts';
import { syncRoutes } from './sync/routes.ts';
import { createSyncScheduler, type SyncScheduler } from './sync/scheduler.ts';

export const VERSION = '0.1.0';

export type Server = {
  app: FastifyInstance;
  engines: Engines;
  adminSecret: string;
  /** The address the server listens on, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** Stops accepting, finishes in-flight requests, then closes both engines. */
  close(): Promise<void>;
};

export type StartOptions = {
  /** Listen on the configured port (default); false only builds the app (tests use inject). */
  listen?: boolean;
  /** Create a demo project on first start and print its keys. */
  demo?: boolean;
  /** The clock, injectable for token-expiry tests. */
  now?: () => number;
  /** Embedded chDB directory when not `<dataDir>/clickhouse` (tests share one per process). */
  clickhouseDataDir?: string;
  /** Run the users sync in the background (default); false leaves it to explicit runs. */
  backgroundSync?: boolean;
};

/**
 * The composition root: config -> engines -> migrations -> routes -> listen.
 *
 * @example
 * const server = await startServer(loadConfig(), createLogger({ level: 'info' }));
 * await server.close();
 */
export async function startServer(config: Config, log: Logger, options: StartOptions = {}): Promise<Server> {
  const started = performance.now();
  const engines = await openEngines(config, log, { clickhouseDataDir: options.clickhouseDataDir });
  let app: FastifyInstance | undefined;
  let writer: GroupCommitWriter | undefined;
  let classifier: StatementClassifier | undefined;
  let sync: SyncScheduler | undefined;
  let stopRetention: (() => void) | undefined;
  try {
    const report = await migrateAll(engines, config, log);
    const applied = [...report.postgres, ...report.clickhouse].filter((r) => r.status === 'applied').length;
    log.info({ applied }, 'migrations done');

    const admin = loadOrCreateAdminSecret(config.dataDir, config.adminSecret);
    if (admin.created) {
      // Printed once, on the start that generated it; it stays in the data directory.
      log.warn({ file: admin.file }, 'generated the operator secret (SIGHTLINE_ADMIN_SECRET); it is shown only this once');
      process.stdout.write(`\n  Operator secret: ${admin.secret}\n  (stored in ${admin.file})\n\n`);
    }

    const now = options.now ?? Date.now;
    const tokens = createTokenIssuer({ key: await loadOrCreateSigningKey(config.dataDir), issuer: 'sightline', now });
    const authenticator = createAuthenticator({
      tokens,
      now,
      loadProject: async (projectId) => {
        const project = await findProject(engines.postgres, projectId);
        if (!project) return undefined;
        return { keyHashes: await activeKeyHashes(engines.postgres, projectId), analyticsEnabled: project.analyticsEnabled };
      },
      isSessionActive: (tenancy, refreshTokenId) =>
        isSessionActive(engines.postgres, tenancy, refreshTokenId, new Date(now())),
    });
    const geoip = await openGeoIp(config.geoipDb ?? bundledCountryDatabase());
    const events = createGroupCommitWriter(engines.clickhouse.dedicated(), log, {
      maxRows: config.ingest.flushRows,
      maxWaitMs: config.ingest.flushMs,
      maxQueuedRows: config.ingest.maxQueuedRows,
      connections: config.ingest.connections,
      now,
    });
    const seeded = await events.seed();
    log.info({ batches: seeded }, 'ingestion dedup window loaded');
    writer = events;

    stopRetention = scheduleReplayRetention(engines, config.replayRetentionDays, log);
    sync = createSyncScheduler(engines.postgres, engines.clickhouse, log, config.sync);
    if (options.backgroundSync !== false) await sync.start();

    const reader = await openTenantReader(config, engines);
    classifier = openStatementClassifier(engines.clickhouseDataDir);
    const drift = engines.clickhouse.capabilities.accessControl ? await verifyServerAccessControl(engines.clickhouse) : [];
    if (drift.length > 0) log.error({ drift }, 'ClickHouse access control drifted: tenant queries are refused');
    const runner = createQueryRunner({
      reader,
      classifier,
      log,
      development: config.nodeEnv !== 'production',
      perProjectConcurrency: config.query.perProjectConcurrency,
      serverConcurrency: config.query.serverConcurrency,
      disabledReason: drift.length > 0 ? `ClickHouse access control drifted (${drift.join('; ')})` : undefined,
    });

    const routes: RouteSpec<any, any, any, any>[] = [
      ...authRoutes({ postgres: engines.postgres, tokens, authenticator, geoip, events, log, now }),
      ...ingestRoutes({
        events,
        postgres: engines.postgres,
        rateLimiter: createRateLimiter({ ratePerSecond: config.ingest.rateLimit }),
        openReplayOf: createOpenReplayLookup(engines.postgres),
        now,
      }),
      ...replayRoutes({ postgres: engines.postgres, clickhouse: engines.clickhouse, now }),
      ...queryRoutes({ runner }),
      ...syncRoutes({ postgres: engines.postgres, clickhouse: engines.clickhouse, scheduler: sync }),
      ...savedQueryRoutes({ postgres: engines.postgres }),
    ];
    const demo = options.demo ? await ensureDemoProject(engines.postgres, config.dataDir, log) : undefined;
    app = await buildApp({
      logger: log,
      routes,
      authenticate: authenticator.authenticate,
      authenticateOperator: operatorAuthenticator(admin.secret),
      trustProxy: config.trustProxy,
      version: VERSION,
      ready: () => readiness(engines),
      assets: [...sdkAssets(SDK_DIST), ...(demo ? demoPageAssets(demo) : [])],
    });
    let url = `http://${config.host}:${config.port}`;
    if (options.listen !== false) {
      url = await app.listen({ port: config.port, host: config.host });
      // CLI commands find the running server here (see `sightline query`).
      engines.dataDirLock?.update({ url });
    } else {
      await app.ready();
    }
    log.info({ url, startup_ms: Math.round(performance.now() - started) }, 'Sightline is ready');
    const server: Server = {
      app,
      engines,
      adminSecret: admin.secret,
      url,
      close: async () => {
        await server.app.close();
        stopRetention?.();
        await sync?.stop();
        await events.close();
        await reader.close();
        classifier?.close();
        await engines.close();
      },
    };
    return server;
  } catch (error) {
    await app?.close().catch(() => undefined);
    stopRetention?.();
    await sync?.stop().catch(() => undefined);
    await writer?.close().catch(() => undefined);
    classifier?.close();
    await engines.close();
    throw error;
  }
}

/** Tenant queries run on a reader of their own: engine arguments (chDB) or limited_user (server). */
async function openTenantReader(config: Config, engines: Engines): Promise<TenantReader> {
  if (engines.clickhouseDataDir) return embeddedTenantReader(engines.clickhouseDataDir);
  if (!config.clickhouse.url || !config.clickhouse.limitedPassword) {
    throw new Error('CLICKHOUSE_URL and CLICKHOUSE_LIMITED_PASSWORD are required for tenant queries on a server');
  }
  return serverTenantReader({ url: config.clickhouse.url, limitedPassword: config.clickhouse.limitedPassword });
}

async function readiness(engines: Engines) {
  const checks: Record<string, string> = {};
  const probe = async (name: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      checks[name] = 'ok';
    } catch (error) {
      checks[name] = error instanceof Error ? error.message.split('\n')[0] ?? 'error' : 'error';
    }
  };
  await Promise.all([
    probe('clickhouse', () => engines.clickhouse.query({ name: 'ready.ping', sql: 'SELECT 1 AS ok' })),
    probe('postgres', () => engines.postgres.execute('SELECT 1 AS ok')),
    probe('migrations', async () => {
      const status = await migrationStatus(engines);
      const pending = [...status.postgres, ...status.clickhouse].filter((m) => m.status !== 'applied' && m.status !== 'skipped');
      if (pending.length > 0) throw new Error(`not applied: ${pending.map((m) => m.name).join(', ')}`);
    }),
  ]);
  return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
}

/**
 * Stops the server cleanly on SIGTERM/SIGINT: in-flight requests finish,
 * engines close (a second signal exits at once).
 */
export function installShutdown(server: Server, log: Logger): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    server
      .close()
      .then(() => {
        log.info('stopped cleanly');
        process.exit(0);
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'error while stopping');
        process.exit(1);
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
