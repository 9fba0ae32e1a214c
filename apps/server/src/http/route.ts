import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { AccessType } from '@sightline/protocol';

/**
 * Who may call a route: nobody in particular (`public`), the instance operator
 * (`operator`, bearer secret), or a project caller with one of these access types.
 */
export type Access = 'public' | 'operator' | readonly AccessType[];

/** The identity of a project caller, established from the request headers. */
export type ProjectAuth = Readonly<{
  projectId: string;
  branchId: string;
  accessType: AccessType;
  /** Whether the project has analytics turned on (cached for a few seconds). */
  analyticsEnabled: boolean;
  /** Present when the request carried a valid user access token. */
  user?: Readonly<{ id: string; refreshTokenId: string | undefined; isAnonymous: boolean }>;
}>;

/** A (project, branch) pair: the unit every stored row belongs to. */
export type Tenancy = Readonly<{ projectId: string; branchId: string }>;

/**
 * The tenancy of a project route's caller. Routes that declare access types
 * always have `auth`; reaching here without it is a wiring bug.
 *
 * @example
 * handler: async ({ auth }) => listUsers(postgres, tenancyOf(auth), page)
 */
export function tenancyOf(auth: ProjectAuth | undefined): Tenancy {
  if (!auth) throw new Error('project route reached without project authentication');
  return { projectId: auth.projectId, branchId: auth.branchId };
}

export type RouteContext<B, Q, P> = {
  body: B;
  query: Q;
  params: P;
  /** Set for project routes; undefined for `public` and `operator` routes. */
  auth: ProjectAuth | undefined;
  request: FastifyRequest;
  reply: FastifyReply;
};

export type RouteSpec<B = unknown, Q = unknown, P = unknown, R = unknown> = {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Path under `/api/v1`, e.g. `/users/:user_id`. */
  url: string;
  summary: string;
  tags?: readonly string[];
  access: Access;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  /** Documents the 2xx body in the OpenAPI document. */
  response?: z.ZodType<R>;
  /** Status of a successful answer (default 200). */
  status?: number;
  /** Largest accepted body in bytes (default 1 MiB). */
  bodyLimit?: number;
  handler: (context: RouteContext<B, Q, P>) => Promise<R>;
};

/**
 * Declares a route with inferred types; capability modules export lists of these.
 *
 * @example
 * export const health = defineRoute({ method: 'GET', url: '/health', summary: 'Liveness', access: 'public',
 *   handler: async () => ({ status: 'ok' }) });
 */
export function defineRoute<B = undefined, Q = undefined, P = undefined, R = unknown>(
  spec: RouteSpec<B, Q, P, R>,
): RouteSpec<B, Q, P, R> {
  return spec;
}

/** Resolves a project caller from its headers and checks the route's access types. */
export type Authenticate = (request: FastifyRequest, allowed: readonly AccessType[]) => Promise<ProjectAuth>;
/** Checks the operator bearer secret. */
export type AuthenticateOperator = (request: FastifyRequest) => void;
