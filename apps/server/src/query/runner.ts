import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { DEFAULT_LIMITS, type Tenancy, type TenantReader } from './tenant-reader.ts';
import { classifyClickHouseError } from './classify-error.ts';

export type QueryInput = { query: string; params?: Record<string, unknown> | undefined; timeoutMs: number };

export type QueryOutput = {
  result: Record<string, unknown>[];
  query_id: string;
  stats: { read_rows: number; read_bytes: number; elapsed_ms: number };
};

export type QueryRunner = { run(tenancy: Tenancy, input: QueryInput): Promise<QueryOutput> };

/**
 * Runs tenant SQL through a {@link TenantReader} and answers known errors for
 * engine failures. The query id names its tenancy: `<project>:<branch>:<uuid>`.
 *
 * @example
 * const runner = createQueryRunner({ reader, log, development: false });
 * await runner.run({ projectId, branchId: 'main' }, { query: 'SELECT count() FROM events', timeoutMs: 10_000 });
 */
export function createQueryRunner(deps: { reader: TenantReader; log: Logger; development: boolean }): QueryRunner {
  return {
    async run(tenancy, input) {
      const queryId = `${tenancy.projectId}:${tenancy.branchId}:${randomUUID()}`;
      const sql = input.query.trim().replace(/;\s*$/, '');
      try {
        const { rows, stats } = await deps.reader.run(tenancy, sql, input.params ?? {}, {
          ...DEFAULT_LIMITS,
          timeoutMs: input.timeoutMs,
        });
        return { result: rows, query_id: queryId, stats };
      } catch (error) {
        const code = engineCode(error);
        if (code === undefined) throw error;
        const { known, reviewed } = classifyClickHouseError(
          { code, message: (error as Error).message },
          { timeoutMs: input.timeoutMs, development: deps.development },
        );
        if (!reviewed) deps.log.warn({ code, query_id: queryId }, 'tenant query failed with an unreviewed ClickHouse error code');
        throw known;
      }
    },
  };
}

/** The ClickHouse error code of an engine error (chDB and server errors both carry one). */
function engineCode(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const carried = (error as { clickhouseCode?: unknown; code?: unknown }).clickhouseCode ?? (error as { code?: unknown }).code;
  if (typeof carried === 'number') return carried;
  if (typeof carried === 'string' && /^\d+$/.test(carried)) return Number(carried);
  const match = /Code: (\d+)\./.exec(error.message);
  return match ? Number(match[1]) : undefined;
}
