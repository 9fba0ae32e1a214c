import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema.ts';
import { INT8_ARRAY_OID, INT8_OID, parseInt8 } from './int8.ts';
import { keyedMutex } from './keyed-mutex.ts';

export type PostgresTarget = { kind: 'pglite'; dataDir: string } | { kind: 'pg'; url: string };

/** Drizzle over either driver, typed with Sightline's schema. */
export type SightlineDatabase = PgDatabase<PgQueryResultHKT, typeof schema>;

/** What both a connection and a transaction offer. */
export interface PostgresQueries {
  readonly db: SightlineDatabase;
  /** One parameterised statement (`$1`, `$2`…); int8 values come back as `number`. */
  execute<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Several statements without parameters (migration files). */
  executeScript(sql: string): Promise<void>;
}

export interface Postgres extends PostgresQueries {
  readonly kind: PostgresTarget['kind'];
  /** Commits when `fn` resolves, rolls back when it throws. Nested: use `tx.db.transaction` (savepoints). */
  transaction<T>(fn: (tx: PostgresQueries) => Promise<T>): Promise<T>;
  /** Runs `fn` while holding a lock on `key` that excludes every server sharing the database. */
  withAdvisoryLock<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Calls `onNotify` for every `NOTIFY` on `channel` (a plain identifier) until
   * the returned function is called. Delivery is best effort: a lost
   * connection reconnects, and notifications in between are missed.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export type OpenPostgresOptions = {
  /** `pg` pool size; default 10. */
  poolSize?: number;
  /** Errors of idle pooled connections (the pool drops them); default: ignored. */
  onIdleConnectionError?: (error: Error) => void;
};

/** The subset of both drivers' clients that raw SQL needs. */
type Queryable = {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
};

/**
 * Opens Sightline's system of record: embedded PGlite or a PostgreSQL server.
 *
 * @example
 * const pg = await openPostgres({ kind: 'pglite', dataDir: './.sightline/postgres' });
 * const [row] = await pg.execute<{ n: number }>('SELECT count(*) AS n FROM projects');
 */
export async function openPostgres(target: PostgresTarget, options: OpenPostgresOptions = {}): Promise<Postgres> {
  return target.kind === 'pglite' ? openPglite(target.dataDir) : openNodePg(target.url, options);
}

async function openPglite(dataDir: string): Promise<Postgres> {
  mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create({
    dataDir,
    parsers: {
      [INT8_OID]: (text: string) => parseInt8(text),
      [INT8_ARRAY_OID]: (text: string) => parseInt8Array(text),
    },
  });
  const db = drizzlePglite({ client, schema }) satisfies SightlineDatabase;
  // PGlite is one session: transaction() and every top-level query wait on one
  // mutex, so transactions run one after another. Calling the outer handle from
  // inside a transaction would wait for itself; fail loudly instead of hanging.
  const insideTransaction = new AsyncLocalStorage<true>();
  const outside = <T>(run: () => Promise<T>): Promise<T> => {
    if (insideTransaction.getStore()) {
      throw new Error('PGlite is a single connection: inside transaction() use tx.execute / tx.db, not the outer handle');
    }
    return run();
  };
  const withLock = keyedMutex();
  let closed = false;
  return {
    kind: 'pglite',
    db,
    execute: (sql, params) => outside(() => executeOn(client, sql, params)),
    executeScript: (sql) => outside(async () => void (await client.exec(sql))),
    transaction: (fn) =>
      outside(() => db.transaction((dtx) => insideTransaction.run(true, () => fn(transactionQueries(dtx))))),
    withAdvisoryLock: (key, fn) => withLock(key, fn),
    listen: async (channel, onNotify) => {
      const unlisten = await client.listen(assertChannel(channel), () => onNotify());
      return async () => {
        if (!closed) await unlisten();
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}

async function openNodePg(url: string, options: OpenPostgresOptions): Promise<Postgres> {
  const types: pg.CustomTypesConfig = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
      if (oid === INT8_OID) return parseInt8;
      if (oid === INT8_ARRAY_OID) return parseInt8Array;
      return pg.types.getTypeParser(oid, format ?? 'text');
    }) as pg.CustomTypesConfig['getTypeParser'],
  };
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10, types });
  // Without a listener an idle connection dropped by the server crashes the process.
  pool.on('error', (error) => options.onIdleConnectionError?.(error));
  try {
    await pool.query('SELECT 1'); // fail at start-up, not at the first request
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  const db = drizzleNodePg({ client: pool, schema }) satisfies SightlineDatabase;
  let closed = false;
  return {
    kind: 'pg',
    db,
    execute: (sql, params) => executeOn(pool, sql, params),
    executeScript: async (sql) => void (await pool.query(sql)),
    transaction: (fn) => db.transaction((dtx) => fn(transactionQueries(dtx))),
    withAdvisoryLock: (key, fn) => withSessionAdvisoryLock(url, types, key, fn),
    listen: (channel, onNotify) => listenOn(url, assertChannel(channel), onNotify),
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

function assertChannel(channel: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid notification channel ${JSON.stringify(channel)}`);
  return channel;
}

/** LISTEN on a connection of its own, reconnecting after a second when it drops. */
async function listenOn(url: string, channel: string, onNotify: () => void): Promise<() => Promise<void>> {
  let stopped = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url });
    next.on('notification', (message) => {
      if (message.channel === channel) onNotify();
    });
    next.on('error', () => {
      next.end().catch(() => undefined);
      if (!stopped) retry = setTimeout(() => void connect().catch(() => undefined), 1000);
    });
    await next.connect();
    await next.query(`LISTEN ${channel}`);
    client = next;
    onNotify(); // whatever happened while not listening is picked up now
  };
  await connect();
  return async () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    await client?.end().catch(() => undefined);
  };
}

/**
 * Session-level lock on its own connection, outside the pool, so a waiter never
 * holds a pooled connection that `fn` needs.
 */
async function withSessionAdvisoryLock<T>(
  url: string,
  types: pg.CustomTypesConfig,
  key: string,
  fn: () => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url, types });
  let lost: Error | undefined;
  client.on('error', (error) => (lost = error));
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
    const result = await fn();
    // A dropped lock connection means another server may have run alongside us.
    if (lost) throw new Error(`advisory lock "${key}" was lost during the critical section: ${lost.message}`);
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
    await client.end().catch(() => undefined); // closing the session releases the lock too
  }
}

/**
 * Drizzle's transaction object runs on one client (a pooled connection, or
 * PGlite's transaction handle); raw SQL in the transaction must use that same
 * client. Drizzle keeps it at `session.client` (checked here, and by the tests).
 */
function transactionQueries(dtx: unknown): PostgresQueries {
  const client = (dtx as { session?: { client?: Partial<Queryable> & { exec?: unknown } } }).session?.client;
  if (!client || typeof client.query !== 'function') {
    throw new Error('drizzle transaction no longer exposes session.client; update storage/postgres/db.ts');
  }
  const queryable = client as Queryable;
  const runScript =
    typeof client.exec === 'function'
      ? (sql: string) => (client.exec as (sql: string) => Promise<unknown>).call(client, sql) // PGlite: multi-statement
      : (sql: string) => queryable.query(sql); // pg: no parameters = simple protocol
  return {
    db: dtx as SightlineDatabase,
    execute: (sql, params) => executeOn(queryable, sql, params),
    executeScript: async (sql) => void (await runScript(sql)),
  };
}

async function executeOn<T>(client: Queryable, sql: string, params: unknown[] = []): Promise<T[]> {
  const result = await client.query(sql, params);
  return result.rows as T[];
}

type ArrayParser = { create(text: string, transform: (item: string) => unknown): { parse(): unknown[] } };
// pg-types ships postgres-array's parser (NULL-aware, nested arrays); @types/pg omits it.
const arrayParser = (pg.types as unknown as { arrayParser: ArrayParser }).arrayParser;

function parseInt8Array(text: string): unknown[] {
  return arrayParser.create(text, parseInt8).parse();
}
