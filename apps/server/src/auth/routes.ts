import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  accessTokenSchema,
  analyticsClientConfigSchema,
  anonymousSignUpSchema,
  CurrentProjectNotFound,
  HEADERS,
  projectCreatedSchema,
  projectCreateSchema,
  projectKeysSchema,
  projectSchema,
  projectUpdateSchema,
  RefreshTokenNotFoundOrExpired,
  sessionCreatedSchema,
  sessionCreateSchema,
  UserAuthenticationRequired,
  userCreateSchema,
  userListQuerySchema,
  userListSchema,
  userSchema,
  userUpdateSchema,
  type ProjectRead,
} from '@sightline/protocol';
import { defineRoute, tenancyOf, type RouteSpec } from '../http/route.ts';
import type { EventSink } from '../storage/clickhouse/events.ts';
import type { Postgres } from '../storage/postgres/db.ts';
import type { CachingAuthenticator } from './authenticate.ts';
import type { GeoIp } from './geoip.ts';
import { createProject, findProject, rotateProjectKeys, updateProject, type Project } from './projects.ts';
import { createSession, revokeSession, sessionOfRefreshToken, type Session } from './sessions.ts';
import { tokenRefreshEvent } from './token-refresh-event.ts';
import type { TokenIssuer } from './tokens.ts';
import { createUser, deleteUser, getUser, listUsers, updateUser, type Tenancy } from './users.ts';

export type AuthRoutesDeps = {
  postgres: Postgres;
  tokens: TokenIssuer;
  authenticator: Pick<CachingAuthenticator, 'forgetProject' | 'forgetSession'>;
  geoip: GeoIp;
  events: EventSink;
  log: Logger;
  now?: () => number;
};

const userIdParams = z.object({ user_id: z.uuid('Invalid user_id') });
const success = z.object({ success: z.literal(true) });
const SERVER_PLUS = ['server', 'admin'] as const;
const CLIENT_PLUS = ['client', 'server', 'admin'] as const;

function projectRead(project: Project): ProjectRead {
  return {
    id: project.id,
    display_name: project.displayName,
    analytics: { enabled: project.analyticsEnabled },
    created_at_millis: project.createdAt.getTime(),
  };
}

/**
 * Projects, keys, users and sessions: the tenancy and authentication surface.
 *
 * @example
 * const routes = authRoutes({ postgres, tokens, authenticator, geoip, events, log });
 */
