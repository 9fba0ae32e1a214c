import { z } from 'zod';
import { defineRoute, tenancyOf, type RouteSpec } from '../http/route.ts';
import type { ClickHouse } from '../storage/clickhouse/client.ts';
import type { Postgres } from '../storage/postgres/db.ts';
import { readWatermark, USERS_MAPPING, type Tenancy } from './engine.ts';
import type { SyncScheduler } from './scheduler.ts';
import { verifyUsersPage } from './verify.ts';

export type SyncRoutesDeps = { postgres: Postgres; clickhouse: ClickHouse; scheduler: SyncScheduler };

const millis = (value: number | undefined) => value ?? null;
const branchId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('main');

/** Per mapping: the source's max sequence id, the watermark, the backlog and the sync's health. */
export async function syncStatus(deps: SyncRoutesDeps, tenancy: Tenancy) {
  const watermark = await readWatermark(deps.clickhouse, tenancy);
  const [source] = await deps.postgres.execute<{ max_id: number | null; unsynced: number; unsequenced: number; watermark: number }>(
    `SELECT max(sequence_id) AS max_id,
            count(*) FILTER (WHERE sequence_id > $3)::int AS unsynced,
            count(*) FILTER (WHERE should_update_sequence_id)::int AS unsequenced
     FROM (
       SELECT sequence_id, should_update_sequence_id FROM users WHERE project_id = $1 AND branch_id = $2
       UNION ALL
       SELECT sequence_id, should_update_sequence_id FROM deleted_rows
       WHERE project_id = $1 AND branch_id = $2 AND table_name = 'users'
     ) changes`,
    [tenancy.projectId, tenancy.branchId, watermark],
  );
  const health = deps.scheduler.health();
  return {
    mappings: [
      {
        mapping: USERS_MAPPING,
        source_max_sequence_id: source?.max_id ?? 0,
        last_synced_sequence_id: watermark,
        backlog: (source?.unsynced ?? 0) + (source?.unsequenced ?? 0),
        last_success_at_millis: millis(health.lastSuccessAt),
        last_error_at_millis: millis(health.lastErrorAt),
        last_error: health.lastError ?? null,
      },
    ],
  };
}

/**
 * Sync status for a project's admin; on-demand runs and verification for the operator CLI.
 *
 * @example
 * const routes = syncRoutes({ postgres, clickhouse, scheduler });
 */
export function syncRoutes(deps: SyncRoutesDeps): RouteSpec<any, any, any, any>[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/internal/sync/status',
      summary: 'Users sync: source max sequence id, watermark, backlog, last success and error',
      tags: ['sync'],
      access: ['admin'],
      handler: async ({ auth }) => syncStatus(deps, tenancyOf(auth)),
    }),
    defineRoute({
      method: 'POST',
      url: '/internal/operator/sync/run',
      summary: 'Sequence and mirror every pending change now (instance operator)',
      tags: ['sync'],
      access: 'operator',
      handler: async () => deps.scheduler.runOnce(),
    }),
    defineRoute({
      method: 'GET',
      url: '/internal/operator/sync/tenancies',
      summary: 'Every (project, branch) that has users or deleted users (instance operator)',
      tags: ['sync'],
      access: 'operator',
      handler: async () => ({
        tenancies: await deps.postgres.execute<{ project_id: string; branch_id: string }>(
          `SELECT DISTINCT project_id::text, branch_id FROM (
             SELECT project_id, branch_id FROM users
             UNION SELECT project_id, branch_id FROM deleted_rows WHERE table_name = 'users'
           ) t ORDER BY 1, 2`,
        ),
      }),
    }),
    defineRoute({
      method: 'GET',
      url: '/internal/operator/projects/:project_id/sync/verify',
      summary: "Compare one page of a tenancy's users in Postgres and ClickHouse (instance operator)",
      tags: ['sync'],
      access: 'operator',
      params: z.object({ project_id: z.uuid('Invalid project_id') }),
      query: z
        .object({
          branch_id: branchId,
          cursor: z.uuid('Invalid cursor').optional(),
          limit: z.coerce.number().int().min(1).max(10_000).default(1000),
        })
        .strict(),
      handler: async ({ params, query }) =>
        verifyUsersPage(deps.postgres, deps.clickhouse, { projectId: params.project_id, branchId: query.branch_id }, query.cursor, query.limit),
    }),
  ];
}
