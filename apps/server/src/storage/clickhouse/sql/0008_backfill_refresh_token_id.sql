-- Fill the refresh_token_id column (added in 0005) from the normalised data of
-- $token-refresh rows written before the column existed.
ALTER TABLE analytics_internal.events{on_cluster}
UPDATE refresh_token_id = data.refresh_token_id::Nullable(String)
WHERE event_type = '$token-refresh'
  AND refresh_token_id IS NULL
  AND data.refresh_token_id::Nullable(String) IS NOT NULL
SETTINGS mutations_sync = 2;
