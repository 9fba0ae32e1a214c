-- Change capture that raw SQL cannot slip past (docs/adr/0007-users-sync.md):
-- * the sequencer marks its own writes with a transaction-local setting, so any other
--   UPDATE marks the row, even one that sets sequence_id or should_update_sequence_id;
-- * an UPDATE that changes a user's key leaves a tombstone for the old key;
-- * TRUNCATE leaves a tombstone for every row it removes.
CREATE OR REPLACE FUNCTION users_mark_for_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND current_setting('sightline.sequencer', true) = 'on' THEN
    RETURN NEW;
  END IF;
  NEW.sequence_id := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.sequence_id END;
  NEW.should_update_sequence_id := true;
  IF TG_OP = 'UPDATE' AND (NEW.project_id, NEW.branch_id, NEW.id) IS DISTINCT FROM (OLD.project_id, OLD.branch_id, OLD.id) THEN
    INSERT INTO deleted_rows (id, project_id, branch_id, table_name, primary_key, data)
    VALUES (gen_random_uuid(), OLD.project_id, OLD.branch_id, 'users', jsonb_build_object('id', OLD.id), to_jsonb(OLD));
  END IF;
  RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION deleted_rows_mark_for_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('sightline.sequencer', true) = 'on' THEN
    RETURN NEW;
  END IF;
  NEW.sequence_id := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.sequence_id END;
  NEW.should_update_sequence_id := true;
  RETURN NEW;
END;
$$;

CREATE TRIGGER deleted_rows_mark_for_sync BEFORE INSERT OR UPDATE ON deleted_rows
  FOR EACH ROW EXECUTE FUNCTION deleted_rows_mark_for_sync();

CREATE FUNCTION users_tombstone_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO deleted_rows (id, project_id, branch_id, table_name, primary_key, data)
  SELECT gen_random_uuid(), u.project_id, u.branch_id, 'users', jsonb_build_object('id', u.id), to_jsonb(u) FROM users u;
  PERFORM pg_notify('sightline_sync', 'users');
  RETURN NULL;
END;
$$;

CREATE TRIGGER users_tombstone_truncate BEFORE TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION users_tombstone_all();

-- The sequencer's own writes wake nobody: notifying on them made the sync run again and
-- again (about 30 runs a second while idle).
CREATE OR REPLACE FUNCTION notify_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('sightline.sequencer', true) = 'on' THEN
    RETURN NULL;
  END IF;
  PERFORM pg_notify('sightline_sync', TG_TABLE_NAME);
  RETURN NULL;
END;
$$;
