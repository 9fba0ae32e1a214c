import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createClient, ClickHouseError, type ClickHouseClient } from '@clickhouse/client';
import type { z } from 'zod';
import { renderSettings, type Settings } from './settings.ts';

/** What differs between engines, decided once when the engine opens. */
export type ClickHouseCapabilities = Readonly<{
  /** Users, row policies and grants exist (a ClickHouse server). */
  accessControl: boolean;
  /** DDL must carry `ON CLUSTER` and use Replicated engines. */
  onCluster: boolean;
  /** The engine runs inside this process (chDB); the data directory is ours. */
  embedded: boolean;
}>;

export type ClickHouseTarget =
  | { kind: 'embedded'; dataDir: string; connections?: number }
  | { kind: 'server'; url: string; user: string; password: string; cluster?: string | undefined };

type Params = Record<string, unknown>;
type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;

/** A client, and the engine's zero-copy insert where it has one (embedded chDB). */
type Connected = {
  client: ClickHouseClient;
  rawInsert?: (table: string, body: Buffer, settings: Settings) => Promise<void>;
};

export type QueryRequest<T> = {
  /** A stable name for logs and `log_comment`. */
  name: string;
  sql: string;
  params?: Params;
  settings?: Settings;
  /** Decodes each row at the boundary. */
  row?: z.ZodType<T>;
};

export type CommandRequest = { name: string; sql: string; params?: Params; settings?: Settings };

export type InsertRequest = {
  name: string;
  table: string;
  /** Row objects, or JSONEachRow bytes (one JSON object per line). */
  values: readonly Record<string, unknown>[] | Buffer;
  settings?: Settings;
};

/**
 * The subset of ClickHouse that Sightline uses. Embedded chDB and a server
 * differ only in the connection handed to `@clickhouse/client`.
 */
export interface ClickHouse {
  readonly capabilities: ClickHouseCapabilities;
  readonly cluster: string | undefined;
  query<T = Record<string, unknown>>(request: QueryRequest<T>): Promise<T[]>;
  command(request: CommandRequest): Promise<void>;
  insert(request: InsertRequest): Promise<void>;
  /**
   * A connection of its own for a long-lived single user (the group-commit
   * writer): an embedded connection runs one operation at a time.
   */
  dedicated(): ClickHouse;
  close(): Promise<void>;
}

/** A ClickHouse error with its numeric code (e.g. 62 for a syntax error). */
export class ClickHouseQueryError extends Error {
  override name = 'ClickHouseQueryError';
  constructor(
    readonly queryName: string,
    readonly code: number,
    readonly type: string | undefined,
    message: string,
    options?: { cause: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Opens ClickHouse: embedded chDB when `target.kind` is `embedded`, else a server.
 *
 * @example
 * const ch = await openClickHouse({ kind: 'embedded', dataDir: './.sightline/clickhouse' });
 * const rows = await ch.query({ name: 'one', sql: 'SELECT {n:UInt8} AS n', params: { n: 1 } });
 */
export async function openClickHouse(target: ClickHouseTarget): Promise<ClickHouse> {
  if (target.kind === 'embedded') {
    mkdirSync(target.dataDir, { recursive: true });
    const { createChdbConnection } = await import('chdb/connection');
    const dataDir = path.resolve(target.dataDir);
    // chDB implements the Connection contract of the separately published
    // @clickhouse/client-common, which @clickhouse/client bundles its own copy of:
    // the shapes are identical, the declarations are not.
    const connect = (): Connected => {
      const connection = createChdbConnection({ path: dataDir });
      return {
        client: createClient({ connection: connection as unknown as ClientConnection }),
        // chDB's raw insert hands the bytes to the engine as they are; the generic
        // client path turns them into a string and back (a third of the writer's CPU).
        rawInsert: async (table, body, settings) => {
          await connection.chdb.rawInsert({ table, values: body, format: 'JSONEachRow', settings: { ...settings } });
        },
      };
    };
    return new PooledClickHouse(
      { accessControl: false, onCluster: false, embedded: true },
      undefined,
      connect,
      target.connections ?? 4,
    );
  }
  const connect = (): Connected => ({
    client: createClient({
      url: target.url,
      username: target.user,
      password: target.password,
      max_open_connections: 32,
      request_timeout: 300_000,
    }),
  });
  return new PooledClickHouse(
    { accessControl: true, onCluster: target.cluster !== undefined, embedded: false },
    target.cluster,
    connect,
    1,
  );
}

/**
 * Spreads operations over a few clients: each embedded connection runs one
 * operation at a time, while one server client already pools HTTP sockets.
 */
class PooledClickHouse implements ClickHouse {
  readonly #clients: (Connected & { busy: number })[] = [];
  readonly #children: ClickHouse[] = [];
  #closed = false;

  constructor(
    readonly capabilities: ClickHouseCapabilities,
    readonly cluster: string | undefined,
    private readonly connect: () => Connected,
    size: number,
  ) {
    for (let i = 0; i < Math.max(1, size); i++) this.#clients.push({ ...connect(), busy: 0 });
  }

  async query<T>(request: QueryRequest<T>): Promise<T[]> {
    const rows = await this.#run(request.name, async (client) => {
      const result = await client.query({
        query: withSettings(request.sql, request.name, request.settings),
        query_params: request.params ?? {},
        format: 'JSONEachRow',
      });
      return result.json<unknown>();
    });
    const schema = request.row;
    if (!schema) return rows as T[];
    return rows.map((row, index) => {
      const decoded = schema.safeParse(row);
      if (!decoded.success) {
        throw new Error(`ClickHouse query ${request.name}: row ${index} does not match its schema: ${decoded.error.message}`);
      }
      return decoded.data;
    });
  }

  async command(request: CommandRequest): Promise<void> {
    await this.#run(request.name, (client) =>
      client.command({
        // DDL has no room for a trailing SETTINGS clause: add one only when asked.
        query: request.settings ? withSettings(request.sql, request.name, request.settings) : request.sql,
        query_params: request.params ?? {},
      }),
    );
  }

