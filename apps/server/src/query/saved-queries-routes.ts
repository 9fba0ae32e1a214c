import { z } from 'zod';
import {
  savedQueryCreateSchema,
  savedQueryFolderCreateSchema,
  savedQueryFolderParamsSchema,
  savedQueryFolderSchema,
  savedQueryFolderUpdateSchema,
  savedQueryListSchema,
  savedQueryParamsSchema,
  savedQuerySchema,
  savedQueryUpdateSchema,
} from '@sightline/protocol';
import { defineRoute, tenancyOf, type RouteSpec } from '../http/route.ts';
import type { Postgres } from '../storage/postgres/db.ts';
import {
  createSavedQuery,
  createSavedQueryFolder,
  deleteSavedQuery,
  deleteSavedQueryFolder,
  getSavedQuery,
  listSavedQueries,
  updateSavedQuery,
  updateSavedQueryFolder,
} from './saved-queries.ts';

export type SavedQueryRoutesDeps = { postgres: Postgres };

const BASE = '/internal/analytics/saved-queries';
const ADMIN = ['admin'] as const;
const TAGS = ['analytics'] as const;
const success = z.object({ success: z.literal(true) });

/**
 * The dashboard's saved queries: folders of named SQL per tenancy, admin only.
 *
 * @example
 * const routes = savedQueryRoutes({ postgres: engines.postgres });
 */
export function savedQueryRoutes(deps: SavedQueryRoutesDeps): RouteSpec<any, any, any, any>[] {
  const pg = deps.postgres;
  return [
    defineRoute({
      method: 'GET',
      url: BASE,
      summary: 'List the saved-query folders of the tenancy with their queries',
      tags: TAGS,
      access: ADMIN,
      response: savedQueryListSchema,
      handler: async ({ auth }) => listSavedQueries(pg, tenancyOf(auth)),
    }),
    defineRoute({
      method: 'POST',
      url: `${BASE}/folders`,
      summary: 'Create a saved-query folder (last unless sort_order is given)',
      tags: TAGS,
      access: ADMIN,
      body: savedQueryFolderCreateSchema,
      response: savedQueryFolderSchema,
      status: 201,
      handler: async ({ auth, body }) => createSavedQueryFolder(pg, tenancyOf(auth), body),
    }),
    defineRoute({
      method: 'PATCH',
      url: `${BASE}/folders/:folder_id`,
      summary: 'Rename or reorder a saved-query folder',
      tags: TAGS,
      access: ADMIN,
      params: savedQueryFolderParamsSchema,
      body: savedQueryFolderUpdateSchema,
      response: savedQueryFolderSchema,
      handler: async ({ auth, params, body }) => updateSavedQueryFolder(pg, tenancyOf(auth), params.folder_id, body),
    }),
    defineRoute({
      method: 'DELETE',
      url: `${BASE}/folders/:folder_id`,
      summary: 'Delete a saved-query folder and its queries',
      tags: TAGS,
      access: ADMIN,
      params: savedQueryFolderParamsSchema,
      response: success,
      handler: async ({ auth, params }) => {
        await deleteSavedQueryFolder(pg, tenancyOf(auth), params.folder_id);
        return { success: true as const };
      },
    }),
    defineRoute({
      method: 'POST',
      url: BASE,
      summary: 'Save a query in a folder',
      tags: TAGS,
      access: ADMIN,
      body: savedQueryCreateSchema,
      response: savedQuerySchema,
      status: 201,
      handler: async ({ auth, body }) => createSavedQuery(pg, tenancyOf(auth), body),
    }),
    defineRoute({
      method: 'GET',
      url: `${BASE}/:query_id`,
      summary: 'Read a saved query',
      tags: TAGS,
      access: ADMIN,
      params: savedQueryParamsSchema,
      response: savedQuerySchema,
      handler: async ({ auth, params }) => getSavedQuery(pg, tenancyOf(auth), params.query_id),
    }),
    defineRoute({
      method: 'PATCH',
      url: `${BASE}/:query_id`,
      summary: 'Update a saved query; folder_id moves it to another folder',
      tags: TAGS,
      access: ADMIN,
      params: savedQueryParamsSchema,
      body: savedQueryUpdateSchema,
      response: savedQuerySchema,
      handler: async ({ auth, params, body }) => updateSavedQuery(pg, tenancyOf(auth), params.query_id, body),
    }),
    defineRoute({
      method: 'DELETE',
      url: `${BASE}/:query_id`,
      summary: 'Delete a saved query',
      tags: TAGS,
      access: ADMIN,
      params: savedQueryParamsSchema,
      response: success,
      handler: async ({ auth, params }) => {
        await deleteSavedQuery(pg, tenancyOf(auth), params.query_id);
        return { success: true as const };
      },
    }),
  ];
}
