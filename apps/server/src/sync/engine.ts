import { performance } from 'node:perf_hooks';
import type { ClickHouse } from '../storage/clickhouse/client.ts';
import type { Postgres } from '../storage/postgres/db.ts';
import { tenancyId } from './tenancy-id.ts';
import { mirrorUser, type SourceUser } from './users-mapping.ts';

export const USERS_MAPPING = 'users';
const METADATA_TABLE = 'analytics_internal._stack_sync_metadata';
const MIRROR_TABLE = 'analytics_internal.users';

export type Tenancy = Readonly<{ projectId: string; branchId: string }>;

/** Reads the watermark of a (tenancy, mapping): the last sequence id mirrored. */
export async function readWatermark(ch: ClickHouse, tenancy: Tenancy, mapping = USERS_MAPPING): Promise<number> {
  const [row] = await ch.query<{ id: string }>({
    name: 'sync.read-watermark',
    sql: `SELECT toString(argMax(last_synced_sequence_id, (updated_at, last_synced_sequence_id))) AS id FROM ${METADATA_TABLE}
          WHERE tenancy_id = {tenancy:UUID} AND mapping_name = {mapping:String}`,
    params: { tenancy: tenancyId(tenancy.projectId, tenancy.branchId), mapping },
  });
  return Number(row?.id ?? 0);
}

/** Where a `syncTenancy` call spent its time, in milliseconds (for logs and the benchmark). */
export type SyncPhases = { watermarkReadMs: number; fetchMs: number; insertMs: number; watermarkWriteMs: number };

export const noPhases = (): SyncPhases => ({ watermarkReadMs: 0, fetchMs: 0, insertMs: 0, watermarkWriteMs: 0 });

export type SyncTenancyOptions = {
  /** Rows per Postgres read and ClickHouse insert (default 1000). */
  batchSize?: number;
  /**
   * The watermark to start from, when the caller knows it (the scheduler's
   * in-memory copy); read from `_stack_sync_metadata` when absent. It must be a
   * value that was durable at some point: every row at or below it is mirrored.
   */
  watermark?: number;
  /** Called after each watermark write, with the new watermark. */
  onWatermark?: (watermark: number) => void;
  /** Time spent per phase is added here. */
  phases?: SyncPhases;
};

/**
 * Mirrors one tenancy's users: rows and tombstones with a sequence id above
 * the watermark, in order, 1000 at a time; each batch is inserted before the
 * watermark moves past it, so a crash repeats a batch (merged away by
 * `ReplacingMergeTree` on the same version) and never skips one.
 *
 * @example
 * const { rows, watermark } = await syncTenancy(postgres, clickhouse, { projectId, branchId: 'main' });
 */
export async function syncTenancy(
  postgres: Postgres,
  ch: ClickHouse,
  tenancy: Tenancy,
  options: SyncTenancyOptions = {},
): Promise<{ rows: number; watermark: number }> {
  const batchSize = options.batchSize ?? 1000;
  const phases = options.phases ?? noPhases();
  let started = performance.now();
  const lap = (phase: keyof SyncPhases) => {
    const now = performance.now();
    phases[phase] += now - started;
    started = now;
  };
  let watermark = options.watermark ?? (await readWatermark(ch, tenancy));
  lap('watermarkReadMs');
  let rows = 0;
  for (;;) {
    // One statement, one snapshot: rows and tombstones are read at the same instant.
    const batch = await postgres.execute<{ kind: 'row' | 'tombstone'; sequence_id: number; data: SourceUser }>(
      `SELECT * FROM (
         (SELECT 'row' AS kind, sequence_id, to_jsonb(u) AS data FROM users u
          WHERE project_id = $1 AND branch_id = $2 AND sequence_id > $3 ORDER BY sequence_id LIMIT $4)
         UNION ALL
         (SELECT 'tombstone' AS kind, sequence_id, data FROM deleted_rows
          WHERE project_id = $1 AND branch_id = $2 AND table_name = 'users' AND sequence_id > $3
          ORDER BY sequence_id LIMIT $4)
       ) changes ORDER BY sequence_id LIMIT $4`,
      [tenancy.projectId, tenancy.branchId, watermark, batchSize],
    );
    lap('fetchMs');
    if (batch.length === 0) break;
    await ch.insert({
      name: 'sync.insert-users',
      table: MIRROR_TABLE,
      values: batch.map((change) => mirrorUser(change.data, change.sequence_id, change.kind === 'tombstone')),
    });
    lap('insertMs');
    watermark = batch.at(-1)!.sequence_id;
    await writeWatermark(ch, tenancy, watermark);
    lap('watermarkWriteMs');
    options.onWatermark?.(watermark);
    rows += batch.length;
    if (batch.length < batchSize) break;
  }
  return { rows, watermark };
}

async function writeWatermark(ch: ClickHouse, tenancy: Tenancy, sequenceId: number): Promise<void> {
  await ch.insert({
    name: 'sync.write-watermark',
    table: METADATA_TABLE,
    values: [
      {
        tenancy_id: tenancyId(tenancy.projectId, tenancy.branchId),
        mapping_name: USERS_MAPPING,
        last_synced_sequence_id: sequenceId,
        updated_at: Date.now(),
      },
    ],
  });
}

/**
 * The tenancies with sequenced changes above `after` (one statement over
 * rows and tombstones), and the highest sequence id among them.
 */
export async function changedTenancies(
  postgres: Postgres,
  after: number,
): Promise<{ tenancies: (Tenancy & { maxSequenceId: number })[]; maxSequenceId: number }> {
  const rows = await postgres.execute<{ project_id: string; branch_id: string; max_id: number }>(
    `SELECT project_id, branch_id, max(sequence_id) AS max_id FROM (
       SELECT project_id, branch_id, sequence_id FROM users WHERE sequence_id > $1
       UNION ALL
       SELECT project_id, branch_id, sequence_id FROM deleted_rows WHERE table_name = 'users' AND sequence_id > $1
     ) changes GROUP BY project_id, branch_id`,
    [after],
  );
  return {
    tenancies: rows.map((r) => ({ projectId: r.project_id, branchId: r.branch_id, maxSequenceId: r.max_id })),
    maxSequenceId: rows.reduce((max, r) => Math.max(max, r.max_id), after),
  };
}
