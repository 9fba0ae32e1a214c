import type { Postgres } from '../storage/postgres/db.ts';
import { findOpenReplay, REPLAY_IDLE_MS, REPLAY_MAX_AGE_MS, type Tenancy } from './upload.ts';

/** Refresh tokens asked in one query at most. */
const MAX_TOKENS_PER_QUERY = 500;

type Entry = { at: number; askedAt: number; id: Promise<string | undefined> };

/**
 * The open replay of a refresh token, cached for a second: a tab sends event
 * batches often, and a replay opened a moment ago is still open. Every answer
 * comes from a query less than `ttlMs` old. When a token's entry expires, the
 * same query also renews the tenancy's other tokens that were asked within the
 * last `ttlMs` and are past half their life, so a busy tenancy costs a few
 * queries a second instead of one per open tab.
 *
 * @example
 * const openReplayOf = createOpenReplayLookup(postgres);
 * await openReplayOf(tenancy, refreshTokenId, Date.now());
 */
export function createOpenReplayLookup(postgres: Postgres, ttlMs = 1000) {
  const tenancies = new Map<string, Map<string, Entry>>();

  const load = (tenancy: Tenancy, tokens: string[], now: number): Map<string, Promise<string | undefined>> => {
    if (tokens.length === 1) return new Map([[tokens[0]!, findOpenReplay(postgres, tenancy, tokens[0]!, now)]]);
    // The same conditions as findOpenReplay, for several tokens at once.
    const rows = postgres.execute<{ refresh_token_id: string; id: string }>(
      `SELECT DISTINCT ON (refresh_token_id) refresh_token_id, id FROM session_replays
       WHERE project_id = $1 AND branch_id = $2 AND refresh_token_id = ANY($3::uuid[]) AND updated_at > $4 AND started_at > $5
       ORDER BY refresh_token_id, updated_at DESC`,
      [tenancy.projectId, tenancy.branchId, tokens, new Date(now - REPLAY_IDLE_MS), new Date(now - REPLAY_MAX_AGE_MS)],
    );
    const byToken = rows.then((found) => new Map(found.map((row) => [row.refresh_token_id, row.id])));
    return new Map(tokens.map((token) => [token, byToken.then((found) => found.get(token))]));
  };

  return (tenancy: Tenancy, refreshTokenId: string, now: number): Promise<string | undefined> => {
    const tenancyKey = `${tenancy.projectId}:${tenancy.branchId}`;
    let entries = tenancies.get(tenancyKey);
    if (!entries) {
      entries = new Map();
      tenancies.set(tenancyKey, entries);
      if (tenancies.size > 10_000) tenancies.delete(tenancies.keys().next().value as string);
    }
    const hit = entries.get(refreshTokenId);
    if (hit && now - hit.at < ttlMs) {
      hit.askedAt = now;
      return hit.id;
    }
    const tokens = [refreshTokenId];
    for (const [token, entry] of entries) {
      if (token === refreshTokenId) continue;
      if (now - entry.askedAt >= ttlMs) entries.delete(token); // no longer asked: let it go
      else if (now - entry.at >= ttlMs / 2 && tokens.length < MAX_TOKENS_PER_QUERY) tokens.push(token);
    }
    for (const [token, id] of load(tenancy, tokens, now)) {
      const entry: Entry = { at: now, askedAt: token === refreshTokenId ? now : (entries.get(token)?.askedAt ?? now), id };
      entries.set(token, entry);
      id.catch(() => {
        if (entries.get(token) === entry) entries.delete(token);
      });
    }
    return entries.get(refreshTokenId)!.id;
  };
}
