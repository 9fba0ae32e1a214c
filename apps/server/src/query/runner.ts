import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AnalyticsQueryError, ItemNotFound, RateLimited, ServiceUnavailable } from '@sightline/protocol';
import { atTenantPosition, classifyClickHouseError } from './classify-error.ts';
import type { StatementClassifier } from './statement-classifier.ts';
import { DEFAULT_LIMITS, type Tenancy, type TenantReader } from './tenant-reader.ts';
import { checkAst, checkQueryTree, checkSelectRoot, checkStatementClass, cteNamesOf } from './validator.ts';

export type QueryInput = { query: string; params?: Record<string, unknown> | undefined; timeoutMs: number };

export type QueryOutput = {
  result: Record<string, unknown>[];
  query_id: string;
  stats: { read_rows: number; read_bytes: number; elapsed_ms: number };
};

export type QueryTiming = { cpu_time: number; wall_clock_time: number };

export type QueryRunner = {
  run(tenancy: Tenancy, input: QueryInput): Promise<QueryOutput>;
  /** Timing of a finished query of this tenancy; `ITEM_NOT_FOUND` otherwise. */
  timing(tenancy: Tenancy, queryId: string): QueryTiming;
};

export type QueryRunnerDeps = {
  reader: TenantReader;
  classifier: StatementClassifier;
  log: Logger;
  /** Append ClickHouse's code and message to generic errors (development and test only). */
  development: boolean;
  /** Queries in flight per project (default 4) and in the whole server (default 8). */
  perProjectConcurrency?: number;
  serverConcurrency?: number;
  /** Why tenant queries must be refused (e.g. drifted access control on a server). */
  disabledReason?: string | undefined;
};

const TIMINGS_KEPT = 10_000;

/**
 * Runs tenant SQL: validate (one read-only statement; SELECT-only syntax tree
 * without SETTINGS, with allowlisted functions; only the two views), then
 * execute on the tenant reader, whose engine enforces tenancy and limits.
 * The query id names its tenancy: `<project>:<branch>:<uuid>`.
 *
 * @example
 * const runner = createQueryRunner({ reader, classifier, log, development: false });
 * await runner.run({ projectId, branchId: 'main' }, { query: 'SELECT count() FROM events', timeoutMs: 10_000 });
 */
export function createQueryRunner(deps: QueryRunnerDeps): QueryRunner {
  const perProject = deps.perProjectConcurrency ?? 4;
  const serverWide = deps.serverConcurrency ?? 8;
  const inFlight = new Map<string, number>();
  let total = 0;
  const timings = new Map<string, QueryTiming>();

  const engineError = (error: unknown, timeoutMs: number, queryId: string) => {
    const code = engineCode(error);
    if (code === undefined) return error;
    const { known, reviewed } = classifyClickHouseError(
      { code, message: (error as Error).message },
      { timeoutMs, development: deps.development },
    );
    if (!reviewed) deps.log.warn({ code, query_id: queryId }, 'tenant query failed with an unreviewed ClickHouse error code');
    return known;
  };

  /** The tenant's text under `EXPLAIN AST`; a syntax error points into that text, not into the wrapper. */
  const explainAst = (tenancy: Tenancy, sql: string, params: Record<string, unknown>) =>
    deps.reader.explain(tenancy, EXPLAIN_AST + sql, params).catch((error: unknown) => {
      if (engineCode(error) === SYNTAX_ERROR) (error as Error).message = atTenantPosition((error as Error).message, EXPLAIN_AST.length);
      throw error;
    });

  const validate = async (tenancy: Tenancy, sql: string, params: Record<string, unknown>) => {
    const statement = await deps.classifier.classify(sql);
    if (statement.statementCount <= 1 && !statement.parsed) {
      // Let the parser explain what is wrong (a syntax error passes through, at its place in the tenant's text).
      await explainAst(tenancy, sql, params);
    }
    checkStatementClass(statement);
    const ast = await explainAst(tenancy, sql, params);
    checkSelectRoot(ast);
    const ctes = cteNamesOf(await deps.reader.explain(tenancy, `EXPLAIN QUERY TREE run_passes = 0 ${sql}`, params));
    checkAst(ast, ctes);
    checkQueryTree(await deps.reader.explain(tenancy, `EXPLAIN QUERY TREE ${sql}`, params));
  };

  return {
    async run(tenancy, input) {
      if (deps.disabledReason) throw new ServiceUnavailable(60, `Tenant queries are disabled: ${deps.disabledReason}.`);
      const queryId = `${tenancy.projectId}:${tenancy.branchId}:${randomUUID()}`;
      // Leading whitespace stays: the engine's syntax-error lines and columns then match the tenant's text.
      const sql = input.query.trimEnd().replace(/;$/, '');
      if (sql.trim() === '') throw new AnalyticsQueryError('The query is empty.');
      const running = inFlight.get(tenancy.projectId) ?? 0;
      if (running >= perProject) {
        throw new RateLimited(1, `Too many queries in flight for this project (at most ${perProject}). Retry after 1 seconds.`);
      }
      if (total >= serverWide) throw new RateLimited(1, 'The server is busy with other queries. Retry after 1 seconds.');
      inFlight.set(tenancy.projectId, running + 1);
      total++;
      const params = input.params ?? {};
      try {
        try {
          await validate(tenancy, sql, params);
        } catch (error) {
          throw engineError(error, input.timeoutMs, queryId);
        }
        const cpuBefore = process.cpuUsage();
        const started = performance.now();
        try {
          const { rows, stats } = await deps.reader.run(tenancy, sql, params, { ...DEFAULT_LIMITS, timeoutMs: input.timeoutMs });
          const cpu = process.cpuUsage(cpuBefore);
          remember(queryId, { cpu_time: (cpu.user + cpu.system) / 1000, wall_clock_time: performance.now() - started });
          return { result: rows, query_id: queryId, stats };
        } catch (error) {
          throw engineError(error, input.timeoutMs, queryId);
        }
      } finally {
        total--;
        const left = (inFlight.get(tenancy.projectId) ?? 1) - 1;
        if (left === 0) inFlight.delete(tenancy.projectId);
        else inFlight.set(tenancy.projectId, left);
      }
    },

    timing(tenancy, queryId) {
      const prefix = `${tenancy.projectId}:${tenancy.branchId}:`;
      const timing = queryId.startsWith(prefix) ? timings.get(queryId) : undefined;
      if (!timing) throw new ItemNotFound(queryId);
      return timing;
    },
  };

  function remember(queryId: string, timing: QueryTiming) {
    timings.set(queryId, timing);
    if (timings.size > TIMINGS_KEPT) timings.delete(timings.keys().next().value as string);
  }
}

const EXPLAIN_AST = 'EXPLAIN AST ';
const SYNTAX_ERROR = 62;

/** The ClickHouse error code of an engine error (chDB and server errors both carry one). */
function engineCode(error: unknown): number | undefined {
  if (!(error instanceof Error)) return undefined;
  const carried = (error as { clickhouseCode?: unknown }).clickhouseCode ?? (error as { code?: unknown }).code;
  if (typeof carried === 'number') return carried;
  if (typeof carried === 'string' && /^\d+$/.test(carried)) return Number(carried);
  const match = /Code: (\d+)\./.exec(error.message);
  return match ? Number(match[1]) : undefined;
}
