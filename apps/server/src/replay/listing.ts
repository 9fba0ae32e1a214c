import { ItemNotFound, SchemaError } from '@sightline/protocol';
import type { ClickHouse } from '../storage/clickhouse/client.ts';
import type { Postgres } from '../storage/postgres/db.ts';
import type { Tenancy } from './upload.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type ReplayFilters = {
  limit: number;
  cursor?: string | undefined;
  userIds?: string[] | undefined;
  durationMsMin?: number | undefined;
  durationMsMax?: number | undefined;
  lastEventAtFromMillis?: number | undefined;
  lastEventAtToMillis?: number | undefined;
  clickCountMin?: number | undefined;
};

const bad = (message: string) => new SchemaError(message);

function integerParam(query: Record<string, string | undefined>, name: string, message: string): number | undefined {
  const raw = query[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw bad(`${name} ${message}`);
  return Number(raw);
}

/**
 * Reads the listing's query parameters with Stack Auth's messages, each naming
 * its parameter.
 *
 * @example
 * parseReplayFilters({ limit: '20', user_ids: 'a,b' }); // throws "user_ids must contain valid UUID values"
 */
export function parseReplayFilters(query: Record<string, string | undefined>): ReplayFilters {
  const limit = integerParam(query, 'limit', 'must be an integer between 1 and 200') ?? 50;
  if (limit < 1 || limit > 200) throw bad('limit must be an integer between 1 and 200');
  const userIds = query.user_ids?.split(',').map((id) => id.trim()).filter((id) => id.length > 0);
  if (userIds && !userIds.every((id) => UUID.test(id))) throw bad('user_ids must contain valid UUID values');
  const nonNegative = 'must be a non-negative integer';
  const timestamp = 'must be a non-negative timestamp in milliseconds';
  const filters: ReplayFilters = {
    limit,
    cursor: query.cursor || undefined,
    userIds: userIds && userIds.length > 0 ? userIds.map((id) => id.toLowerCase()) : undefined,
    durationMsMin: integerParam(query, 'duration_ms_min', nonNegative),
    durationMsMax: integerParam(query, 'duration_ms_max', nonNegative),
    lastEventAtFromMillis: integerParam(query, 'last_event_at_from_millis', timestamp),
    lastEventAtToMillis: integerParam(query, 'last_event_at_to_millis', timestamp),
    clickCountMin: integerParam(query, 'click_count_min', nonNegative),
  };
  if (filters.durationMsMin !== undefined && filters.durationMsMax !== undefined && filters.durationMsMin > filters.durationMsMax) {
    throw bad('duration_ms_min must be less than or equal to duration_ms_max');
  }
  if (
    filters.lastEventAtFromMillis !== undefined &&
    filters.lastEventAtToMillis !== undefined &&
    filters.lastEventAtFromMillis > filters.lastEventAtToMillis
  ) {
    throw bad('last_event_at_from_millis must be less than or equal to last_event_at_to_millis');
  }
  if (filters.cursor && !UUID.test(filters.cursor)) throw new ItemNotFound(filters.cursor);
  return filters;
}

type ReplayRow = {
  id: string;
  user_id: string;
  display_name: string | null;
  primary_email: string | null;
  started_at: Date;
  last_event_at: Date;
  chunk_count: number;
  event_count: number;
};

/**
 * Replays of a tenancy, newest activity first (`last_event_at desc, id desc`,
 * a keyset cursor), filters AND-combined in the database — never a page cut
 * short by filtering afterwards.
 */
export async function listReplays(deps: { postgres: Postgres; clickhouse: ClickHouse }, tenancy: Tenancy, filters: ReplayFilters) {
  const where = ['r.project_id = $1', 'r.branch_id = $2', 'r.chunk_count > 0'];
  const params: unknown[] = [tenancy.projectId, tenancy.branchId];
  const add = (clause: (placeholder: string) => string, value: unknown) => {
    params.push(value);
    where.push(clause(`$${params.length}`));
  };
  if (filters.cursor) {
    const [anchor] = await deps.postgres.execute<{ last_event_at: Date }>(
      'SELECT last_event_at FROM session_replays WHERE id = $1 AND project_id = $2 AND branch_id = $3',
      [filters.cursor, tenancy.projectId, tenancy.branchId],
    );
    if (!anchor) throw new ItemNotFound(filters.cursor);
    params.push(anchor.last_event_at, filters.cursor);
    where.push(`(r.last_event_at, r.id) < ($${params.length - 1}, $${params.length})`);
  }
  if (filters.userIds) add((p) => `r.user_id = ANY(${p}::uuid[])`, filters.userIds);
  const duration = 'EXTRACT(EPOCH FROM (r.last_event_at - r.started_at)) * 1000';
  if (filters.durationMsMin !== undefined) add((p) => `${duration} >= ${p}`, filters.durationMsMin);
  if (filters.durationMsMax !== undefined) add((p) => `${duration} <= ${p}`, filters.durationMsMax);
  if (filters.lastEventAtFromMillis !== undefined) add((p) => `r.last_event_at >= ${p}`, new Date(filters.lastEventAtFromMillis));
  if (filters.lastEventAtToMillis !== undefined) add((p) => `r.last_event_at <= ${p}`, new Date(filters.lastEventAtToMillis));
  if (filters.clickCountMin !== undefined && filters.clickCountMin > 0) {
    const clicks = await clicksPerReplay(deps, tenancy);
    const matching = [...clicks].filter(([, count]) => count >= filters.clickCountMin!).map(([id]) => id);
    add((p) => `r.id = ANY(${p}::uuid[])`, matching);
  }
  params.push(filters.limit + 1);
  const rows = await deps.postgres.execute<ReplayRow>(
    `SELECT r.id, r.user_id, u.display_name, u.primary_email, r.started_at, r.last_event_at, r.chunk_count, r.event_count
     FROM session_replays r
     JOIN users u ON u.project_id = r.project_id AND u.branch_id = r.branch_id AND u.id = r.user_id
     WHERE ${where.join(' AND ')}
     ORDER BY r.last_event_at DESC, r.id DESC
     LIMIT $${params.length}`,
    params,
  );
  const page = rows.slice(0, filters.limit);
  return {
    items: page.map((row) => ({
      id: row.id,
      project_user: { id: row.user_id, display_name: row.display_name, primary_email: row.primary_email },
      started_at_millis: new Date(row.started_at).getTime(),
      last_event_at_millis: new Date(row.last_event_at).getTime(),
      chunk_count: row.chunk_count,
      event_count: row.event_count,
    })),
    pagination: { next_cursor: rows.length > filters.limit ? (page.at(-1)?.id ?? null) : null },
  };
}

/**
 * `$click` events per replay: events tagged with the replay, plus events of
 * its tabs' segments that arrived before the replay existed (untagged), which
 * belong to the first replay of their segment.
 */
export async function clicksPerReplay(deps: { postgres: Postgres; clickhouse: ClickHouse }, tenancy: Tenancy): Promise<Map<string, number>> {
  const rows = await deps.clickhouse.query<{ replay: string | null; segment: string | null; n: string }>({
    name: 'replay.clicks-per-replay',
    sql: `SELECT session_replay_id AS replay, if(session_replay_id IS NULL, session_replay_segment_id, NULL) AS segment, count() AS n
          FROM analytics_internal.events
          WHERE project_id = {p:String} AND branch_id = {b:String} AND event_type = '$click'
            AND (session_replay_id IS NOT NULL OR session_replay_segment_id IS NOT NULL)
          GROUP BY replay, segment`,
    params: { p: tenancy.projectId, b: tenancy.branchId },
  });
  const counts = new Map<string, number>();
  const bySegment = new Map<string, number>();
  for (const row of rows) {
    if (row.replay) counts.set(row.replay, (counts.get(row.replay) ?? 0) + Number(row.n));
    else if (row.segment) bySegment.set(row.segment, Number(row.n));
  }
  if (bySegment.size > 0) {
    const owners = await deps.postgres.execute<{ segment: string; replay: string }>(
      `SELECT DISTINCT ON (c.session_replay_segment_id) c.session_replay_segment_id::text AS segment, c.session_replay_id::text AS replay
       FROM session_replay_chunks c JOIN session_replays r ON r.id = c.session_replay_id
       WHERE c.project_id = $1 AND c.branch_id = $2 AND c.session_replay_segment_id = ANY($3::uuid[])
       ORDER BY c.session_replay_segment_id, r.started_at, r.id`,
      [tenancy.projectId, tenancy.branchId, [...bySegment.keys()]],
    );
    for (const { segment, replay } of owners) counts.set(replay, (counts.get(replay) ?? 0) + (bySegment.get(segment) ?? 0));
  }
  return counts;
}
