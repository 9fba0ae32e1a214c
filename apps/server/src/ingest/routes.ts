import { and, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import {
  AnalyticsNotEnabled,
  eventBatchResultSchema,
  eventBatchSchema,
  RefreshTokenIdRequired,
  serverEventsSchema,
  UserAuthenticationRequired,
  UserNotFound,
} from '@sightline/protocol';
import type { RateLimiter } from '../http/rate-limit.ts';
import { defineRoute, type ProjectAuth, type RouteSpec } from '../http/route.ts';
import type { EventRow, EventSink } from '../storage/clickhouse/events.ts';
import type { Postgres } from '../storage/postgres/db.ts';
import { users } from '../storage/postgres/schema.ts';
import { correctEventTime } from './clock.ts';
import { storableJson } from './storable-json.ts';

// Zod's ahead-of-time compiled clones: a valid body takes a generated fast path (about a
// third of the interpreted parse's CPU on a 50-event batch), an invalid one falls back to
// the regular parser, so error messages and the OpenAPI document stay exactly the same.
const browserBatchBody = z.compile(eventBatchSchema);
const serverEventsBody = z.compile(serverEventsSchema);

/** Stack Auth's limit for browser batches: 1 MB. */
export const EVENT_BATCH_BODY_LIMIT = 1_000_000;

export type IngestRoutesDeps = {
  events: EventSink;
  postgres: Postgres;
  rateLimiter: RateLimiter;
  /** The session replay open for a refresh token, if any (events are tagged with it). */
  openReplayOf?: (tenancy: { projectId: string; branchId: string }, refreshTokenId: string, now: number) => Promise<string | undefined>;
  now?: () => number;
};

function projectAuth(auth: ProjectAuth | undefined): ProjectAuth {
  if (!auth) throw new Error('ingestion route without project authentication');
  if (!auth.analyticsEnabled) throw new AnalyticsNotEnabled();
  return auth;
}

/**
 * The event data as stored: well-formed strings, plus the client's own time
 * when clock correction moved it. `data` belongs to this request's parsed
 * body, so it is completed in place rather than copied (the same keys in the
 * same order as `{ ...data, $client_event_at_ms }`).
 */
function storedData(data: Record<string, unknown>, clientAt: number | undefined, storedAt: number) {
  const clean = storableJson(data);
  if (clientAt !== undefined && clientAt !== storedAt) clean.$client_event_at_ms = clientAt;
  return clean;
}

/**
 * Event ingestion: browser batches (idempotent per batch id) and server-side events.
 *
 * @example
 * const routes = ingestRoutes({ events: writer, postgres, rateLimiter });
 */
export function ingestRoutes(deps: IngestRoutesDeps): RouteSpec<any, any, any, any>[] {
  const now = deps.now ?? Date.now;
  return [
    defineRoute({
      method: 'POST',
      url: '/analytics/events/batch',
      summary: 'Record a batch of browser events for the signed-in user (idempotent per batch_id)',
      tags: ['analytics'],
      access: ['client', 'server', 'admin'],
      bodyLimit: EVENT_BATCH_BODY_LIMIT,
      body: browserBatchBody,
      response: eventBatchResultSchema,
      handler: async ({ auth, body }) => {
        const project = projectAuth(auth);
        const user = project.user;
        if (!user) throw new UserAuthenticationRequired();
        if (!user.refreshTokenId) throw new RefreshTokenIdRequired();
        deps.rateLimiter.take(project.projectId);
        const receivedAt = now();
        const replayId = (await deps.openReplayOf?.(project, user.refreshTokenId, receivedAt)) ?? null;
        const segmentId = body.session_replay_segment_id.toLowerCase();
        const rows: EventRow[] = body.events.map((event) => {
          const eventAt = correctEventTime(event.event_at_ms, body.sent_at_ms, receivedAt);
          return {
            event_type: event.event_type,
            event_at: eventAt,
            data: storedData(event.data, event.event_at_ms, eventAt),
            project_id: project.projectId,
            branch_id: project.branchId,
            user_id: user.id,
            team_id: null,
            refresh_token_id: user.refreshTokenId ?? null,
            session_replay_id: replayId,
            session_replay_segment_id: segmentId,
          };
        });
        const dedupKey = `${project.projectId}:${project.branchId}:${body.batch_id.toLowerCase()}`;
        const result = await deps.events.write(rows, { dedupKey });
        return { inserted: result.inserted };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/analytics/events',
      summary: 'Record events from the application backend, for any user of the tenancy',
      tags: ['analytics'],
      access: ['server', 'admin'],
      bodyLimit: EVENT_BATCH_BODY_LIMIT,
      body: serverEventsBody,
      response: eventBatchResultSchema,
      handler: async ({ auth, body }) => {
        const project = projectAuth(auth);
        deps.rateLimiter.take(project.projectId);
        const userIds = [...new Set(body.events.flatMap((e) => (e.user_id ? [e.user_id.toLowerCase()] : [])))];
        if (userIds.length > 0) {
          const found = await deps.postgres.db
            .select({ id: users.id })
            .from(users)
            .where(and(eq(users.projectId, project.projectId), eq(users.branchId, project.branchId), inArray(users.id, userIds)));
          if (found.length !== userIds.length) throw new UserNotFound();
        }
        const receivedAt = now();
        const rows: EventRow[] = body.events.map((event) => {
          const eventAt = correctEventTime(event.event_at_ms ?? receivedAt, undefined, receivedAt);
          return {
            event_type: event.event_type,
            event_at: eventAt,
            data: storedData(event.data, event.event_at_ms, eventAt),
            project_id: project.projectId,
            branch_id: project.branchId,
            user_id: event.user_id?.toLowerCase() ?? null,
            team_id: event.team_id?.toLowerCase() ?? null,
            refresh_token_id: event.refresh_token_id?.toLowerCase() ?? null,
            session_replay_id: event.session_replay_id?.toLowerCase() ?? null,
            session_replay_segment_id: event.session_replay_segment_id?.toLowerCase() ?? null,
          };
        });
        const result = await deps.events.write(rows);
        return { inserted: result.inserted };
      },
    }),
  ];
}
