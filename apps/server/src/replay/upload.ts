import { randomUUID } from 'node:crypto';
import type { ReplayBatch } from '@sightline/protocol';
import type { ClickHouse } from '../storage/clickhouse/client.ts';
import type { Postgres } from '../storage/postgres/db.ts';
import { writeChunkPayload } from './chunk-store.ts';

/** A replay stays open while chunks keep arriving within this… */
export const REPLAY_IDLE_MS = 3 * 60_000;
/** …and for at most this long after it started. */
export const REPLAY_MAX_AGE_MS = 12 * 3600_000;
const MAX_EVENT_AGE_MS = 7 * 24 * 3600_000;
const MAX_EVENT_LEAD_MS = 5 * 60_000;

export type Tenancy = Readonly<{ projectId: string; branchId: string }>;
export type Uploader = Readonly<{ userId: string; refreshTokenId: string }>;

export type UploadResult = { session_replay_id: string; batch_id: string; s3_key: string; deduped: boolean };

/** The storage key of a chunk: stable, so a retry writes the same payload row again. */
export const storageKey = (tenancy: Tenancy, replayId: string, batchId: string) =>
  `session-replays/${tenancy.projectId}/${tenancy.branchId}/${replayId}/${batchId}`;

/**
 * The time span of a chunk from its rrweb events' `timestamp`s (missing ones
 * fall back to `sent_at_ms`), corrected for the client's clock and clamped like
 * analytics events.
 */
export function chunkTimes(batch: ReplayBatch, receivedAt: number): { first: number; last: number } {
  const offset = receivedAt - batch.sent_at_ms;
  const times = batch.events.map((event) => {
    const raw = typeof event.timestamp === 'number' && Number.isFinite(event.timestamp) ? event.timestamp : batch.sent_at_ms;
    return Math.min(Math.max(raw + offset, receivedAt - MAX_EVENT_AGE_MS), receivedAt + MAX_EVENT_LEAD_MS);
  });
  return { first: Math.min(...times), last: Math.max(...times) };
}

/**
 * Stores one uploaded chunk. A batch id already stored for this refresh token
 * answers `deduped` and changes nothing. Otherwise: find or open the replay
 * under a per-refresh-token lock (two tabs never open two replays), write the
 * payload to ClickHouse, then the metadata in one transaction. A crash before
 * the metadata leaves the chunk invisible, and the retry completes it.
 *
 * @example
 * const result = await uploadChunk(deps, tenancy, uploader, batch, Date.now());
 */
export async function uploadChunk(
  deps: { postgres: Postgres; clickhouse: ClickHouse },
  tenancy: Tenancy,
  uploader: Uploader,
  batch: ReplayBatch,
  receivedAt: number,
  payloadBytes: number,
): Promise<UploadResult> {
  const batchId = batch.batch_id.toLowerCase();
  const existing = await findChunk(deps.postgres, tenancy, uploader.refreshTokenId, batchId);
  if (existing) return { ...existing, batch_id: batchId, deduped: true };

  const { first, last } = chunkTimes(batch, receivedAt);
  const replayId = await deps.postgres.transaction(async (tx) => {
    // One open replay per refresh token: concurrent first uploads queue on this lock.
    await tx.execute('SELECT pg_advisory_xact_lock(hashtext($1))', [
      `replay:${tenancy.projectId}:${tenancy.branchId}:${uploader.refreshTokenId}`,
    ]);
    const [open] = await tx.execute<{ id: string }>(
      `SELECT id FROM session_replays
       WHERE project_id = $1 AND branch_id = $2 AND refresh_token_id = $3
         AND updated_at > $4 AND started_at > $5
       ORDER BY updated_at DESC LIMIT 1`,
      [tenancy.projectId, tenancy.branchId, uploader.refreshTokenId, new Date(receivedAt - REPLAY_IDLE_MS), new Date(receivedAt - REPLAY_MAX_AGE_MS)],
    );
    if (open) {
      await tx.execute('UPDATE session_replays SET updated_at = $2 WHERE id = $1', [open.id, new Date(receivedAt)]);
      return open.id;
    }
    const id = randomUUID();
    await tx.execute(
      `INSERT INTO session_replays (id, project_id, branch_id, refresh_token_id, user_id, started_at, last_event_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [id, tenancy.projectId, tenancy.branchId, uploader.refreshTokenId, uploader.userId, new Date(first), new Date(last), new Date(receivedAt)],
    );
    return id;
  });

  const key = storageKey(tenancy, replayId, batchId);
  await writeChunkPayload(deps.clickhouse, { tenancy, replayId, batchId, events: batch.events, createdAt: receivedAt });

  const inserted = await deps.postgres.transaction(async (tx) => {
    const rows = await tx.execute<{ id: string }>(
      `INSERT INTO session_replay_chunks (id, project_id, branch_id, session_replay_id, refresh_token_id, batch_id,
         session_replay_segment_id, browser_session_id, event_count, byte_length, first_event_at, last_event_at, created_at, storage_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT (project_id, branch_id, session_replay_id, batch_id) DO NOTHING RETURNING id`,
      [
        randomUUID(), tenancy.projectId, tenancy.branchId, replayId, uploader.refreshTokenId, batchId,
        batch.session_replay_segment_id.toLowerCase(), batch.browser_session_id.toLowerCase(), batch.events.length,
        payloadBytes, new Date(first), new Date(last), new Date(receivedAt), key,
      ],
    );
    if (rows.length === 0) return false;
    await tx.execute(
      `UPDATE session_replays SET chunk_count = chunk_count + 1, event_count = event_count + $2,
         started_at = LEAST(started_at, $3), last_event_at = GREATEST(last_event_at, $4), updated_at = GREATEST(updated_at, $5)
       WHERE id = $1`,
      [replayId, batch.events.length, new Date(first), new Date(last), new Date(receivedAt)],
    );
    return true;
  });
  return { session_replay_id: replayId, batch_id: batchId, s3_key: key, deduped: !inserted };
}

async function findChunk(postgres: Postgres, tenancy: Tenancy, refreshTokenId: string, batchId: string) {
  const [row] = await postgres.execute<{ session_replay_id: string; storage_key: string }>(
    `SELECT session_replay_id, storage_key FROM session_replay_chunks
     WHERE project_id = $1 AND branch_id = $2 AND refresh_token_id = $3 AND batch_id = $4 LIMIT 1`,
    [tenancy.projectId, tenancy.branchId, refreshTokenId, batchId],
  );
  return row ? { session_replay_id: row.session_replay_id, s3_key: row.storage_key } : undefined;
}

/**
 * The replay currently open for a refresh token, for tagging analytics events.
 *
 * @example
 * await findOpenReplay(postgres, tenancy, refreshTokenId, Date.now()); // "…uuid…" or undefined
 */
export async function findOpenReplay(postgres: Postgres, tenancy: Tenancy, refreshTokenId: string, now: number) {
  const [row] = await postgres.execute<{ id: string }>(
    `SELECT id FROM session_replays
     WHERE project_id = $1 AND branch_id = $2 AND refresh_token_id = $3 AND updated_at > $4 AND started_at > $5
     ORDER BY updated_at DESC LIMIT 1`,
    [tenancy.projectId, tenancy.branchId, refreshTokenId, new Date(now - REPLAY_IDLE_MS), new Date(now - REPLAY_MAX_AGE_MS)],
  );
  return row?.id;
}
