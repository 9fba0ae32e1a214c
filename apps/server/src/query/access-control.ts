import type { ClickHouse } from '../storage/clickhouse/client.ts';

const POLICIES: Record<string, string> = {
  events_project_isolation: 'events',
  users_project_isolation: 'users',
};

/**
 * On a ClickHouse server, checks that limited_user is still confined: both row
 * policies exist on the views with the tenancy filter, and its only grants are
 * SELECT on default.events and default.users. Returns the drift found (empty
 * when all is well); tenant queries are refused while anything drifted.
 *
 * @example
 * const problems = await verifyServerAccessControl(ch); // [] when intact
 */
export async function verifyServerAccessControl(ch: ClickHouse): Promise<string[]> {
  const problems: string[] = [];
  const policies = await ch.query<{ short_name: string; database: string; table: string; select_filter: string | null }>({
    name: 'query.verify-row-policies',
    sql: `SELECT short_name, database, table, select_filter FROM system.row_policies
          WHERE short_name IN {names:Array(String)} AND has(apply_to_list, 'limited_user')`,
    params: { names: Object.keys(POLICIES) },
  });
  for (const [name, table] of Object.entries(POLICIES)) {
    const policy = policies.find((p) => p.short_name === name && p.database === 'default' && p.table === table);
    if (!policy) problems.push(`row policy ${name} on default.${table} for limited_user is missing`);
    else if (!/SQL_project_id/.test(policy.select_filter ?? '') || !/SQL_branch_id/.test(policy.select_filter ?? '')) {
      problems.push(`row policy ${name} no longer filters on SQL_project_id and SQL_branch_id`);
    }
  }
  const grants = await ch.query<{ access_type: string; database: string | null; table: string | null }>({
    name: 'query.verify-grants',
    sql: "SELECT access_type, database, table FROM system.grants WHERE user_name = 'limited_user'",
  });
  const expected = new Set(['SELECT default.events', 'SELECT default.users']);
  const found = new Set(grants.map((g) => `${g.access_type} ${g.database ?? '*'}.${g.table ?? '*'}`));
  for (const grant of found) if (!expected.has(grant)) problems.push(`limited_user has an unexpected grant: ${grant}`);
  for (const grant of expected) if (!found.has(grant)) problems.push(`limited_user lacks the grant ${grant}`);
  return problems;
}
