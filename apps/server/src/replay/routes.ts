import { z } from 'zod';
import {
  AnalyticsNotEnabled,
  ItemNotFound,
  MAX_REPLAY_BODY_BYTES,
  MAX_REPLAY_EVENTS,
  PayloadTooLarge,
  RefreshTokenIdRequired,
  replayBatchResultSchema,
  replayBatchSchema,
  replayChunkSchema,
  replaySchema,
  SchemaError,
  UserAuthenticationRequired,
} from '@sightline/protocol';
import { defineRoute, tenancyOf, type RouteSpec } from '../http/route.ts';
import type { ClickHouse } from '../storage/clickhouse/client.ts';
import type { Postgres } from '../storage/postgres/db.ts';
import { readChunkPayloads } from './chunk-store.ts';
import { listReplays, parseReplayFilters } from './listing.ts';
import { uploadChunk, type Tenancy } from './upload.ts';

export type ReplayRoutesDeps = { postgres: Postgres; clickhouse: ClickHouse; now?: () => number };

const ADMIN = ['admin'] as const;
const replayParams = z.object({ session_replay_id: z.uuid('Invalid session_replay_id') });
const chunkParams = replayParams.extend({ chunk_id: z.uuid('Invalid chunk_id') });
/** Chunk payloads read at once for `/events`. */
const READ_CONCURRENCY = 4;

type ChunkRow = {
  id: string;
  batch_id: string;
  session_replay_segment_id: string;
  browser_session_id: string;
  event_count: number;
  byte_length: number;
  first_event_at: Date;
  last_event_at: Date;
  created_at: Date;
};

const chunkItem = (row: ChunkRow) => ({
  id: row.id,
  batch_id: row.batch_id,
  session_replay_segment_id: row.session_replay_segment_id,
  browser_session_id: row.browser_session_id,
  event_count: row.event_count,
  byte_length: row.byte_length,
  first_event_at_millis: new Date(row.first_event_at).getTime(),
  last_event_at_millis: new Date(row.last_event_at).getTime(),
  created_at_millis: new Date(row.created_at).getTime(),
});

const CHUNK_COLUMNS = `id, batch_id, session_replay_segment_id, browser_session_id, event_count, byte_length,
  first_event_at, last_event_at, created_at`;

/**
 * Replay upload (client+, user token) and the admin listing and playback API.
 *
 * @example
 * const routes = replayRoutes({ postgres, clickhouse });
 */
