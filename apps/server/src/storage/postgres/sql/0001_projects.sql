-- Projects and their API keys (DESIGN.md section 4). Keys are stored as the
-- SHA-256 of a high-entropy secret; the secret itself is shown once and never stored.
CREATE TABLE projects (
  id uuid PRIMARY KEY,
  display_name text NOT NULL,
  analytics_enabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE project_keys (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('publishable_client', 'secret_server', 'super_secret_admin')),
  secret_hash bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz NULL
);

CREATE INDEX project_keys_project_id_kind_idx ON project_keys (project_id, kind);
