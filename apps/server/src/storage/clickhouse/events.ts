import type { ClickHouse } from './client.ts';

export const EVENTS_TABLE = 'analytics_internal.events';

/** One row of `analytics_internal.events`, as written in JSONEachRow. */
export type EventRow = {
  event_type: string;
  /** Milliseconds since the epoch (UTC). */
  event_at: number;
  data: Record<string, unknown>;
  project_id: string;
  branch_id: string;
  user_id: string | null;
  team_id: string | null;
  refresh_token_id: string | null;
  session_replay_id: string | null;
  session_replay_segment_id: string | null;
};

export type WriteResult = { inserted: number; deduped: boolean };

/**
 * Where capabilities hand event rows for durable storage. The promise resolves
 * once the rows are in the engine. With a `dedupKey` (tenancy + batch id) a
 * batch already written is not written again: the result says `deduped`.
 * Implemented by the group-commit writer (ingest) and by {@link directEventSink}.
 */
export interface EventSink {
  write(rows: readonly EventRow[], options?: { dedupKey?: string }): Promise<WriteResult>;
}

/**
 * Writes each call as its own insert. For tools and tests; the server uses
 * the group-commit writer.
 *
 * @example
 * await directEventSink(ch).write([row]);
 */
export function directEventSink(ch: ClickHouse): EventSink {
  return {
    async write(rows, options) {
      if (rows.length === 0) return { inserted: 0, deduped: false };
      await ch.insert({
        name: 'events.insert',
        table: EVENTS_TABLE,
        values: rows as unknown as Record<string, unknown>[],
        settings: {
          ...(options?.dedupKey ? { insert_deduplication_token: options.dedupKey } : {}),
        },
      });
      return { inserted: rows.length, deduped: false };
    },
  };
}
