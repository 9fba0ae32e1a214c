-- Sightline addition: remember the last 1000 insert tokens so a re-sent batch
-- (same insert_deduplication_token) adds no rows on a non-replicated table.
ALTER TABLE analytics_internal.events{on_cluster}
    MODIFY SETTING non_replicated_deduplication_window = 1000;
