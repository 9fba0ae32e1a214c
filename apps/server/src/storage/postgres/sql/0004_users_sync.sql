-- Change capture for the users mirror (DESIGN.md section 10). Triggers mark every
-- inserted or updated row for sequencing and turn every delete into a tombstone in the
-- same transaction, so no application code path can bypass them. Only the sequencer
-- assigns sequence ids (see docs/adr/0007-users-sync.md).
CREATE SEQUENCE global_sync_sequence AS bigint;

ALTER TABLE users
  ADD COLUMN sequence_id bigint NULL,
  ADD COLUMN should_update_sequence_id boolean NOT NULL DEFAULT true;

CREATE INDEX users_sequence_idx ON users (project_id, branch_id, sequence_id);
CREATE INDEX users_to_sequence_idx ON users (should_update_sequence_id) WHERE should_update_sequence_id;

CREATE TABLE deleted_rows (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL,
  branch_id text NOT NULL,
  table_name text NOT NULL,
  primary_key jsonb NOT NULL,
  data jsonb NOT NULL,
  deleted_at timestamptz(3) NOT NULL DEFAULT now(),
  sequence_id bigint NULL,
  should_update_sequence_id boolean NOT NULL DEFAULT true
);

CREATE INDEX deleted_rows_sequence_idx ON deleted_rows (project_id, branch_id, table_name, sequence_id);
CREATE INDEX deleted_rows_to_sequence_idx ON deleted_rows (should_update_sequence_id) WHERE should_update_sequence_id;

-- Any write marks the row, except the sequencer's own (the only writer that changes sequence_id).
CREATE FUNCTION users_mark_for_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.sequence_id := NULL;
    NEW.should_update_sequence_id := true;
  ELSIF NEW.sequence_id IS NOT DISTINCT FROM OLD.sequence_id THEN
    NEW.should_update_sequence_id := true;
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER users_mark_for_sync BEFORE INSERT OR UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION users_mark_for_sync();

CREATE FUNCTION users_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO deleted_rows (id, project_id, branch_id, table_name, primary_key, data)
  VALUES (gen_random_uuid(), OLD.project_id, OLD.branch_id, 'users', jsonb_build_object('id', OLD.id), to_jsonb(OLD));
  RETURN OLD;
END;
$$;

CREATE TRIGGER users_tombstone AFTER DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION users_tombstone();

-- Wake the sync engine after each transaction that changed users.
CREATE FUNCTION notify_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('sightline_sync', TG_TABLE_NAME);
  RETURN NULL;
END;
$$;

CREATE TRIGGER users_notify_sync AFTER INSERT OR UPDATE OR DELETE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION notify_sync();
CREATE INDEX users_sequence_global_idx ON users (sequence_id) WHERE sequence_id IS NOT NULL;
CREATE INDEX deleted_rows_sequence_global_idx ON deleted_rows (sequence_id) WHERE sequence_id IS NOT NULL;
