import {
  boolean,
  customType,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';

/** `bytea` as a Node Buffer on both drivers (PGlite returns a Uint8Array). */
const bytea = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => Buffer.from(value),
});

/** Mirrors sql/0001_projects.sql; the SQL files are the source of truth. */
export const projects = pgTable('projects', {
  id: uuid('id').primaryKey(),
  displayName: text('display_name').notNull(),
  analyticsEnabled: boolean('analytics_enabled').notNull().default(false),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const projectKeyKinds = ['publishable_client', 'secret_server', 'super_secret_admin'] as const;
export type ProjectKeyKind = (typeof projectKeyKinds)[number];

export const projectKeys = pgTable(
  'project_keys',
  {
    id: uuid('id').primaryKey(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: projectKeyKinds }).notNull(),
    secretHash: bytea('secret_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (table) => [index('project_keys_project_id_kind_idx').on(table.projectId, table.kind)],
);

const millis = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });
type JsonObject = Record<string, unknown>;

/** Mirrors sql/0002_users_sessions.sql. */
export const users = pgTable(
  'users',
  {
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    branchId: text('branch_id').notNull(),
    id: uuid('id').notNull(),
    displayName: text('display_name'),
    profileImageUrl: text('profile_image_url'),
    primaryEmail: text('primary_email'),
    primaryEmailVerified: boolean('primary_email_verified').notNull().default(false),
    clientMetadata: jsonb('client_metadata').$type<JsonObject | null>(),
    clientReadOnlyMetadata: jsonb('client_read_only_metadata').$type<JsonObject | null>(),
    serverMetadata: jsonb('server_metadata').$type<JsonObject | null>(),
    isAnonymous: boolean('is_anonymous').notNull().default(false),
    restrictedByAdmin: boolean('restricted_by_admin').notNull().default(false),
    restrictedByAdminReason: text('restricted_by_admin_reason'),
    restrictedByAdminPrivateDetails: text('restricted_by_admin_private_details'),
    signedUpAt: millis('signed_up_at').notNull().defaultNow(),
    createdAt: millis('created_at').notNull().defaultNow(),
    updatedAt: millis('updated_at').notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.projectId, table.branchId, table.id] }),
    index('users_signed_up_idx').on(table.projectId, table.branchId, table.signedUpAt.desc(), table.id.desc()),
  ],
);

export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    id: uuid('id').primaryKey(),
    projectId: uuid('project_id').notNull(),
    branchId: text('branch_id').notNull(),
    userId: uuid('user_id').notNull(),
    tokenHash: bytea('token_hash').notNull().unique(),
    createdAt: millis('created_at').notNull().defaultNow(),
    lastUsedAt: millis('last_used_at'),
    expiresAt: millis('expires_at'),
    revokedAt: millis('revoked_at'),
  },
  (table) => [index('refresh_tokens_user_idx').on(table.projectId, table.branchId, table.userId)],
);

// Appended without touching the import line above (parallel edits); safe to merge into it.

/** Mirrors sql/0003_saved_queries.sql. */
export const savedQueryFolders = pgTable(
  'saved_query_folders',
  {
    id: uuid('id').primaryKey(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    branchId: text('branch_id').notNull(),
    displayName: text('display_name').notNull(),
    sortOrder: integer('sort_order').notNull(),
    createdAt: millis('created_at').notNull().defaultNow(),
  },
  (table) => [
    unique('saved_query_folders_project_id_branch_id_id_key').on(table.projectId, table.branchId, table.id),
    index('saved_query_folders_tenancy_idx').on(table.projectId, table.branchId),
  ],
);

export const savedQueries = pgTable(
  'saved_queries',
  {
    id: uuid('id').primaryKey(),
    folderId: uuid('folder_id').notNull(),
    projectId: uuid('project_id').notNull(),
    branchId: text('branch_id').notNull(),
    displayName: text('display_name').notNull(),
    sql: text('sql').notNull(),
    description: text('description'),
    createdAt: millis('created_at').notNull().defaultNow(),
    updatedAt: millis('updated_at').notNull().defaultNow(),
  },
  (table) => [
    foreignKey({
      columns: [table.projectId, table.branchId, table.folderId],
      foreignColumns: [savedQueryFolders.projectId, savedQueryFolders.branchId, savedQueryFolders.id],
    }).onDelete('cascade'),
    index('saved_queries_tenancy_folder_idx').on(table.projectId, table.branchId, table.folderId),
  ],
);
