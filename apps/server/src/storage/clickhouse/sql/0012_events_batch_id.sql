-- Sightline addition: the browser batch a row came from, so the group-commit writer can
-- refuse a re-sent batch after merging many batches into one insert (ClickHouse's own
-- insert deduplication works per insert, not per batch). The default.events view keeps
-- the column list it was created with, so tenants do not see this column.
ALTER TABLE analytics_internal.events{on_cluster}
    ADD COLUMN IF NOT EXISTS batch_id Nullable(String) AFTER created_at;

-- The writer reads the batches of the last hour at start-up.
ALTER TABLE analytics_internal.events{on_cluster}
    ADD INDEX IF NOT EXISTS created_at_minmax created_at TYPE minmax GRANULARITY 1;
