import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { StatementClass } from './validator.ts';

/** The part of chdb-node's native addon this module uses (not a public export of chdb). */
type ChdbNative = {
  CreateConnection(dataPath: string, args?: readonly string[]): unknown;
  CloseConnection(connection: unknown): void;
  DurableClassifyAsync(
    connection: unknown,
    sql: string,
    targetDatabase: string | null,
  ): Promise<{ statementCount: number; queryClass: number }>;
};

/** `chdb_query_class` values (chdb/durable's `QueryClass`): 0 read-only, 4 did not parse. */
const READ_ONLY = 0;
const UNKNOWN = 4;

export type StatementClassifier = { classify(sql: string): Promise<StatementClass>; close(): void };

/**
 * ClickHouse's own statement classifier, as chDB exposes it: how many
 * statements a text holds and whether all are read-only. It parses without
 * executing. It needs a chDB connection: on the embedded engine one on its data
 * directory; with a ClickHouse server, one on a private scratch directory.
 *
 * chdb-node exports no loader for its addon; the pinned version keeps it at
 * `dist/loader.js`, and a test fails loudly if an upgrade moves it.
 *
 * @example
 * const classifier = openStatementClassifier('/data/clickhouse');
 * await classifier.classify('SELECT 1; DROP TABLE t'); // { statementCount: 2, readOnly: false }
 */
export function openStatementClassifier(dataDir: string | undefined): StatementClassifier {
  const require = createRequire(import.meta.url);
  const chdbRoot = path.dirname(require.resolve('chdb/package.json'));
  const { loadNative } = require(path.join(chdbRoot, 'dist', 'loader.js')) as { loadNative(): ChdbNative };
  const native = loadNative();
  const directory = dataDir ?? mkdtempSync(path.join(tmpdir(), 'sightline-classifier-'));
  const connection = native.CreateConnection(directory, ['--readonly=1']);
  return {
    async classify(sql) {
      const result = await native.DurableClassifyAsync(connection, sql, null);
      return {
        statementCount: result.statementCount,
        readOnly: result.queryClass === READ_ONLY,
        parsed: result.queryClass !== UNKNOWN,
      };
    },
    close() {
      native.CloseConnection(connection);
    },
  };
}
