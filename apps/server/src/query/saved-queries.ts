import { randomUUID } from 'node:crypto';
import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import {
  ItemNotFound,
  type SavedQuery,
  type SavedQueryCreate,
  type SavedQueryFolder,
  type SavedQueryFolderCreate,
  type SavedQueryFolderUpdate,
  type SavedQueryList,
  type SavedQueryUpdate,
} from '@sightline/protocol';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { PostgresQueries } from '../storage/postgres/db.ts';
import { savedQueries, savedQueryFolders } from '../storage/postgres/schema.ts';

export type Tenancy = Readonly<{ projectId: string; branchId: string }>;
type FolderRow = typeof savedQueryFolders.$inferSelect;
type QueryRow = typeof savedQueries.$inferSelect;

/** The one place that scopes saved-query rows to the caller's tenancy. */
const inTenancy = (table: typeof savedQueryFolders | typeof savedQueries, tenancy: Tenancy): SQL =>
  and(eq(table.projectId, tenancy.projectId), eq(table.branchId, tenancy.branchId)) as SQL;

const MAX_INT4 = 2_147_483_647;

/**
 * Every folder of the tenancy with its queries. Names sort by code point
 * (`COLLATE "C"`) so PGlite and every PostgreSQL server, whatever its locale,
 * answer in the same order.
 *
 * @example
 * const { folders } = await listSavedQueries(pg, { projectId, branchId: 'main' });
 */
export async function listSavedQueries(pg: PostgresQueries, tenancy: Tenancy): Promise<SavedQueryList> {
  const folderRows = await pg.db
    .select()
    .from(savedQueryFolders)
    .where(inTenancy(savedQueryFolders, tenancy))
    .orderBy(asc(savedQueryFolders.sortOrder), asc(savedQueryFolders.createdAt), asc(savedQueryFolders.id));
  const queryRows = await pg.db
    .select()
    .from(savedQueries)
    .where(inTenancy(savedQueries, tenancy))
    .orderBy(sql`${savedQueries.displayName} COLLATE "C"`, asc(savedQueries.id));
  const folders = folderRows.map((row) => ({ ...toFolder(row), queries: [] as SavedQuery[] }));
  const byId = new Map(folders.map((folder) => [folder.id, folder]));
  // A query created between the two reads may name a folder the first read did not see: it waits for the next list.
  for (const row of queryRows) byId.get(row.folderId)?.queries.push(toSavedQuery(row));
  return { folders };
}

/**
 * Creates a folder; without `sort_order` it goes after the tenancy's last folder.
 *
 * @example
 * const folder = await createSavedQueryFolder(pg, tenancy, { display_name: 'Retention' });
 */
export async function createSavedQueryFolder(
  pg: PostgresQueries,
  tenancy: Tenancy,
  input: SavedQueryFolderCreate,
): Promise<SavedQueryFolder> {
  const last = sql`(SELECT LEAST(COALESCE(MAX(${savedQueryFolders.sortOrder})::bigint + 1, 0), ${MAX_INT4})::int
    FROM ${savedQueryFolders} WHERE ${inTenancy(savedQueryFolders, tenancy)})`;
  const [row] = await pg.db
    .insert(savedQueryFolders)
    .values({
      id: randomUUID(),
      projectId: tenancy.projectId,
      branchId: tenancy.branchId,
      displayName: input.display_name,
      sortOrder: input.sort_order ?? last,
    })
    .returning();
  if (!row) throw new Error('saved query folder insert returned no row');
  return toFolder(row);
}

/** Renames or reorders a folder; `ITEM_NOT_FOUND` when it is not in this tenancy. */
export async function updateSavedQueryFolder(
  pg: PostgresQueries,
  tenancy: Tenancy,
  folderId: string,
  patch: SavedQueryFolderUpdate,
): Promise<SavedQueryFolder> {
  const values: Partial<typeof savedQueryFolders.$inferInsert> = {};
  if (patch.display_name !== undefined) values.displayName = patch.display_name;
  if (patch.sort_order !== undefined) values.sortOrder = patch.sort_order;
  const mine = and(inTenancy(savedQueryFolders, tenancy), eq(savedQueryFolders.id, folderId));
  const [row] =
    Object.keys(values).length === 0
      ? await pg.db.select().from(savedQueryFolders).where(mine).limit(1)
      : await pg.db.update(savedQueryFolders).set(values).where(mine).returning();
  if (!row) throw new ItemNotFound(folderId);
  return toFolder(row);
}

