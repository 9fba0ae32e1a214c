-- Events as the seed first created them. refresh_token_id and the replay columns
-- arrive in 0005, so a table created by an older release upgrades the same way.
CREATE TABLE IF NOT EXISTS analytics_internal.events{on_cluster} (
    event_type LowCardinality(String),
    event_at DateTime64(3, 'UTC'),
    data JSON,
    project_id String,
    branch_id String,
    user_id Nullable(String),
    team_id Nullable(String),
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE MergeTree
PARTITION BY toYYYYMM(event_at)
ORDER BY (project_id, branch_id, event_at);
