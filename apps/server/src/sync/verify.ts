import type { ClickHouse } from '../storage/clickhouse/client.ts';
import type { Postgres } from '../storage/postgres/db.ts';
import type { Tenancy } from './engine.ts';
import { mirrorUser, USER_COLUMNS, type MirroredUser, type SourceUser } from './users-mapping.ts';

export type Difference =
  | { id: string; kind: 'missing' }
  | { id: string; kind: 'extra' }
  | { id: string; kind: 'different'; fields: { field: string; postgres: unknown; clickhouse: unknown }[] };

export type VerifyPage = { checked: number; total: number; differences: Difference[]; next_cursor: string | null };

/**
 * Compares one page of a tenancy's users, by id, between Postgres and the
 * ClickHouse mirror after `FINAL` (deleted rows excluded): users missing from
 * the mirror, mirror rows with no user, and fields that differ.
 *
 * @example
 * const page = await verifyUsersPage(postgres, clickhouse, tenancy, undefined, 1000);
 */
export async function verifyUsersPage(
  postgres: Postgres,
  ch: ClickHouse,
  tenancy: Tenancy,
  cursor: string | undefined,
  limit: number,
): Promise<VerifyPage> {
  const after = cursor ?? '';
  const [{ n: total } = { n: 0 }] = await postgres.execute<{ n: number }>(
    'SELECT count(*)::int AS n FROM users WHERE project_id = $1 AND branch_id = $2',
    [tenancy.projectId, tenancy.branchId],
  );
  const source = await postgres.execute<{ data: SourceUser }>(
    `SELECT to_jsonb(u) AS data FROM users u
     WHERE project_id = $1 AND branch_id = $2 AND id::text > $3 ORDER BY id::text LIMIT $4`,
    [tenancy.projectId, tenancy.branchId, after, limit],
  );
  const full = source.length === limit;
  const upTo = full ? source.at(-1)!.data.id : undefined;
  const mirrored = await ch.query<MirroredUser>({
    name: 'sync.verify-page',
    sql: `SELECT ${USER_COLUMNS.map((c) => (c === 'id' ? 'toString(id) AS id' : c === 'signed_up_at' ? 'toUnixTimestamp64Milli(signed_up_at) AS signed_up_at' : c)).join(', ')}
          FROM analytics_internal.users FINAL
          WHERE project_id = {p:String} AND branch_id = {b:String} AND sync_is_deleted = 0
            AND toString(id) > {after:String} ${upTo ? 'AND toString(id) <= {upTo:String}' : ''}
          ORDER BY toString(id)`,
    params: { p: tenancy.projectId, b: tenancy.branchId, after, ...(upTo ? { upTo } : {}) },
  });
  const byId = new Map(mirrored.map((row) => [row.id, row]));
  const differences: Difference[] = [];
  for (const { data } of source) {
    const mirror = byId.get(data.id);
    byId.delete(data.id);
    if (!mirror) {
      differences.push({ id: data.id, kind: 'missing' });
      continue;
    }
    const expected = mirrorUser(data, 0, false);
    const fields = USER_COLUMNS.filter((c) => String(expected[c]) !== String(mirror[c])).map((field) => ({
      field,
      postgres: expected[field],
      clickhouse: mirror[field],
    }));
    if (fields.length > 0) differences.push({ id: data.id, kind: 'different', fields });
  }
  for (const id of byId.keys()) differences.push({ id, kind: 'extra' });
  return { checked: source.length, total, differences, next_cursor: upTo ?? null };
}
