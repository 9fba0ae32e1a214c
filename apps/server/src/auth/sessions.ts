import { randomUUID } from 'node:crypto';
import { and, eq, gt, isNull, or } from 'drizzle-orm';
import { RefreshTokenNotFoundOrExpired, UserNotFound } from '@sightline/protocol';
import type { PostgresQueries } from '../storage/postgres/db.ts';
import { refreshTokens, users } from '../storage/postgres/schema.ts';
import { hashSecret, newSecret } from './secrets.ts';
import type { Tenancy } from './users.ts';

export const DEFAULT_SESSION_MILLIS = 365 * 24 * 3600 * 1000;

export type Session = Readonly<{
  refreshTokenId: string;
  userId: string;
  isAnonymous: boolean;
}>;

const activeAt = (now: Date) =>
  and(isNull(refreshTokens.revokedAt), or(isNull(refreshTokens.expiresAt), gt(refreshTokens.expiresAt, now)));

/**
 * Opens a session for a user of the tenancy: a new opaque refresh token
 * (returned once, stored hashed) with its own id.
 *
 * @example
 * const { refreshToken, session } = await createSession(pg, tenancy, userId);
 */
export async function createSession(
  pg: PostgresQueries,
  tenancy: Tenancy,
  userId: string,
  options: { expiresInMillis?: number | undefined; now?: Date } = {},
): Promise<{ refreshToken: string; session: Session }> {
  const [user] = await pg.db
    .select({ isAnonymous: users.isAnonymous })
    .from(users)
    .where(and(eq(users.projectId, tenancy.projectId), eq(users.branchId, tenancy.branchId), eq(users.id, userId)));
  if (!user) throw new UserNotFound();
  const now = options.now ?? new Date();
  const refreshToken = newSecret('srt');
  const id = randomUUID();
  await pg.db.insert(refreshTokens).values({
    id,
    projectId: tenancy.projectId,
    branchId: tenancy.branchId,
    userId,
    tokenHash: hashSecret(refreshToken),
    createdAt: now,
    expiresAt: new Date(now.getTime() + (options.expiresInMillis ?? DEFAULT_SESSION_MILLIS)),
  });
  return { refreshToken, session: { refreshTokenId: id, userId, isAnonymous: user.isAnonymous } };
}

/** Finds the active session of a refresh token in this tenancy, or throws `REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED`. */
export async function sessionOfRefreshToken(
  pg: PostgresQueries,
  tenancy: Tenancy,
  refreshToken: string,
  now: Date = new Date(),
): Promise<Session> {
  const [row] = await pg.db
    .select({ id: refreshTokens.id, userId: refreshTokens.userId, isAnonymous: users.isAnonymous })
    .from(refreshTokens)
    .innerJoin(
      users,
      and(eq(users.projectId, refreshTokens.projectId), eq(users.branchId, refreshTokens.branchId), eq(users.id, refreshTokens.userId)),
    )
    .where(
      and(
        eq(refreshTokens.tokenHash, hashSecret(refreshToken)),
        eq(refreshTokens.projectId, tenancy.projectId),
        eq(refreshTokens.branchId, tenancy.branchId),
        activeAt(now),
      ),
    );
  if (!row) throw new RefreshTokenNotFoundOrExpired();
  await pg.db.update(refreshTokens).set({ lastUsedAt: now }).where(eq(refreshTokens.id, row.id));
  return { refreshTokenId: row.id, userId: row.userId, isAnonymous: row.isAnonymous };
}

/** Whether a session is still usable (not revoked, not expired, user not deleted). */
export async function isSessionActive(
  pg: PostgresQueries,
  tenancy: Tenancy,
  refreshTokenId: string,
  now: Date = new Date(),
): Promise<boolean> {
  const rows = await pg.db
    .select({ id: refreshTokens.id })
    .from(refreshTokens)
    .where(
      and(
        eq(refreshTokens.id, refreshTokenId),
        eq(refreshTokens.projectId, tenancy.projectId),
        eq(refreshTokens.branchId, tenancy.branchId),
        activeAt(now),
      ),
    );
  return rows.length > 0;
}

/** Revokes a session of this tenancy; false when there was none to revoke. */
export async function revokeSession(pg: PostgresQueries, tenancy: Tenancy, refreshTokenId: string): Promise<boolean> {
  const rows = await pg.db
    .update(refreshTokens)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(refreshTokens.id, refreshTokenId),
        eq(refreshTokens.projectId, tenancy.projectId),
        eq(refreshTokens.branchId, tenancy.branchId),
        isNull(refreshTokens.revokedAt),
      ),
    )
    .returning({ id: refreshTokens.id });
  return rows.length > 0;
}