export function authRoutes(deps: AuthRoutesDeps): RouteSpec<any, any, any, any>[] {
  const now = deps.now ?? Date.now;

  /** Issues an access token and records its `$token-refresh` event. */
  const mintAccessToken = async (tenancy: Tenancy, session: Session, request: FastifyRequest) => {
    const accessToken = await deps.tokens.issue({ ...tenancy, ...session });
    // The socket peer, or the address the trusted proxy saw: never client-written (ADR 0004).
    const ipInfo = deps.geoip.lookup(request.ip, true);
    try {
      await deps.events.write([tokenRefreshEvent(tenancy, session, ipInfo, now())]);
    } catch (error) {
      // Signing in must not fail because the analytics engine is down (ADR 0004).
      deps.log.error({ err: error, refresh_token_id: session.refreshTokenId }, '$token-refresh event not recorded');
    }
    return accessToken;
  };

  return [
    defineRoute({
      method: 'POST',
      url: '/internal/projects',
      summary: 'Create a project and return its keys (shown once)',
      tags: ['projects'],
      access: 'operator',
      body: projectCreateSchema.optional(),
      response: projectCreatedSchema,
      status: 201,
      handler: async ({ body }) => {
        const { project, keys } = await createProject(deps.postgres, {
          displayName: body?.display_name ?? 'Untitled project',
          analyticsEnabled: body?.analytics?.enabled ?? false,
        });
        return { project_id: project.id, ...keys };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/internal/projects/current',
      summary: 'Read the current project',
      tags: ['projects'],
      access: ['admin'],
      response: projectSchema,
      handler: async ({ auth }) => {
        const project = await findProject(deps.postgres, tenancyOf(auth).projectId);
        if (!project) throw new CurrentProjectNotFound(tenancyOf(auth).projectId);
        return projectRead(project);
      },
    }),
    defineRoute({
      method: 'PATCH',
      url: '/internal/projects/current',
      summary: 'Update the current project; {analytics: {enabled: true}} turns analytics on',
      tags: ['projects'],
      access: ['admin'],
      body: projectUpdateSchema,
      response: projectSchema,
      handler: async ({ auth, body }) => {
        const { projectId } = tenancyOf(auth);
        const project = await updateProject(deps.postgres, projectId, {
          displayName: body.display_name,
          analyticsEnabled: body.analytics?.enabled,
        });
        if (!project) throw new CurrentProjectNotFound(projectId);
        deps.authenticator.forgetProject(projectId);
        return projectRead(project);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/internal/projects/current/keys/rotate',
      summary: 'Revoke every key of the project and issue new ones (shown once)',
      tags: ['projects'],
      access: ['admin'],
      response: projectKeysSchema,
      handler: async ({ auth }) => {
        const { projectId } = tenancyOf(auth);
        const keys = await rotateProjectKeys(deps.postgres, projectId);
        deps.authenticator.forgetProject(projectId);
        return keys;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/projects/:project_id/.well-known/jwks.json',
      summary: "The public keys that sign this project's access tokens",
      tags: ['sessions'],
      access: 'public',
      params: z.object({ project_id: z.string().max(64) }),
      handler: async () => deps.tokens.jwks(),
    }),

    defineRoute({
      method: 'POST',
      url: '/users',
      summary: 'Create a user',
      tags: ['users'],
      access: SERVER_PLUS,
      body: userCreateSchema,
      response: userSchema,
      status: 201,
      handler: async ({ auth, body }) => createUser(deps.postgres, tenancyOf(auth), body),
    }),
    defineRoute({
      method: 'GET',
      url: '/users',
      summary: 'List users, newest first (cursor pagination)',
      tags: ['users'],
      access: SERVER_PLUS,
      query: userListQuerySchema,
      response: userListSchema,
      handler: async ({ auth, query }) => listUsers(deps.postgres, tenancyOf(auth), query),
    }),
    defineRoute({
      method: 'GET',
      url: '/users/:user_id',
      summary: 'Read a user',
      tags: ['users'],
      access: SERVER_PLUS,
      params: userIdParams,
      response: userSchema,
      handler: async ({ auth, params }) => getUser(deps.postgres, tenancyOf(auth), params.user_id),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/users/:user_id',
      summary: 'Update a user',
      tags: ['users'],
      access: SERVER_PLUS,
      params: userIdParams,
      body: userUpdateSchema,
      response: userSchema,
      handler: async ({ auth, params, body }) => updateUser(deps.postgres, tenancyOf(auth), params.user_id, body),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/users/:user_id',
      summary: 'Delete a user and their sessions',
      tags: ['users'],
      access: SERVER_PLUS,
      params: userIdParams,
      response: success,
      handler: async ({ auth, params }) => {
        const sessionIds = await deleteUser(deps.postgres, tenancyOf(auth), params.user_id);
        // Access tokens of the deleted sessions must stop working now, not when the cache expires.
        for (const id of sessionIds) deps.authenticator.forgetSession(id);
        return { success: true as const };
      },
    }),

    defineRoute({
      method: 'POST',
      url: '/auth/sessions',
      summary: 'Open a session for a user: a refresh token and an access token',
      tags: ['sessions'],
      access: SERVER_PLUS,
      body: sessionCreateSchema,
      response: sessionCreatedSchema,
      handler: async ({ auth, body, request }) => {
        const tenancy = tenancyOf(auth);
        const { refreshToken, session } = await createSession(deps.postgres, tenancy, body.user_id, {
          expiresInMillis: body.expires_in_millis,
          now: new Date(now()),
        });
        return { refresh_token: refreshToken, access_token: await mintAccessToken(tenancy, session, request) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/sessions/current/refresh',
      summary: 'Exchange the x-stack-refresh-token header for a new access token',
      tags: ['sessions'],
      access: CLIENT_PLUS,
      response: accessTokenSchema,
      handler: async ({ auth, request }) => {
        const tenancy = tenancyOf(auth);
        const refreshToken = request.headers[HEADERS.refreshToken];
        if (typeof refreshToken !== 'string' || refreshToken.length === 0) throw new RefreshTokenNotFoundOrExpired();
        const session = await sessionOfRefreshToken(deps.postgres, tenancy, refreshToken, new Date(now()));
        return { access_token: await mintAccessToken(tenancy, session, request) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/auth/sessions/current',
      summary: 'Revoke the session of the x-stack-access-token header',
      tags: ['sessions'],
      access: CLIENT_PLUS,
      response: success,
      handler: async ({ auth }) => {
        const user = auth?.user;
        if (!user?.refreshTokenId) throw new UserAuthenticationRequired();
        await revokeSession(deps.postgres, tenancyOf(auth), user.refreshTokenId);
        deps.authenticator.forgetSession(user.refreshTokenId);
        return { success: true as const };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/analytics/client-config',
      summary: 'Whether the project records analytics: the browser SDK asks once and does nothing when it is off',
      tags: ['analytics'],
      access: CLIENT_PLUS,
      response: analyticsClientConfigSchema,
      handler: async ({ auth, reply }) => {
        // The browser may keep it for a minute (per project: the answer varies with the headers).
        reply.header('cache-control', 'private, max-age=60');
        reply.header('vary', `${HEADERS.projectId}, ${HEADERS.branchId}`);
        return { enabled: auth?.analyticsEnabled ?? false };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/auth/anonymous/sign-up',
      summary: 'Create an anonymous user with a session',
      tags: ['sessions'],
      access: CLIENT_PLUS,
      response: anonymousSignUpSchema,
      handler: async ({ auth, request }) => {
        const tenancy = tenancyOf(auth);
        const { session, refreshToken } = await deps.postgres.transaction(async (tx) => {
          const user = await createUser(tx, tenancy, { is_anonymous: true, display_name: null });
          return createSession(tx, tenancy, user.id, { now: new Date(now()) });
        });
        return {
          user_id: session.userId,
          access_token: await mintAccessToken(tenancy, session, request),
          refresh_token: refreshToken,
        };
      },
    }),
  ];
}
