import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClickHouse } from '../storage/clickhouse/client.ts';
import { verifyServerAccessControl } from './access-control.ts';

/** A ClickHouse double answering the two system-table reads with canned rows. */
function fakeServer(policies: unknown[], grants: unknown[]): ClickHouse {
  return {
    query: async ({ name }: { name: string }) => (name === 'query.verify-row-policies' ? policies : grants),
  } as unknown as ClickHouse;
}

const filter = "(project_id = getSetting('SQL_project_id')) AND (branch_id = getSetting('SQL_branch_id'))";
const intactPolicies = [
  { short_name: 'events_project_isolation', database: 'default', table: 'events', select_filter: filter },
  { short_name: 'users_project_isolation', database: 'default', table: 'users', select_filter: filter },
];
const intactGrants = [
  { access_type: 'SELECT', database: 'default', table: 'events' },
  { access_type: 'SELECT', database: 'default', table: 'users' },
];

test('intact policies and grants report no drift', async () => {
  assert.deepEqual(await verifyServerAccessControl(fakeServer(intactPolicies, intactGrants)), []);
});

test('a missing or weakened policy is drift', async () => {
  const weakened = [{ ...intactPolicies[0], select_filter: '1' }];
  const problems = await verifyServerAccessControl(fakeServer(weakened, intactGrants));
  assert.deepEqual(problems, [
    'row policy events_project_isolation no longer filters on SQL_project_id and SQL_branch_id',
    'row policy users_project_isolation on default.users for limited_user is missing',
  ]);
});

test('an extra or missing grant is drift', async () => {
  const grants = [intactGrants[0], { access_type: 'SELECT', database: 'analytics_internal', table: null }];
  assert.deepEqual(await verifyServerAccessControl(fakeServer(intactPolicies, grants)), [
    'limited_user has an unexpected grant: SELECT analytics_internal.*',
    'limited_user lacks the grant SELECT default.users',
  ]);
});
