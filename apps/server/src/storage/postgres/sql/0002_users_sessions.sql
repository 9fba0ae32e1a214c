-- Users of a tenancy (project, branch) and their sessions (DESIGN.md section 4).
-- Timestamps keep milliseconds, the precision of the API and of keyset cursors.
CREATE TABLE users (
  project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  branch_id text NOT NULL,
  id uuid NOT NULL,
  display_name text NULL,
  profile_image_url text NULL,
  primary_email text NULL,
  primary_email_verified boolean NOT NULL DEFAULT false,
  client_metadata jsonb NULL,
  client_read_only_metadata jsonb NULL,
  server_metadata jsonb NULL,
  is_anonymous boolean NOT NULL DEFAULT false,
  restricted_by_admin boolean NOT NULL DEFAULT false,
  restricted_by_admin_reason text NULL,
  restricted_by_admin_private_details text NULL,
  signed_up_at timestamptz(3) NOT NULL DEFAULT date_trunc('milliseconds', now()),
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, branch_id, id)
);

-- Newest-first listing with a keyset cursor.
CREATE INDEX users_signed_up_idx ON users (project_id, branch_id, signed_up_at DESC, id DESC);

-- A session is a refresh token: opaque, stored as its SHA-256, revocable, gone with its user.
CREATE TABLE refresh_tokens (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL,
  branch_id text NOT NULL,
  user_id uuid NOT NULL,
  token_hash bytea NOT NULL UNIQUE,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  last_used_at timestamptz(3) NULL,
  expires_at timestamptz(3) NULL,
  revoked_at timestamptz(3) NULL,
  FOREIGN KEY (project_id, branch_id, user_id) REFERENCES users (project_id, branch_id, id) ON DELETE CASCADE
);

CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (project_id, branch_id, user_id);
