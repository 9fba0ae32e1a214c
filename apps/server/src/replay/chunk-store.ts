import type { ClickHouse } from '../storage/clickhouse/client.ts';
import type { Tenancy } from './upload.ts';

const TABLE = 'analytics_internal.session_replay_chunks';

/**
 * Writes a chunk's rrweb events (as one JSON array) to ClickHouse. Writing the
 * same (replay, batch) again replaces it, so a retried upload is harmless.
 *
 * @example
 * await writeChunkPayload(ch, { tenancy, replayId, batchId, events });
 */
export async function writeChunkPayload(
  ch: ClickHouse,
  chunk: {
    tenancy: Tenancy;
    replayId: string;
    batchId: string;
    events: readonly unknown[];
    /**
     * When the chunk was received (ms), the same instant as its metadata's
     * `created_at`, so retention cuts both stores at the same point; default:
     * the engine's clock.
     */
    createdAt?: number;
  },
): Promise<void> {
  await ch.insert({
    name: 'replay.write-chunk',
    table: TABLE,
    values: [
      {
        project_id: chunk.tenancy.projectId,
        branch_id: chunk.tenancy.branchId,
        session_replay_id: chunk.replayId,
        batch_id: chunk.batchId,
        payload: JSON.stringify(chunk.events),
        event_count: chunk.events.length,
        ...(chunk.createdAt === undefined ? {} : { created_at: chunk.createdAt }),
      },
    ],
  });
}

/**
 * Reads the events of some chunks of one replay, by batch id.
 *
 * @example
 * const byBatch = await readChunkPayloads(ch, tenancy, replayId, [batchId]);
 */
export async function readChunkPayloads(
  ch: ClickHouse,
  tenancy: Tenancy,
  replayId: string,
  batchIds: readonly string[],
): Promise<Map<string, unknown[]>> {
  if (batchIds.length === 0) return new Map();
  const rows = await ch.query<{ batch_id: string; payload: string }>({
    name: 'replay.read-chunks',
    sql: `SELECT batch_id, payload FROM ${TABLE}
          WHERE project_id = {p:String} AND branch_id = {b:String} AND session_replay_id = {r:String}
            AND batch_id IN {batches:Array(String)}
          ORDER BY created_at DESC
          LIMIT 1 BY batch_id`,
    params: { p: tenancy.projectId, b: tenancy.branchId, r: replayId, batches: [...batchIds] },
  });
  return new Map(rows.map((row) => [row.batch_id, JSON.parse(row.payload) as unknown[]]));
}

/** Deletes the payloads of the given replays (after their metadata is gone). */
export async function deleteChunkPayloads(ch: ClickHouse, tenancy: Tenancy, replayIds: readonly string[]): Promise<void> {
  if (replayIds.length === 0) return;
  await ch.command({
    name: 'replay.delete-chunks',
    sql: `DELETE FROM ${TABLE} WHERE project_id = {p:String} AND branch_id = {b:String} AND session_replay_id IN {r:Array(String)}`,
    params: { p: tenancy.projectId, b: tenancy.branchId, r: [...replayIds] },
  });
}
