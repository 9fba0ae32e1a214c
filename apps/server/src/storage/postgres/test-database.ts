import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Test-only: the server tests connect to. Tests may read the environment; the service may not. */
export const defaultTestPostgresUrl = 'postgres://postgres@127.0.0.1:5432/postgres';

export type TestPostgresServer =
  | { adminUrl: string; available: true }
  | { adminUrl: string; available: false; reason: string; /** CI is set: unreachable is a failure. */ mustFail: boolean };

/**
 * Finds the PostgreSQL server for tests (`SIGHTLINE_TEST_POSTGRES_URL`, else a
 * local default) and says why not when it is unreachable.
 *
 * @example
 * const server = await findTestPostgresServer();
 * describe('pg', { skip: server.available ? false : server.reason }, () => {});
 */
export async function findTestPostgresServer(env: NodeJS.ProcessEnv = process.env): Promise<TestPostgresServer> {
  const adminUrl = env.SIGHTLINE_TEST_POSTGRES_URL || defaultTestPostgresUrl;
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { adminUrl, available: true };
  } catch (error) {
    const reason = `PostgreSQL unreachable at ${redact(adminUrl)}: ${(error as Error).message} (set SIGHTLINE_TEST_POSTGRES_URL)`;
    return { adminUrl, available: false, reason, mustFail: Boolean(env.CI) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates an empty database `sightline_test_<random>` on the server and
 * returns its URL; `drop()` removes it even if connections are still open.
 *
 * @example
 * const database = await createTestDatabase(server.adminUrl);
 * try { … openPostgres({ kind: 'pg', url: database.url }) … } finally { await database.drop(); }
 */
export async function createTestDatabase(adminUrl: string): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `sightline_test_${randomBytes(6).toString('hex')}`;
  await onAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => onAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

async function onAdmin(adminUrl: string, run: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await run(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}