  async insert(request: InsertRequest): Promise<void> {
    const body = Buffer.isBuffer(request.values)
      ? request.values
      : Buffer.from(request.values.map((row) => JSON.stringify(row)).join('\n'));
    if (body.length === 0) return;
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(request.table)) {
      throw new Error(`invalid table name ${JSON.stringify(request.table)}`);
    }
    // Settings travel in the statement, never as session state: chDB's
    // connection turns `clickhouse_settings` into `SET`, which would outlive
    // this insert (an `insert_deduplication_token` would leak into the next).
    const settings = { log_comment: request.name, ...request.settings };
    const sql = `INSERT INTO ${request.table} SETTINGS ${renderSettings(settings)} FORMAT JSONEachRow`;
    await this.#run(request.name, async (client, rawInsert) => {
      if (rawInsert) return rawInsert(request.table, body, settings);
      const result = await client.exec({ query: sql, values: Readable.from([body]) });
      result.stream.resume();
    });
  }

  dedicated(): ClickHouse {
    const child = new PooledClickHouse(this.capabilities, this.cluster, this.connect, 1);
    this.#children.push(child);
    return child;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#children.map((child) => child.close()));
    await Promise.all(this.#clients.map(({ client }) => client.close()));
  }

  async #run<R>(
    name: string,
    operation: (client: ClickHouseClient, rawInsert: Connected['rawInsert']) => Promise<R>,
  ): Promise<R> {
    if (this.#closed) throw new Error(`ClickHouse is closed (query ${name})`);
    const slot = this.#clients.reduce((best, next) => (next.busy < best.busy ? next : best));
    slot.busy++;
    try {
      return await operation(slot.client, slot.rawInsert);
    } catch (error) {
      throw toQueryError(name, error);
    } finally {
      slot.busy--;
    }
  }
}

function withSettings(sql: string, name: string, settings: Settings | undefined): string {
  const trimmed = sql.trimEnd().replace(/;$/, '');
  return `${trimmed}\nSETTINGS ${renderSettings({ log_comment: name, ...settings })}`;
}

function isClickHouseErrorShape(error: unknown): error is ClickHouseError {
  return error instanceof Error && 'type' in error && /^\d+$/.test(String((error as { code?: unknown }).code));
}

function toQueryError(name: string, error: unknown): Error {
  // chDB builds its ClickHouseError from its own copy of client-common, so
  // `instanceof` cannot be trusted: recognise the shape instead.
  if (error instanceof ClickHouseError || isClickHouseErrorShape(error)) {
    return new ClickHouseQueryError(name, Number(error.code), error.type, error.message, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  // chDB reports "Code: 62. DB::Exception: ..." in plain errors.
  const match = /Code: (\d+)\./.exec(message);
  if (match) {
    const type = /\(([A-Z_]+)\)\s*$/.exec(message)?.[1];
    return new ClickHouseQueryError(name, Number(match[1]), type, message, { cause: error });
  }
  return error instanceof Error ? error : new Error(message);
}
