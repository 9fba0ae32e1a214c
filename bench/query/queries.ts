/**
 * The standard queries (DESIGN.md §13), each written once with a tenancy hole:
 * through the API the hole is empty (the engine confines the tenant's reader
 * with `additional_table_filters`), directly on the engine it is the same
 * predicate written out (`project_id = … AND branch_id = … AND`).
 */
export type StandardQuery = {
  name: string;
  description: string;
  /** Reads the users view too (the "no view" diagnostic only swaps the events table). */
  joinsUsers: boolean;
  /**
   * `scope(alias)` returns the tenancy predicate for that table alias, with a
   * trailing AND, or ''. `tables` names the events and users tables (the
   * views by default; the diagnostic "no view" run reads the events table).
   */
  sql: (scope: (alias?: string) => string, tables?: Tables) => string;
};

export type Tables = { events: string; users: string };
export const VIEWS: Tables = { events: 'events', users: 'users' };
/** The events table behind the view (diagnostic only: the tenant cannot name it). */
export const EVENTS_TABLE: Tables = { events: 'analytics_internal.events', users: 'users' };

export const STANDARD_QUERIES: readonly StandardQuery[] = [
  {
    name: 'events_per_type_per_day',
    joinsUsers: false,
    description: 'events per type per day, 30 days',
    sql: (scope, t = VIEWS) => `
SELECT toDate(event_at) AS day, event_type, count() AS events
FROM ${t.events}
WHERE ${scope()}event_at >= {from:DateTime64(3, 'UTC')}
GROUP BY day, event_type
ORDER BY day, event_type`,
  },
  {
    name: 'top_paths',
    joinsUsers: false,
    description: 'top 10 page-view paths (data.path::String)',
    sql: (scope, t = VIEWS) => `
SELECT data.path::String AS path, count() AS views, uniq(user_id) AS visitors
FROM ${t.events}
WHERE ${scope()}event_type = '$page-view' AND event_at >= {from:DateTime64(3, 'UTC')}
GROUP BY path
ORDER BY views DESC, path
LIMIT 10`,
  },
  {
    name: 'daily_active_users',
    joinsUsers: false,
    description: 'daily active users (uniq user_id per day)',
    sql: (scope, t = VIEWS) => `
SELECT toDate(event_at) AS day, uniq(user_id) AS dau
FROM ${t.events}
WHERE ${scope()}event_at >= {from:DateTime64(3, 'UTC')} AND user_id IS NOT NULL
GROUP BY day
ORDER BY day`,
  },
  {
    name: 'button_clicks_per_day',
    joinsUsers: false,
    description: "JSON-path filter: $click with data.tag_name::String = 'BUTTON' per day",
    sql: (scope, t = VIEWS) => `
SELECT toDate(event_at) AS day, count() AS clicks
FROM ${t.events}
WHERE ${scope()}event_type = '$click' AND data.tag_name::String = 'BUTTON' AND event_at >= {from:DateTime64(3, 'UTC')}
GROUP BY day
ORDER BY day`,
  },
  {
    name: 'signup_cohorts',
    joinsUsers: true,
    description: 'users ⋈ events: events and active users per sign-up month',
    sql: (scope, t = VIEWS) => `
SELECT toStartOfMonth(u.signed_up_at) AS cohort, count() AS events, uniqExact(e.user_id) AS active_users
FROM ${t.events} AS e
INNER JOIN (SELECT toString(id) AS uid, signed_up_at FROM ${t.users}${scope() === '' ? '' : ` WHERE ${scope().replace(/ AND $/, '')}`}) AS u
  ON e.user_id = u.uid
WHERE ${scope('e')}e.event_at >= {from:DateTime64(3, 'UTC')}
GROUP BY cohort
ORDER BY cohort`,
  },
  {
    name: 'top_users',
    joinsUsers: true,
    description: 'users ⋈ events: top 10 users by events, with display_name',
    sql: (scope, t = VIEWS) => `
SELECT u.display_name AS display_name, u.primary_email AS email, count() AS events
FROM ${t.events} AS e
INNER JOIN ${t.users} AS u ON e.user_id = toString(u.id)
WHERE ${scope('e')}${scope('u')}e.event_at >= {from:DateTime64(3, 'UTC')}
GROUP BY u.id, display_name, email
ORDER BY events DESC, u.id
LIMIT 10`,
  },
];

/** The tenancy predicate as the engine's table filter applies it, for direct SQL. */
export function explicitScope(projectId: string, branchId: string): (alias?: string) => string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(projectId) || !/^[A-Za-z0-9_-]{1,64}$/.test(branchId)) {
    throw new Error('tenancy ids must be plain identifiers');
  }
  return (alias) => {
    const prefix = alias ? `${alias}.` : '';
    return `${prefix}project_id = '${projectId}' AND ${prefix}branch_id = '${branchId}' AND `;
  };
}

/** No predicate: the tenant's reader adds it. */
export const tenantScope = (): string => '';
