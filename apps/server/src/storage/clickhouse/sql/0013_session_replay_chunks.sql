-- Sightline addition: replay chunk payloads (rrweb events as JSON), ZSTD-compressed, ordered
-- for reading one replay's chunks. The Postgres metadata row is written after the payload,
-- so a payload without metadata is invisible; a retry writes the same key again, which
-- ReplacingMergeTree folds into one row.
CREATE TABLE IF NOT EXISTS analytics_internal.session_replay_chunks{on_cluster} (
    project_id String,
    branch_id String,
    session_replay_id String,
    batch_id String,
    payload String CODEC(ZSTD(3)),
    event_count UInt32,
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE ReplacingMergeTree(created_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (project_id, branch_id, session_replay_id, batch_id);
