import type { Postgres } from '../storage/postgres/db.ts';
import { findOpenReplay, type Tenancy } from './upload.ts';

/**
 * The open replay of a refresh token, cached for a second: a tab sends event
 * batches often, and a replay opened a moment ago is still open.
 *
 * @example
 * const openReplayOf = createOpenReplayLookup(postgres);
 * await openReplayOf(tenancy, refreshTokenId, Date.now());
 */
export function createOpenReplayLookup(postgres: Postgres, ttlMs = 1000) {
  const cache = new Map<string, { at: number; id: Promise<string | undefined> }>();
  return (tenancy: Tenancy, refreshTokenId: string, now: number): Promise<string | undefined> => {
    const key = `${tenancy.projectId}:${tenancy.branchId}:${refreshTokenId}`;
    const hit = cache.get(key);
    if (hit && now - hit.at < ttlMs) return hit.id;
    const id = findOpenReplay(postgres, tenancy, refreshTokenId, now);
    cache.set(key, { at: now, id });
    id.catch(() => cache.delete(key));
    if (cache.size > 50_000) cache.delete(cache.keys().next().value as string);
    return id;
  };
}
