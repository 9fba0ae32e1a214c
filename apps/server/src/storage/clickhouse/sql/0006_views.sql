-- The tenant-facing tables. A view stores the column list of `SELECT *` when it is
-- created, so this runs after 0005; a later column change must re-create the view too.
-- SQL SECURITY DEFINER: limited_user reads through the view without grants on
-- analytics_internal.
CREATE OR REPLACE VIEW default.events{on_cluster}
SQL SECURITY DEFINER
AS SELECT *
FROM analytics_internal.events;

CREATE OR REPLACE VIEW default.users{on_cluster}
SQL SECURITY DEFINER
AS SELECT
    project_id,
    branch_id,
    id,
    display_name,
    profile_image_url,
    primary_email,
    primary_email_verified,
    signed_up_at,
    client_metadata,
    client_read_only_metadata,
    server_metadata,
    is_anonymous,
    restricted_by_admin,
    restricted_by_admin_reason,
    restricted_by_admin_private_details
FROM analytics_internal.users
FINAL
WHERE sync_is_deleted = 0;
