/** A Postgres `users` row as `to_jsonb(users)` renders it. */
export type SourceUser = {
  project_id: string;
  branch_id: string;
  id: string;
  display_name: string | null;
  profile_image_url: string | null;
  primary_email: string | null;
  primary_email_verified: boolean;
  client_metadata: unknown;
  client_read_only_metadata: unknown;
  server_metadata: unknown;
  is_anonymous: boolean;
  restricted_by_admin: boolean;
  restricted_by_admin_reason: string | null;
  restricted_by_admin_private_details: string | null;
  signed_up_at: string;
};

/** A row of `analytics_internal.users` in JSONEachRow form. */
export type MirroredUser = {
  project_id: string;
  branch_id: string;
  id: string;
  display_name: string | null;
  profile_image_url: string | null;
  primary_email: string | null;
  primary_email_verified: 0 | 1;
  signed_up_at: number;
  client_metadata: string;
  client_read_only_metadata: string;
  server_metadata: string;
  is_anonymous: 0 | 1;
  restricted_by_admin: 0 | 1;
  restricted_by_admin_reason: string | null;
  restricted_by_admin_private_details: string | null;
  sync_sequence_id: number;
  sync_is_deleted: 0 | 1;
};

export const USER_COLUMNS = [
  'project_id', 'branch_id', 'id', 'display_name', 'profile_image_url', 'primary_email', 'primary_email_verified',
  'signed_up_at', 'client_metadata', 'client_read_only_metadata', 'server_metadata', 'is_anonymous',
  'restricted_by_admin', 'restricted_by_admin_reason', 'restricted_by_admin_private_details',
] as const;

const flag = (value: boolean): 0 | 1 => (value ? 1 : 0);

/**
 * Maps a source row (or, for a tombstone, the deleted row's last state) to
 * its mirror row: metadata as JSON text, booleans as 0/1, the sequence id as
 * the version. A tombstone keeps the deleted row's own `signed_up_at`, so both
 * versions land in one partition and `FINAL` merges them.
 *
 * @example
 * mirrorUser(row, 42, false).sync_sequence_id; // 42
 */
export function mirrorUser(source: SourceUser, sequenceId: number, deleted: boolean): MirroredUser {
  return {
    project_id: source.project_id,
    branch_id: source.branch_id,
    id: source.id,
    display_name: source.display_name,
    profile_image_url: source.profile_image_url,
    primary_email: source.primary_email,
    primary_email_verified: flag(source.primary_email_verified),
    signed_up_at: Date.parse(source.signed_up_at),
    client_metadata: JSON.stringify(source.client_metadata ?? null),
    client_read_only_metadata: JSON.stringify(source.client_read_only_metadata ?? null),
    server_metadata: JSON.stringify(source.server_metadata ?? null),
    is_anonymous: flag(source.is_anonymous),
    restricted_by_admin: flag(source.restricted_by_admin),
    restricted_by_admin_reason: source.restricted_by_admin_reason,
    restricted_by_admin_private_details: source.restricted_by_admin_private_details,
    sync_sequence_id: sequenceId,
    sync_is_deleted: flag(deleted),
  };
}