/** Deletes a folder; its queries go with it (foreign key cascade). */
export async function deleteSavedQueryFolder(pg: PostgresQueries, tenancy: Tenancy, folderId: string): Promise<void> {
  const deleted = await pg.db
    .delete(savedQueryFolders)
    .where(and(inTenancy(savedQueryFolders, tenancy), eq(savedQueryFolders.id, folderId)))
    .returning({ id: savedQueryFolders.id });
  if (deleted.length === 0) throw new ItemNotFound(folderId);
}

/**
 * Saves a query in a folder of the tenancy. The foreign key carries the
 * tenancy, so another project's folder id fails in the database, atomically,
 * and answers `ITEM_NOT_FOUND` like an unknown one.
 *
 * @example
 * const query = await createSavedQuery(pg, tenancy, { folder_id, display_name: 'DAU', sql: 'SELECT 1' });
 */
export async function createSavedQuery(pg: PostgresQueries, tenancy: Tenancy, input: SavedQueryCreate): Promise<SavedQuery> {
  const insert = pg.db
    .insert(savedQueries)
    .values({
      id: randomUUID(),
      folderId: input.folder_id,
      projectId: tenancy.projectId,
      branchId: tenancy.branchId,
      displayName: input.display_name,
      sql: input.sql,
      description: input.description ?? null,
    })
    .returning();
  const [row] = await folderMustExist(input.folder_id, insert);
  if (!row) throw new Error('saved query insert returned no row');
  return toSavedQuery(row);
}

/** Reads one saved query; `ITEM_NOT_FOUND` when it is not in this tenancy. */
export async function getSavedQuery(pg: PostgresQueries, tenancy: Tenancy, queryId: string): Promise<SavedQuery> {
  const [row] = await pg.db
    .select()
    .from(savedQueries)
    .where(and(inTenancy(savedQueries, tenancy), eq(savedQueries.id, queryId)))
    .limit(1);
  if (!row) throw new ItemNotFound(queryId);
  return toSavedQuery(row);
}

/** Applies a partial update; a new `folder_id` moves the query (same tenancy only). */
export async function updateSavedQuery(
  pg: PostgresQueries,
  tenancy: Tenancy,
  queryId: string,
  patch: SavedQueryUpdate,
): Promise<SavedQuery> {
  const values: PgUpdateSetSource<typeof savedQueries> = { updatedAt: sql`now()` };
  if (patch.folder_id !== undefined) values.folderId = patch.folder_id;
  if (patch.display_name !== undefined) values.displayName = patch.display_name;
  if (patch.sql !== undefined) values.sql = patch.sql;
  if (patch.description !== undefined) values.description = patch.description;
  const update = pg.db
    .update(savedQueries)
    .set(values)
    .where(and(inTenancy(savedQueries, tenancy), eq(savedQueries.id, queryId)))
    .returning();
  const [row] = patch.folder_id === undefined ? await update : await folderMustExist(patch.folder_id, update);
  if (!row) throw new ItemNotFound(queryId);
  return toSavedQuery(row);
}

/** Deletes a saved query; `ITEM_NOT_FOUND` when it is not in this tenancy. */
export async function deleteSavedQuery(pg: PostgresQueries, tenancy: Tenancy, queryId: string): Promise<void> {
  const deleted = await pg.db
    .delete(savedQueries)
    .where(and(inTenancy(savedQueries, tenancy), eq(savedQueries.id, queryId)))
    .returning({ id: savedQueries.id });
  if (deleted.length === 0) throw new ItemNotFound(queryId);
}

/** Turns the tenancy foreign key's refusal into `ITEM_NOT_FOUND` for the folder. */
async function folderMustExist<T>(folderId: string, statement: PromiseLike<T>): Promise<T> {
  try {
    return await statement;
  } catch (error) {
    if (isForeignKeyViolation(error)) throw new ItemNotFound(folderId);
    throw error;
  }
}

/** SQLSTATE 23503 from either driver; Drizzle wraps driver errors in `cause`. */
function isForeignKeyViolation(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === '23503') return true;
  }
  return false;
}

function toFolder(row: FolderRow): SavedQueryFolder {
  return {
    id: row.id,
    display_name: row.displayName,
    sort_order: row.sortOrder,
    created_at_millis: row.createdAt.getTime(),
  };
}

function toSavedQuery(row: QueryRow): SavedQuery {
  return {
    id: row.id,
    folder_id: row.folderId,
    display_name: row.displayName,
    sql: row.sql,
    description: row.description,
    created_at_millis: row.createdAt.getTime(),
    updated_at_millis: row.updatedAt.getTime(),
  };
}
