import { z } from 'zod';
import { defineRoute, tenancyOf, type RouteSpec } from '../http/route.ts';
import type { QueryRunner } from './runner.ts';

export const queryBodySchema = z
  .object({
    query: z.string().max(100_000),
    params: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.unknown()).optional(),
    timeout_ms: z.number().int().min(1000).max(120_000).default(10_000),
  })
  .strict();

export const queryResultSchema = z.object({
  result: z.array(z.record(z.string(), z.unknown())),
  query_id: z.string(),
  stats: z.object({ read_rows: z.number(), read_bytes: z.number(), elapsed_ms: z.number() }),
});

const SERVER_PLUS = ['server', 'admin'] as const;

/**
 * The operator's query route: SQL on one tenancy's analytics, used by
 * `sightline query` while a server holds the embedded data directory.
 *
 * @example
 * const routes = queryRoutes({ runner });
 */
export function queryRoutes(deps: { runner: QueryRunner }): RouteSpec<any, any, any, any>[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/internal/analytics/query',
      summary: "Run ClickHouse SQL over the tenancy's events and users (isolated, read-only, limited)",
      tags: ['analytics'],
      access: ['admin'],
      body: queryBodySchema,
      response: queryResultSchema,
      handler: async ({ auth, body }) =>
        deps.runner.run(tenancyOf(auth), { query: body.query, params: body.params, timeoutMs: body.timeout_ms }),
    }),
    defineRoute({
      method: 'POST',
      url: '/internal/analytics/query/timing',
      summary: 'CPU and wall-clock time of a finished query of this tenancy',
      tags: ['analytics'],
      access: SERVER_PLUS,
      body: z.object({ query_id: z.string().min(1).max(200) }).strict(),
      response: z.object({ stats: z.object({ cpu_time: z.number(), wall_clock_time: z.number() }) }),
      handler: async ({ auth, body }) => ({ stats: deps.runner.timing(tenancyOf(auth), body.query_id) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/internal/operator/projects/:project_id/query',
      summary: "Run SQL over one project's analytics (instance operator)",
      tags: ['analytics'],
      access: 'operator',
      params: z.object({ project_id: z.uuid('Invalid project_id') }),
      body: queryBodySchema.extend({ branch_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('main') }),
      response: queryResultSchema,
      handler: async ({ params, body }) =>
        deps.runner.run(
          { projectId: params.project_id, branchId: body.branch_id },
          { query: body.query, params: body.params, timeoutMs: body.timeout_ms },
        ),
    }),
  ];
}
