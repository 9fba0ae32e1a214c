import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { HEADERS, type AccessType } from '@sightline/protocol';
import { loadConfig, type ConfigOverrides } from '../config.ts';
import { startServer, type Server } from '../main.ts';
import { createTestDatabase, findTestPostgresServer } from '../storage/postgres/test-database.ts';

export type PostgresKind = 'pglite' | 'pg';

/** One chDB data directory per test process (chDB binds one path per process). */
const processDir = mkdtempSync(path.join(tmpdir(), 'sightline-test-'));
process.on('exit', () => rmSync(processDir, { recursive: true, force: true }));

export type TestProject = {
  projectId: string;
  keys: { publishable_client_key: string; secret_server_key: string; super_secret_admin_key: string };
  /** Headers of a caller with this access type (and optionally a user's access token). */
  headers(accessType: AccessType, extra?: { accessToken?: string; branchId?: string }): Record<string, string>;
};

export type TestServer = {
  server: Server;
  request(options: InjectOptions): Promise<LightMyRequestResponse>;
  createProject(options?: { analytics?: boolean; displayName?: string }): Promise<TestProject>;
  /** Creates a user and a session in the project; returns ids and tokens. */
  signIn(project: TestProject, user?: Record<string, unknown>): Promise<{ userId: string; accessToken: string; refreshToken: string }>;
};

export type TestServerOptions = { now?: () => number; env?: ConfigOverrides };

/**
 * Registers a suite that runs against a real server (embedded chDB, and PGlite
 * or the PostgreSQL server in a fresh database). The PostgreSQL variant is
 * skipped with a printed reason when no server is reachable, and fails under CI.
 *
 * @example
 * describeWithServer('users', 'pglite', {}, (t) => { test('…', async () => { await t().request(…) }) });
 */
export function describeWithServer(
  name: string,
  kind: PostgresKind,
  options: TestServerOptions,
  suite: (server: () => TestServer) => void,
): void {
  describe(`${name} [${kind === 'pg' ? 'PostgreSQL server' : 'PGlite'}]`, () => {
    let current: TestServer | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    let unavailable: string | undefined;

    before(async () => {
      const started = await startTestServer(kind, options);
      if ('skip' in started) {
        unavailable = started.skip;
        return;
      }
      current = started.server;
      cleanup = started.close;
    });
    after(async () => cleanup?.());

    test('server started', (t) => {
      if (unavailable && !process.env.CI) {
        console.log(`# skipped: ${unavailable}`);
        t.skip(unavailable);
        return;
      }
      assert.ok(current, unavailable ?? 'server did not start');
    });
    suite(() => {
      if (!current) throw new Error(unavailable ?? 'server did not start');
      return current;
    });
  });
}

async function startTestServer(
  kind: PostgresKind,
  options: TestServerOptions,
): Promise<{ server: TestServer; close: () => Promise<void> } | { skip: string }> {
  const dataDir = mkdtempSync(path.join(processDir, `${kind}-`));
  let databaseUrl: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  if (kind === 'pg') {
    const pgServer = await findTestPostgresServer();
    if (!pgServer.available) return { skip: pgServer.reason };
    const database = await createTestDatabase(pgServer.adminUrl);
    databaseUrl = database.url;
    drop = database.drop;
  }
  const config = loadConfig(
    {
      SIGHTLINE_DATA_DIR: dataDir,
      SIGHTLINE_ADMIN_SECRET: 'test-operator-secret-0123456789',
      DATABASE_URL: databaseUrl,
      NODE_ENV: 'test',
      ...options.env,
    },
    {},
  );
  // chDB keeps one data path per process: every server of this process shares it.
  const clickhouseDir = path.join(processDir, 'clickhouse');
  const server = await startServer(
    { ...config, dataDir },
    pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    { listen: false, ...(options.now ? { now: options.now } : {}), clickhouseDataDir: clickhouseDir },
  );
  const request = (injectOptions: InjectOptions) => server.app.inject(injectOptions);

  const createProject: TestServer['createProject'] = async (projectOptions = {}) => {
    const created = await request({
      method: 'POST',
      url: '/api/v1/internal/projects',
      headers: { authorization: `Bearer ${server.adminSecret}` },
      payload: {
        display_name: projectOptions.displayName ?? 'Test project',
        analytics: { enabled: projectOptions.analytics ?? true },
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    const { project_id: projectId, ...keys } = created.json();
    const keyHeader = {
      client: [HEADERS.publishableClientKey, keys.publishable_client_key],
      server: [HEADERS.secretServerKey, keys.secret_server_key],
      admin: [HEADERS.superSecretAdminKey, keys.super_secret_admin_key],
    } as const;
    return {
      projectId,
      keys,
      headers(accessType, extra = {}) {
        const [header, key] = keyHeader[accessType];
        return {
          [HEADERS.projectId]: projectId,
          [HEADERS.accessType]: accessType,
          [header]: key,
          ...(extra.branchId ? { [HEADERS.branchId]: extra.branchId } : {}),
          ...(extra.accessToken ? { [HEADERS.accessToken]: extra.accessToken } : {}),
        };
      },
    };
  };

  const signIn: TestServer['signIn'] = async (project, user = {}) => {
    const created = await request({ method: 'POST', url: '/api/v1/users', headers: project.headers('server'), payload: user });
    assert.equal(created.statusCode, 201, created.body);
    const userId = created.json().id as string;
    const session = await request({
      method: 'POST',
      url: '/api/v1/auth/sessions',
      headers: project.headers('server'),
      payload: { user_id: userId },
    });
    assert.equal(session.statusCode, 200, session.body);
    return { userId, accessToken: session.json().access_token, refreshToken: session.json().refresh_token };
  };

  return {
    server: { server, request, createProject, signIn },
    close: async () => {
      await server.close();
      await drop?.();
    },
  };
}
