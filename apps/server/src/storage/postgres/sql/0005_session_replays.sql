-- Session replays (DESIGN.md section 8): one replay per (tenancy, refresh token) while it
-- stays active; chunk metadata here, chunk payloads in ClickHouse. Replays and chunks go
-- with their user.
CREATE TABLE session_replays (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL,
  branch_id text NOT NULL,
  refresh_token_id uuid NOT NULL,
  user_id uuid NOT NULL,
  started_at timestamptz(3) NOT NULL,
  last_event_at timestamptz(3) NOT NULL,
  -- When a chunk last arrived: a replay stays open for 3 minutes after it.
  updated_at timestamptz(3) NOT NULL,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  chunk_count integer NOT NULL DEFAULT 0,
  event_count integer NOT NULL DEFAULT 0,
  FOREIGN KEY (project_id, branch_id, user_id) REFERENCES users (project_id, branch_id, id) ON DELETE CASCADE
);

CREATE INDEX session_replays_open_idx ON session_replays (project_id, branch_id, refresh_token_id, updated_at DESC);
CREATE INDEX session_replays_listing_idx ON session_replays (project_id, branch_id, last_event_at DESC, id DESC);

CREATE TABLE session_replay_chunks (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL,
  branch_id text NOT NULL,
  session_replay_id uuid NOT NULL REFERENCES session_replays (id) ON DELETE CASCADE,
  refresh_token_id uuid NOT NULL,
  batch_id uuid NOT NULL,
  session_replay_segment_id uuid NOT NULL,
  browser_session_id uuid NOT NULL,
  event_count integer NOT NULL,
  byte_length integer NOT NULL,
  first_event_at timestamptz(3) NOT NULL,
  last_event_at timestamptz(3) NOT NULL,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  storage_key text NOT NULL,
  UNIQUE (project_id, branch_id, session_replay_id, batch_id)
);

-- A re-sent batch is found by its refresh token, whichever replay it went to.
CREATE INDEX session_replay_chunks_batch_idx ON session_replay_chunks (project_id, branch_id, refresh_token_id, batch_id);
CREATE INDEX session_replay_chunks_listing_idx ON session_replay_chunks (session_replay_id, first_event_at, id);
CREATE INDEX session_replay_chunks_segment_idx ON session_replay_chunks (project_id, branch_id, session_replay_segment_id);
CREATE INDEX session_replay_chunks_created_idx ON session_replay_chunks (created_at);

-- Payloads live in ClickHouse: a deleted replay (its user deleted, or retention) queues
-- its payloads for deletion there, in the same transaction.
CREATE TABLE replay_payload_deletions (
  session_replay_id uuid PRIMARY KEY,
  project_id uuid NOT NULL,
  branch_id text NOT NULL,
  queued_at timestamptz(3) NOT NULL DEFAULT now()
);

CREATE FUNCTION session_replays_queue_payload_deletion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO replay_payload_deletions (session_replay_id, project_id, branch_id)
  VALUES (OLD.id, OLD.project_id, OLD.branch_id) ON CONFLICT DO NOTHING;
  RETURN OLD;
END;
$$;

CREATE TRIGGER session_replays_queue_payload_deletion AFTER DELETE ON session_replays
  FOR EACH ROW EXECUTE FUNCTION session_replays_queue_payload_deletion();
