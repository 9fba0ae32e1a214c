-- The internal database holds the real tables; tenants only ever see views in `default`.
CREATE DATABASE IF NOT EXISTS analytics_internal{on_cluster};
