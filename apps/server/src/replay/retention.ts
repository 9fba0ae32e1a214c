import type { Logger } from 'pino';
import type { ClickHouse } from '../storage/clickhouse/client.ts';
import type { Postgres } from '../storage/postgres/db.ts';
import { deleteChunkPayloads } from './chunk-store.ts';

/**
 * Removes chunks older than the retention period with their metadata, drops
 * replays left without chunks, then deletes the ClickHouse payloads of
 * everything removed (including replays deleted with their users). Metadata
 * goes first, so nothing half-deleted is ever visible.
 *
 * @example
 * await applyReplayRetention({ postgres, clickhouse }, 30, Date.now());
 */
export async function applyReplayRetention(
  deps: { postgres: Postgres; clickhouse: ClickHouse },
  retentionDays: number,
  now: number,
): Promise<{ chunks: number; replays: number; payloadReplays: number }> {
  const cutoff = new Date(now - retentionDays * 86_400_000);
  const { chunks, replays } = await deps.postgres.transaction(async (tx) => {
    const removed = await tx.execute<{ session_replay_id: string; event_count: number }>(
      'DELETE FROM session_replay_chunks WHERE created_at < $1 RETURNING session_replay_id, event_count',
      [cutoff],
    );
    const touched = [...new Set(removed.map((r) => r.session_replay_id))];
    if (touched.length > 0) {
      await tx.execute(
        `UPDATE session_replays r SET chunk_count = s.chunk_count, event_count = s.event_count,
           started_at = COALESCE(s.first_at, r.started_at), last_event_at = COALESCE(s.last_at, r.last_event_at)
         FROM (SELECT id, (SELECT count(*) FROM session_replay_chunks c WHERE c.session_replay_id = ids.id)::int AS chunk_count,
                 (SELECT COALESCE(sum(event_count), 0) FROM session_replay_chunks c WHERE c.session_replay_id = ids.id)::int AS event_count,
                 (SELECT min(first_event_at) FROM session_replay_chunks c WHERE c.session_replay_id = ids.id) AS first_at,
                 (SELECT max(last_event_at) FROM session_replay_chunks c WHERE c.session_replay_id = ids.id) AS last_at
               FROM unnest($1::uuid[]) AS ids(id)) s
         WHERE r.id = s.id`,
        [touched],
      );
    }
    const emptied = await tx.execute('DELETE FROM session_replays WHERE chunk_count = 0 AND updated_at < $1 RETURNING id', [cutoff]);
    return { chunks: removed.length, replays: emptied.length };
  });
  await deps.clickhouse.command({
    name: 'replay.retention-payloads',
    // The cutoff is written in UTC: a bare DateTime64(3) parameter would be read in the engine's time zone.
    sql: "DELETE FROM analytics_internal.session_replay_chunks WHERE created_at < {cutoff:DateTime64(3, 'UTC')}",
    params: { cutoff: cutoff.toISOString().replace('T', ' ').replace('Z', '') },
  });
  return { chunks, replays, payloadReplays: await drainPayloadDeletions(deps) };
}

/** Deletes the payloads of replays whose metadata was deleted. */
export async function drainPayloadDeletions(deps: { postgres: Postgres; clickhouse: ClickHouse }): Promise<number> {
  const queued = await deps.postgres.execute<{ session_replay_id: string; project_id: string; branch_id: string }>(
    'SELECT session_replay_id, project_id, branch_id FROM replay_payload_deletions ORDER BY queued_at LIMIT 1000',
  );
  const byTenancy = new Map<string, string[]>();
  for (const row of queued) {
    const key = `${row.project_id}:${row.branch_id}`;
    byTenancy.set(key, [...(byTenancy.get(key) ?? []), row.session_replay_id]);
  }
  for (const [key, ids] of byTenancy) {
    const [projectId = '', branchId = ''] = key.split(':');
    await deleteChunkPayloads(deps.clickhouse, { projectId, branchId }, ids);
    await deps.postgres.execute('DELETE FROM replay_payload_deletions WHERE session_replay_id = ANY($1::uuid[])', [ids]);
  }
  return queued.length;
}

/**
 * Runs retention at start and then hourly.
 *
 * @example
 * const stop = scheduleReplayRetention(deps, 30, log);
 */
export function scheduleReplayRetention(
  deps: { postgres: Postgres; clickhouse: ClickHouse },
  retentionDays: number,
  log: Logger,
  everyMs = 3600_000,
): () => void {
  const run = () =>
    applyReplayRetention(deps, retentionDays, Date.now())
      .then((result) => {
        if (result.chunks + result.replays + result.payloadReplays > 0) log.info(result, 'replay retention');
      })
      .catch((error: unknown) => log.error({ err: error }, 'replay retention failed'));
  void run();
  const timer = setInterval(run, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
