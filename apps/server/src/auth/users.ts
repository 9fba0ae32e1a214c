import { randomUUID } from 'node:crypto';
import { and, desc, eq, lt, or, type SQL } from 'drizzle-orm';
import { ItemNotFound, UserNotFound, type User, type UserCreate, type UserUpdate } from '@sightline/protocol';
import type { PostgresQueries } from '../storage/postgres/db.ts';
import { refreshTokens, users } from '../storage/postgres/schema.ts';

export type Tenancy = Readonly<{ projectId: string; branchId: string }>;
type UserRow = typeof users.$inferSelect;

const inTenancy = (tenancy: Tenancy): SQL =>
  and(eq(users.projectId, tenancy.projectId), eq(users.branchId, tenancy.branchId)) as SQL;

/**
 * Creates a user in a tenancy.
 *
 * @example
 * const user = await createUser(pg, tenancy, { display_name: 'Ada', primary_email: 'ada@example.com' });
 */
export async function createUser(pg: PostgresQueries, tenancy: Tenancy, input: UserCreate): Promise<User> {
  const [row] = await pg.db
    .insert(users)
    .values({
      projectId: tenancy.projectId,
      branchId: tenancy.branchId,
      id: randomUUID(),
      ...columnsFrom(input),
      ...(input.signed_up_at_millis !== undefined ? { signedUpAt: new Date(input.signed_up_at_millis) } : {}),
    })
    .returning();
  if (!row) throw new Error('user insert returned no row');
  return toUser(row);
}

/** Reads one user; `USER_NOT_FOUND` when absent from this tenancy. */
export async function getUser(pg: PostgresQueries, tenancy: Tenancy, userId: string): Promise<User> {
  return toUser(await findUserRow(pg, tenancy, userId));
}

/** Applies a partial update; `USER_NOT_FOUND` when absent from this tenancy. */
export async function updateUser(pg: PostgresQueries, tenancy: Tenancy, userId: string, patch: UserUpdate): Promise<User> {
  const values = {
    ...columnsFrom(patch),
    ...(patch.signed_up_at_millis !== undefined ? { signedUpAt: new Date(patch.signed_up_at_millis) } : {}),
    updatedAt: new Date(),
  };
  const [row] = await pg.db
    .update(users)
    .set(values)
    .where(and(inTenancy(tenancy), eq(users.id, userId)))
    .returning();
  if (!row) throw new UserNotFound();
  return toUser(row);
}

/**
 * Deletes a user and its sessions; returns the ids of the deleted sessions so
 * callers can drop them from caches. (The foreign key cascade would delete them
 * too, but without telling which.)
 */
export async function deleteUser(pg: PostgresQueries, tenancy: Tenancy, userId: string): Promise<string[]> {
  const sessions = await pg.db
    .delete(refreshTokens)
    .where(
      and(
        eq(refreshTokens.projectId, tenancy.projectId),
        eq(refreshTokens.branchId, tenancy.branchId),
        eq(refreshTokens.userId, userId),
      ),
    )
    .returning({ id: refreshTokens.id });
  const deleted = await pg.db
    .delete(users)
    .where(and(inTenancy(tenancy), eq(users.id, userId)))
    .returning({ id: users.id });
  if (deleted.length === 0) throw new UserNotFound();
  return sessions.map((session) => session.id);
}

/**
 * Lists users newest first with a keyset cursor (the id of the last user of
 * the previous page), so pages never skip or repeat users with equal sign-up times.
 */
export async function listUsers(
  pg: PostgresQueries,
  tenancy: Tenancy,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ items: User[]; pagination: { next_cursor: string | null } }> {
  let after: SQL | undefined;
  if (page.cursor) {
    const [anchor] = await pg.db
      .select({ signedUpAt: users.signedUpAt, id: users.id })
      .from(users)
      .where(and(inTenancy(tenancy), eq(users.id, page.cursor)));
    if (!anchor) throw new ItemNotFound(page.cursor);
    after = or(lt(users.signedUpAt, anchor.signedUpAt), and(eq(users.signedUpAt, anchor.signedUpAt), lt(users.id, anchor.id)));
  }
  const rows = await pg.db
    .select()
    .from(users)
    .where(after ? and(inTenancy(tenancy), after) : inTenancy(tenancy))
    .orderBy(desc(users.signedUpAt), desc(users.id))
    .limit(page.limit + 1);
  const items = rows.slice(0, page.limit).map(toUser);
  const more = rows.length > page.limit;
  return { items, pagination: { next_cursor: more ? (items.at(-1)?.id ?? null) : null } };
}

async function findUserRow(pg: PostgresQueries, tenancy: Tenancy, userId: string): Promise<UserRow> {
  const [row] = await pg.db
    .select()
    .from(users)
    .where(and(inTenancy(tenancy), eq(users.id, userId)))
    .limit(1);
  if (!row) throw new UserNotFound();
  return row;
}

function columnsFrom(input: UserUpdate): Partial<typeof users.$inferInsert> {
  const out: Partial<typeof users.$inferInsert> = {};
  if (input.primary_email !== undefined) out.primaryEmail = input.primary_email;
  if (input.primary_email_verified !== undefined) out.primaryEmailVerified = input.primary_email_verified;
  if (input.display_name !== undefined) out.displayName = input.display_name;
  if (input.profile_image_url !== undefined) out.profileImageUrl = input.profile_image_url;
  if (input.client_metadata !== undefined) out.clientMetadata = input.client_metadata;
  if (input.client_read_only_metadata !== undefined) out.clientReadOnlyMetadata = input.client_read_only_metadata;
  if (input.server_metadata !== undefined) out.serverMetadata = input.server_metadata;
  if (input.is_anonymous !== undefined) out.isAnonymous = input.is_anonymous;
  if (input.restricted_by_admin !== undefined) out.restrictedByAdmin = input.restricted_by_admin;
  if (input.restricted_by_admin_reason !== undefined) out.restrictedByAdminReason = input.restricted_by_admin_reason;
  if (input.restricted_by_admin_private_details !== undefined) {
    out.restrictedByAdminPrivateDetails = input.restricted_by_admin_private_details;
  }
  return out;
}

/** The API shape of a stored user. */
export function toUser(row: UserRow): User {
  return {
    id: row.id,
    primary_email: row.primaryEmail,
    primary_email_verified: row.primaryEmailVerified,
    display_name: row.displayName,
    profile_image_url: row.profileImageUrl,
    client_metadata: row.clientMetadata,
    client_read_only_metadata: row.clientReadOnlyMetadata,
    server_metadata: row.serverMetadata,
    is_anonymous: row.isAnonymous,
    restricted_by_admin: row.restrictedByAdmin,
    restricted_by_admin_reason: row.restrictedByAdminReason,
    restricted_by_admin_private_details: row.restrictedByAdminPrivateDetails,
    signed_up_at_millis: row.signedUpAt.getTime(),
    signed_up_at: row.signedUpAt.toISOString(),
  };
}
