import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { migrateAll, openEngines, type Engines } from './engines.ts';
import { buildApp } from './http/app.ts';
import type { RouteSpec } from './http/route.ts';
import { loadOrCreateAdminSecret } from './instance-secret.ts';

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
  const engines = await openEngines(config, log);
  let app: FastifyInstance | undefined;
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

    const routes: RouteSpec<any, any, any, any>[] = [];
    app = await buildApp({
      logger: log,
      routes,
      trustProxy: config.trustProxy,
      version: VERSION,
      ready: () => readiness(engines),
    });
    let url = `http://${config.host}:${config.port}`;
    if (options.listen !== false) {
      url = await app.listen({ port: config.port, host: config.host });
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
        await engines.close();
      },
    };
    return server;
  } catch (error) {
    await app?.close().catch(() => undefined);
    await engines.close();
    throw error;
  }
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
