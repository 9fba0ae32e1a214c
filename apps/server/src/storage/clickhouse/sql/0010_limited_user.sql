-- sightline: server-only
-- The user tenant SQL runs as on a ClickHouse server: it reads the two views only, and
-- the row policies keep it to the tenancy named by the per-query settings.
CREATE USER IF NOT EXISTS limited_user{on_cluster} IDENTIFIED WITH sha256_password BY {limited_password};

-- Tenancy settings stay settable under readonly = 1 (needs the server's
-- custom_settings_prefixes to include SQL_). An unset tenancy matches no row.
ALTER USER limited_user{on_cluster}
    SETTINGS SQL_project_id = '' CHANGEABLE_IN_READONLY, SQL_branch_id = '' CHANGEABLE_IN_READONLY;

-- On the views, as in the seed: a SQL SECURITY DEFINER view reads its tables as the
-- definer, so a policy on analytics_internal.* for limited_user would never apply.
CREATE ROW POLICY IF NOT EXISTS events_project_isolation{on_cluster} ON default.events
    FOR SELECT USING project_id = getSetting('SQL_project_id') AND branch_id = getSetting('SQL_branch_id')
    TO limited_user;

CREATE ROW POLICY IF NOT EXISTS users_project_isolation{on_cluster} ON default.users
    FOR SELECT USING project_id = getSetting('SQL_project_id') AND branch_id = getSetting('SQL_branch_id')
    TO limited_user;

REVOKE{on_cluster} ALL ON *.* FROM limited_user;
REVOKE{on_cluster} ALL FROM limited_user;
GRANT{on_cluster} SELECT ON default.events TO limited_user;
GRANT{on_cluster} SELECT ON default.users TO limited_user;
