-- The seed's column upgrade: IF NOT EXISTS keeps it safe on a table that already has them.
ALTER TABLE analytics_internal.events{on_cluster}
    ADD COLUMN IF NOT EXISTS refresh_token_id Nullable(String) AFTER team_id,
    ADD COLUMN IF NOT EXISTS session_replay_id Nullable(String) AFTER refresh_token_id,
    ADD COLUMN IF NOT EXISTS session_replay_segment_id Nullable(String) AFTER session_replay_id;
