import { createClient } from '@clickhouse/client';
import { AnalyticsQueryError } from '@sightline/protocol';
import type { Session as ChdbSession } from 'chdb';

/** The rows a tenant query returned, with the engine's own statistics. */
export type ReaderResult = {
  rows: Record<string, unknown>[];
  stats: { read_rows: number; read_bytes: number; elapsed_ms: number };
};

export type Tenancy = Readonly<{ projectId: string; branchId: string }>;

export type ReaderLimits = Readonly<{
  timeoutMs: number;
  maxResultRows: number;
  maxResultBytes: number;
  maxMemoryUsage: number;
  maxRowsToRead: number;
}>;

export const DEFAULT_LIMITS: Omit<ReaderLimits, 'timeoutMs'> = {
  maxResultRows: 10_000,
  maxResultBytes: 10 * 1024 * 1024,
  maxMemoryUsage: 1024 * 1024 * 1024,
  maxRowsToRead: 2_000_000_000,
};

/**
 * Runs one already-validated tenant query so the engine itself confines it:
 * read-only, the tenancy's rows only, and bounded in time, rows, bytes and memory.
 */
export interface TenantReader {
  run(tenancy: Tenancy, sql: string, params: Record<string, unknown>, limits: ReaderLimits): Promise<ReaderResult>;
  /** Runs an `EXPLAIN …` of a tenant query on the same confined connection; returns its text. */
  explain(tenancy: Tenancy, sql: string, params: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/** The tables a tenant can reach (the views) and the tables behind them. */
const FILTERED_TABLES = ['default.events', 'default.users', 'analytics_internal.events', 'analytics_internal.users'];

const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * `--additional_table_filters` value: one tenancy predicate per readable table.
 * Ids are checked to be plain identifiers, so quoting cannot be subverted.
 *
 * @example
 * tenantTableFilters({ projectId: 'p1', branchId: 'main' });
 * // {'default.events':'project_id = \'p1\' AND branch_id = \'main\'', …}
 */
export function tenantTableFilters(tenancy: Tenancy): string {
  if (!SAFE_ID.test(tenancy.projectId) || !SAFE_ID.test(tenancy.branchId)) {
    throw new Error('tenancy ids must be plain identifiers');
  }
  const predicate = `project_id = \\'${tenancy.projectId}\\' AND branch_id = \\'${tenancy.branchId}\\'`;
  return `{${FILTERED_TABLES.map((table) => `'${table}':'${predicate}'`).join(', ')}}`;
}

/**
 * Engine arguments that make a chDB connection read-only and bounded (the
 * tenancy filter is added beside them). Given at connect time, they hold for
 * the whole connection.
 *
 * @example
 * new Session(dir, { connectionArgs: confinedConnectionArgs({ ...DEFAULT_LIMITS, timeoutMs: 10_000 }) });
 */
export function confinedConnectionArgs(limits: ReaderLimits): string[] {
  return [
    '--readonly=1',
    `--max_execution_time=${Math.ceil(limits.timeoutMs / 1000)}`,
    '--timeout_overflow_mode=throw',
    `--max_result_rows=${limits.maxResultRows}`,
    `--max_result_bytes=${limits.maxResultBytes}`,
    '--result_overflow_mode=throw',
    `--max_memory_usage=${limits.maxMemoryUsage}`,
    `--max_rows_to_read=${limits.maxRowsToRead}`,
    '--output_format_json_quote_64bit_integers=0',
  ];
}

/**
 * chdb-node runs every `queryBindAsync` of the process on one queue, so one
 * tenant's slow parameterised query would hold up every other; without
 * parameters `queryAsync` runs on the session's own connection.
 */
function query(session: ChdbSession, sql: string, params: Record<string, unknown>, format: string) {
  return Object.keys(params).length > 0 ? session.queryBindAsync(sql, params, { format }) : session.queryAsync(sql, { format });
}

/**
 * Embedded chDB: a connection of its own per query, opened with engine
 * arguments. Settings given at connect time hold for the whole connection,
 * unlike `SET` on a shared one (which `readonly=1` would then freeze).
 *
 * @example
 * const reader = await embeddedTenantReader('/data/clickhouse');
 */
export async function embeddedTenantReader(dataDir: string): Promise<TenantReader> {
  const { Session } = (await import('chdb')) as { Session: typeof ChdbSession };
  const open = (tenancy: Tenancy, limits: ReaderLimits) =>
    new Session(dataDir, {
      connectionArgs: [...confinedConnectionArgs(limits), `--additional_table_filters=${tenantTableFilters(tenancy)}`],
    });
  return {
    async run(tenancy, sql, params, limits) {
      const session = open(tenancy, limits);
      try {
        const result = await query(session, sql, params, 'JSONEachRow');
        // chDB applies max_result_bytes to blocks, not to what reaches us: check the total too.
        if (result.bytes().length > limits.maxResultBytes) {
          throw new AnalyticsQueryError(`The result is larger than ${limits.maxResultBytes} bytes; select fewer rows or columns.`);
        }
        const text = result.text();
        return {
          rows: text.length === 0 ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>),
          stats: { read_rows: result.rowsRead, read_bytes: result.bytesRead, elapsed_ms: Math.round(result.elapsed * 1000) },
        };
      } finally {
        session.close();
      }
    },
    async explain(tenancy, sql, params) {
      const session = open(tenancy, { ...DEFAULT_LIMITS, timeoutMs: 10_000 });
      try {
        return (await query(session, sql, params, 'TSVRaw')).text();
      } finally {
        session.close();
      }
    },
    async close() {},
  };
}

/**
 * A ClickHouse server: queries run as `limited_user`, whose row policies read
 * the tenancy from the per-query settings `SQL_project_id` / `SQL_branch_id`.
 */
export function serverTenantReader(options: { url: string; limitedPassword: string }): TenantReader {
  const client = createClient({ url: options.url, username: 'limited_user', password: options.limitedPassword });
  return {
    async run(tenancy, sql, params, limits) {
      const started = performance.now();
      const result = await client.query({
        query: sql,
        query_params: params,
        format: 'JSONEachRow',
        clickhouse_settings: {
          readonly: '1',
          SQL_project_id: tenancy.projectId,
          SQL_branch_id: tenancy.branchId,
          max_execution_time: Math.ceil(limits.timeoutMs / 1000),
          max_result_rows: String(limits.maxResultRows),
          max_result_bytes: String(limits.maxResultBytes),
          result_overflow_mode: 'throw',
          max_memory_usage: String(limits.maxMemoryUsage),
          max_rows_to_read: String(limits.maxRowsToRead),
        } as Record<string, string | number>,
      });
      const rows = await result.json<Record<string, unknown>>();
      const summary = result.response_headers['x-clickhouse-summary'];
      const parsed = typeof summary === 'string' ? (JSON.parse(summary) as { read_rows?: string; read_bytes?: string }) : {};
      return {
        rows,
        stats: {
          read_rows: Number(parsed.read_rows ?? 0),
          read_bytes: Number(parsed.read_bytes ?? 0),
          elapsed_ms: Math.round(performance.now() - started),
        },
      };
    },
    async explain(tenancy, sql, params) {
      const result = await client.query({
        query: sql,
        query_params: params,
        format: 'TabSeparatedRaw',
        clickhouse_settings: { readonly: '1', SQL_project_id: tenancy.projectId, SQL_branch_id: tenancy.branchId } as Record<
          string,
          string
        >,
      });
      return result.text();
    },
    close: () => client.close(),
  };
}
