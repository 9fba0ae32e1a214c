import { z } from 'zod';

/** Longest saved SQL text, in characters. */
export const MAX_SAVED_QUERY_SQL_LENGTH = 100_000;

// PostgreSQL `text` cannot hold U+0000; refusing it here keeps it a 400, not a 500.
const withoutNul = (schema: z.ZodString) =>
  schema.refine((value) => !value.includes('\u0000'), { message: '{path} must not contain NUL characters' });

const displayName = withoutNul(z.string().min(1).max(256));
const sortOrder = z.number().int().min(-2_147_483_648).max(2_147_483_647);
const description = withoutNul(z.string().max(4096)).nullable();
const sqlText = withoutNul(z.string().min(1).max(MAX_SAVED_QUERY_SQL_LENGTH));

/** Path parameters of `…/saved-queries/folders/:folder_id`. */
export const savedQueryFolderParamsSchema = z.object({ folder_id: z.uuid('Invalid folder_id') });

/** Path parameters of `…/saved-queries/:query_id`. */
export const savedQueryParamsSchema = z.object({ query_id: z.uuid('Invalid query_id') });

/** Body of `POST /internal/analytics/saved-queries/folders`; without `sort_order` the folder goes last. */
export const savedQueryFolderCreateSchema = z
  .object({ display_name: displayName, sort_order: sortOrder.optional() })
  .strict();
export type SavedQueryFolderCreate = z.infer<typeof savedQueryFolderCreateSchema>;

/** Body of `PATCH /internal/analytics/saved-queries/folders/:folder_id`. */
export const savedQueryFolderUpdateSchema = savedQueryFolderCreateSchema.partial().strict();
export type SavedQueryFolderUpdate = z.infer<typeof savedQueryFolderUpdateSchema>;

/** Body of `POST /internal/analytics/saved-queries`. */
export const savedQueryCreateSchema = z
  .object({
    folder_id: z.uuid('Invalid folder_id'),
    display_name: displayName,
    sql: sqlText,
    description: description.optional(),
  })
  .strict();
export type SavedQueryCreate = z.infer<typeof savedQueryCreateSchema>;

/** Body of `PATCH /internal/analytics/saved-queries/:query_id`; `folder_id` moves it to another folder. */
export const savedQueryUpdateSchema = savedQueryCreateSchema.partial().strict();
export type SavedQueryUpdate = z.infer<typeof savedQueryUpdateSchema>;

/** A saved query as the API returns it. */
export const savedQuerySchema = z.object({
  id: z.string(),
  folder_id: z.string(),
  display_name: z.string(),
  sql: z.string(),
  description: z.string().nullable(),
  created_at_millis: z.number(),
  updated_at_millis: z.number(),
});
export type SavedQuery = z.infer<typeof savedQuerySchema>;

/** A folder as the create and update endpoints return it. */
export const savedQueryFolderSchema = z.object({
  id: z.string(),
  display_name: z.string(),
  sort_order: z.number(),
  created_at_millis: z.number(),
});
export type SavedQueryFolder = z.infer<typeof savedQueryFolderSchema>;

/**
 * Answer of `GET /internal/analytics/saved-queries`: folders by `sort_order`,
 * creation time, id; the queries of a folder by `display_name`, id.
 */
export const savedQueryListSchema = z.object({
  folders: z.array(savedQueryFolderSchema.extend({ queries: z.array(savedQuerySchema) })),
});
export type SavedQueryList = z.infer<typeof savedQueryListSchema>;
