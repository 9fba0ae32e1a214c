import type { Session as ChdbSession } from 'chdb';
import { createLogger } from '../../apps/server/src/logger.ts';
import { createQueryRunner, type QueryRunner } from '../../apps/server/src/query/runner.ts';
import { openStatementClassifier, type StatementClassifier } from '../../apps/server/src/query/statement-classifier.ts';
import {
  confinedConnectionArgs,
  DEFAULT_LIMITS,
  embeddedTenantReader,
  tenantTableFilters,
  type Tenancy,
  type TenantReader,
} from '../../apps/server/src/query/tenant-reader.ts';

/** The per-query timeout the benchmark asks for (API `timeout_ms` and the direct sessions alike). */
export const TIMEOUT_MS = 60_000;

/**
 * The engine arguments of the server's tenant reader (tenant-reader.ts,
 * `embeddedTenantReader`), optionally without the tenancy filter: the direct
 * runs use the same engine settings, with the tenancy written into the SQL.
 */
export function engineArgs(tenancy: Tenancy | undefined): string[] {
  return [
    ...confinedConnectionArgs({ ...DEFAULT_LIMITS, timeoutMs: TIMEOUT_MS }),
    ...(tenancy ? [`--additional_table_filters=${tenantTableFilters(tenancy)}`] : []),
  ];
}

export type ChdbModule = { Session: typeof ChdbSession; drainPending(): Promise<void> };

export const loadChdb = async (): Promise<ChdbModule> => (await import('chdb')) as unknown as ChdbModule;

export type EngineRun = { wallMs: number; engineMs: number; text: string };

/** One query on an open session: wall time until the result text is in hand, and the engine's own elapsed. */
export async function timedQuery(
  session: ChdbSession,
  sql: string,
  params: Record<string, unknown>,
  format = 'JSONEachRow',
): Promise<EngineRun> {
  const started = performance.now();
  const result = await session.queryBindAsync(sql, params, { format });
  const text = result.text();
  return { wallMs: performance.now() - started, engineMs: result.elapsed * 1000, text };
}

export const parseRows = (text: string): Record<string, unknown>[] =>
  text.length === 0 ? [] : text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

/** Where the server's query path spends its time, for one query (ms). */
export type PathTiming = {
  classify: number;
  explainAst: number;
  explainTree: number;
  readerRun: number;
  /** runner.run end to end (validation + execution + bookkeeping). */
  runner: number;
};

/**
 * The server's own query path (runner, validator, statement classifier,
 * embedded tenant reader), in this process, with each dependency timed.
 */
export async function openServerPath(dataDir: string): Promise<{
  runner: QueryRunner;
  last(): PathTiming;
  close(): Promise<void>;
}> {
  const reader = await embeddedTenantReader(dataDir);
  const classifier = openStatementClassifier(dataDir);
  let timing: PathTiming = { classify: 0, explainAst: 0, explainTree: 0, readerRun: 0, runner: 0 };
  const timedClassifier: StatementClassifier = {
    async classify(sql) {
      const started = performance.now();
      try {
        return await classifier.classify(sql);
      } finally {
        timing.classify += performance.now() - started;
      }
    },
    close: () => classifier.close(),
  };
  const timedReader: TenantReader = {
    async run(tenancy, sql, params, limits) {
      const started = performance.now();
      try {
        return await reader.run(tenancy, sql, params, limits);
      } finally {
        timing.readerRun += performance.now() - started;
      }
    },
    async explain(tenancy, sql, params) {
      const started = performance.now();
      try {
        return await reader.explain(tenancy, sql, params);
      } finally {
        const spent = performance.now() - started;
        if (sql.startsWith('EXPLAIN AST')) timing.explainAst += spent;
        else timing.explainTree += spent;
      }
    },
    close: () => reader.close(),
  };
  const runner = createQueryRunner({
    reader: timedReader,
    classifier: timedClassifier,
    log: createLogger({ level: 'silent' }),
    development: false,
  });
  return {
    runner: {
      async run(tenancy, input) {
        timing = { classify: 0, explainAst: 0, explainTree: 0, readerRun: 0, runner: 0 };
        const started = performance.now();
        try {
          return await runner.run(tenancy, input);
        } finally {
          timing.runner = performance.now() - started;
        }
      },
      timing: (tenancy, queryId) => runner.timing(tenancy, queryId),
    },
    last: () => timing,
    async close() {
      await reader.close();
      classifier.close();
    },
  };
}

/**
 * The fixed steps of the tenant reader's `run` around the query itself:
 * opening a session with the tenant's engine arguments, and closing it.
 */
export function sessionOpenClose(chdb: ChdbModule, dataDir: string, tenancy: Tenancy): { open: number; close: number } {
  const t0 = performance.now();
  const session = new chdb.Session(dataDir, { connectionArgs: engineArgs(tenancy) });
  const t1 = performance.now();
  session.close();
  return { open: t1 - t0, close: performance.now() - t1 };
}