export function replayRoutes(deps: ReplayRoutesDeps): RouteSpec<any, any, any, any>[] {
  const now = deps.now ?? Date.now;
  const requireReplay = async (tenancy: Tenancy, replayId: string) => {
    const [row] = await deps.postgres.execute<{ id: string }>(
      'SELECT id FROM session_replays WHERE id = $1 AND project_id = $2 AND branch_id = $3 AND chunk_count > 0',
      [replayId, tenancy.projectId, tenancy.branchId],
    );
    if (!row) throw new ItemNotFound(replayId);
  };
  const chunksOf = (replayId: string, after?: { first: Date; id: string }, limit?: number) =>
    deps.postgres.execute<ChunkRow>(
      `SELECT ${CHUNK_COLUMNS} FROM session_replay_chunks WHERE session_replay_id = $1
       ${after ? 'AND (first_event_at, id) > ($2, $3)' : ''}
       ORDER BY first_event_at, id ${limit ? `LIMIT ${Math.floor(limit)}` : ''}`,
      after ? [replayId, after.first, after.id] : [replayId],
    );

  return [
    defineRoute({
      method: 'POST',
      url: '/session-replays/batch',
      summary: 'Upload a chunk of rrweb events for the signed-in user (idempotent per batch_id)',
      tags: ['session-replays'],
      access: ['client', 'server', 'admin'],
      // Fastify stops reading at 2 MB; the 1 000 000-byte rule is checked below, in its place in the order.
      bodyLimit: 2 * 1024 * 1024,
      body: replayBatchSchema,
      response: replayBatchResultSchema,
      handler: async ({ auth, body, request }) => {
        if (!auth?.analyticsEnabled) throw new AnalyticsNotEnabled();
        const user = auth.user;
        if (!user) throw new UserAuthenticationRequired();
        if (!user.refreshTokenId) throw new RefreshTokenIdRequired();
        const bytes = Number(request.headers['content-length'] ?? 0) || Buffer.byteLength(JSON.stringify(body));
        if (bytes > MAX_REPLAY_BODY_BYTES) {
          throw new PayloadTooLarge(MAX_REPLAY_BODY_BYTES, `Request body too large (max ${MAX_REPLAY_BODY_BYTES} bytes)`);
        }
        if (body.events.length === 0) throw new SchemaError('events must not be empty');
        if (body.events.length > MAX_REPLAY_EVENTS) throw new SchemaError(`Too many events (max ${MAX_REPLAY_EVENTS})`);
        return uploadChunk(
          deps,
          tenancyOf(auth),
          { userId: user.id, refreshTokenId: user.refreshTokenId },
          body,
          now(),
          bytes,
        );
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/internal/session-replays',
      summary: 'List replays, newest activity first, with filters',
      tags: ['session-replays'],
      access: ADMIN,
      query: z.record(z.string(), z.string()),
      response: z.object({ items: z.array(replaySchema), pagination: z.object({ next_cursor: z.string().nullable() }) }),
      handler: async ({ auth, query }) => listReplays(deps, tenancyOf(auth), parseReplayFilters(query)),
    }),
    defineRoute({
      method: 'GET',
      url: '/internal/session-replays/:session_replay_id/chunks',
      summary: "A replay's chunks in time order (keyset cursor)",
      tags: ['session-replays'],
      access: ADMIN,
      params: replayParams,
      query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), cursor: z.string().optional() }).strict(),
      response: z.object({ items: z.array(replayChunkSchema), pagination: z.object({ next_cursor: z.string().nullable() }) }),
      handler: async ({ auth, params, query }) => {
        const tenancy = tenancyOf(auth);
        await requireReplay(tenancy, params.session_replay_id);
        let after: { first: Date; id: string } | undefined;
        if (query.cursor) {
          const [anchor] = /^[0-9a-f-]{36}$/i.test(query.cursor)
            ? await deps.postgres.execute<{ first_event_at: Date; id: string }>(
                'SELECT first_event_at, id FROM session_replay_chunks WHERE id = $1 AND session_replay_id = $2',
                [query.cursor, params.session_replay_id],
              )
            : [];
          if (!anchor) throw new ItemNotFound(query.cursor);
          after = { first: anchor.first_event_at, id: anchor.id };
        }
        const rows = await chunksOf(params.session_replay_id, after, query.limit + 1);
        const page = rows.slice(0, query.limit);
        return {
          items: page.map(chunkItem),
          pagination: { next_cursor: rows.length > query.limit ? (page.at(-1)?.id ?? null) : null },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/internal/session-replays/:session_replay_id/chunks/:chunk_id/events',
      summary: "One chunk's rrweb events",
      tags: ['session-replays'],
      access: ADMIN,
      params: chunkParams,
      response: z.object({ events: z.array(z.unknown()) }),
      handler: async ({ auth, params }) => {
        const tenancy = tenancyOf(auth);
        await requireReplay(tenancy, params.session_replay_id);
        const [chunk] = await deps.postgres.execute<{ batch_id: string }>(
          'SELECT batch_id FROM session_replay_chunks WHERE id = $1 AND session_replay_id = $2',
          [params.chunk_id, params.session_replay_id],
        );
        if (!chunk) throw new ItemNotFound(params.chunk_id);
        const payloads = await readChunkPayloads(deps.clickhouse, tenancy, params.session_replay_id, [chunk.batch_id]);
        return { events: payloads.get(chunk.batch_id) ?? [] };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/internal/session-replays/:session_replay_id/events',
      summary: 'Every chunk of a replay, with the events of a slice of them',
      tags: ['session-replays'],
      access: ADMIN,
      params: replayParams,
      query: z
        .object({ offset: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(100).default(20) })
        .strict(),
      handler: async ({ auth, params, query }) => {
        const tenancy = tenancyOf(auth);
        await requireReplay(tenancy, params.session_replay_id);
        const chunks = await chunksOf(params.session_replay_id);
        const slice = chunks.slice(query.offset, query.offset + query.limit);
        const groups: ChunkRow[][] = [];
        const perGroup = Math.max(1, Math.ceil(slice.length / READ_CONCURRENCY));
        for (let i = 0; i < slice.length; i += perGroup) groups.push(slice.slice(i, i + perGroup));
        const payloads = new Map<string, unknown[]>();
        await Promise.all(
          groups.map(async (group) => {
            const read = await readChunkPayloads(deps.clickhouse, tenancy, params.session_replay_id, group.map((c) => c.batch_id));
            for (const [batch, events] of read) payloads.set(batch, events);
          }),
        );
        return {
          chunks: chunks.map(chunkItem),
          chunk_events: slice.map((chunk) => ({ chunk_id: chunk.id, events: payloads.get(chunk.batch_id) ?? [] })),
        };
      },
    }),
  ];
}
