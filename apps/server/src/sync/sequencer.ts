import type { Postgres, PostgresQueries } from '../storage/postgres/db.ts';

/**
 * Tables whose changed rows the sequencer numbers. Tombstones come first, and a
 * user row waits while a tombstone of its own key is still unnumbered: a user
 * deleted and re-created (same id) between two runs must get a version above
 * its tombstone's, or `FINAL` would keep the tombstone and hide the live user.
 * (A re-created row visible to the statement implies its delete committed
 * first, so that tombstone is visible to the same statement.)
 */
const SEQUENCED_TABLES = [
  { table: 'deleted_rows', waitFor: '' },
  {
    table: 'users',
    waitFor: `AND NOT EXISTS (
               SELECT 1 FROM deleted_rows d
               WHERE d.should_update_sequence_id AND d.table_name = 'users' AND d.project_id = users.project_id
                 AND d.branch_id = users.branch_id AND d.primary_key = jsonb_build_object('id', users.id))`,
  },
] as const;

export const SEQUENCER_LOCK = 'sightline:sync-sequencer';

/** Numbers up to `batchSize` marked rows of one table; the caller holds the lock. */
async function numberBatch(tx: PostgresQueries, { table, waitFor }: (typeof SEQUENCED_TABLES)[number], batchSize: number) {
  // The locked rows are updated by ctid (a TID scan): joining back on the key made
  // PostgreSQL hash the whole table for every batch of 1000.
  const rows = await tx.execute(
    `WITH marked AS (
       SELECT ctid FROM ${table} WHERE should_update_sequence_id ${waitFor}
       LIMIT $1 FOR UPDATE SKIP LOCKED
     )
     UPDATE ${table} SET sequence_id = nextval('global_sync_sequence'), should_update_sequence_id = false
     WHERE ctid = ANY (ARRAY(SELECT ctid FROM marked))
     RETURNING sequence_id`,
    [batchSize],
  );
  return rows.length;
}

/**
 * Gives every row marked by the change-capture triggers a fresh id from the
 * global sequence, in batches, each batch (tombstones, then users) in its own
 * transaction under a transaction-level advisory lock. One sequencer at a time
 * means ids become visible in increasing order: once a sync has read up to id
 * N, no row can later commit with an id at or below N
 * (docs/adr/0007-users-sync.md). Rows locked by an application transaction are
 * skipped and numbered on the next run, after that transaction has committed.
 *
 * @example
 * const sequenced = await runSequencer(postgres); // rows numbered
 */
export async function runSequencer(postgres: Postgres, batchSize = 1000): Promise<number> {
  let total = 0;
  // Both tables in one transaction: a steady-state run is four round trips, not ten.
  // The users statement runs after the tombstones' (a new snapshot in READ COMMITTED),
  // so it sees those tombstones numbered, and any tombstone committed in between still
  // marked: the order argument above holds inside one transaction as it did across two.
  // Every round numbers both tables, so a user waiting for a tombstone of a later round
  // is numbered in the last round, after it.
  for (;;) {
    const counts = await postgres.transaction(async (tx) => {
      // The change-capture triggers let this transaction's writes through unmarked.
      await tx.execute("SELECT pg_advisory_xact_lock(hashtext($1)), set_config('sightline.sequencer', 'on', true)", [SEQUENCER_LOCK]);
      const numbered: number[] = [];
      for (const sequenced of SEQUENCED_TABLES) numbered.push(await numberBatch(tx, sequenced, batchSize));
      return numbered;
    });
    for (const count of counts) total += count;
    if (counts.every((count) => count < batchSize)) return total;
  }
}
