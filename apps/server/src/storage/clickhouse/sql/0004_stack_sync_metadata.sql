-- Sync watermarks per (tenancy, mapping); the latest updated_at wins on merge.
CREATE TABLE IF NOT EXISTS analytics_internal._stack_sync_metadata{on_cluster} (
    tenancy_id UUID,
    mapping_name String,
    last_synced_sequence_id Int64,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE ReplacingMergeTree(updated_at)
ORDER BY (tenancy_id, mapping_name);
