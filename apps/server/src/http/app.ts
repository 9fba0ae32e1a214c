import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import type { Logger } from 'pino';
import { API_PREFIX, BodyParsingError, HEADERS, OperatorAuthenticationRequired, RouteNotFound } from '@sightline/protocol';
import { installErrorHandling } from './errors.ts';
import { buildOpenApiDocument } from './openapi.ts';
import type { Authenticate, AuthenticateOperator, RouteSpec } from './route.ts';
import { parseRequestPart } from './schema-error.ts';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export type AppOptions = {
  logger: Logger;
  routes: readonly RouteSpec<any, any, any, any>[];
  /** Project callers; without it, project routes answer 401. */
  authenticate?: Authenticate;
  authenticateOperator?: AuthenticateOperator;
  /** Readiness probe: engines open and migrations applied. */
  ready: () => Promise<{ ready: boolean; checks: Record<string, string> }>;
  /** Take the client address from `x-forwarded-for`. */
  trustProxy?: boolean;
  /** The service version shown in the OpenAPI document. */
  version?: string;
  /** Files served as they are, outside the API (the browser SDK, the demo page). */
  assets?: readonly StaticAsset[];
};

/** A file served with `GET url`; `body` is read per request so a rebuilt file is picked up. */
export type StaticAsset = {
  url: string;
  contentType: string;
  body: () => string | Buffer | undefined;
  /** `cache-control: public, max-age=…` (default: no-cache). */
  maxAgeSeconds?: number;
};

/** Request headers a browser may send cross-origin: Stack Auth's plus the body type. */
const CORS_ALLOWED_HEADERS = ['content-type', ...Object.values(HEADERS).filter((h) => h.startsWith('x-stack-') && h !== HEADERS.knownError)].join(', ');
/** Response headers the browser SDK reads. */
const CORS_EXPOSED_HEADERS = [HEADERS.knownError, HEADERS.requestId, 'retry-after'].join(', ');

/**
 * Builds the HTTP service: JSON parsing with limits, the known-error envelope,
 * request ids, health and readiness, the OpenAPI document and every route.
 *
 * @example
 * const app = await buildApp({ logger, routes: [], ready: async () => ({ ready: true, checks: {} }) });
 * const res = await app.inject({ method: 'GET', url: '/health' });
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  // Typed as the base instance: pino's Logger is wider than FastifyBaseLogger.
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger,
    bodyLimit: DEFAULT_BODY_LIMIT,
    // One trusted hop: the address our proxy saw (the last x-forwarded-for entry), which a
    // client cannot forge; `true` would take the first entry, which the client writes.
    trustProxy: options.trustProxy ? (_address: string, hop: number) => hop === 0 : false,
    requestIdHeader: false,
    genReqId: () => randomUUID(),
    // Fastify's default 500 JSON includes messages; ours never does (see errors.ts).
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
  }) as unknown as FastifyInstance;

  app.addHook('onRequest', async (request, reply) => {
    reply.header(HEADERS.requestId, request.id);
    // The API is called from other origins (the browser SDK on a customer's site). Keys and
    // tokens travel in headers, never cookies, so any origin may call it; access is the keys'.
    if (request.url.startsWith(API_PREFIX)) {
      reply.header('access-control-allow-origin', '*');
      reply.header('access-control-expose-headers', CORS_EXPOSED_HEADERS);
    }
  });
  app.options(`${API_PREFIX}/*`, async (_request, reply) =>
    reply
      .code(204)
      .header('access-control-allow-methods', 'GET, POST, PATCH, PUT, DELETE')
      .header('access-control-allow-headers', CORS_ALLOWED_HEADERS)
      .header('access-control-max-age', '86400')
      .send(),
  );
  installErrorHandling(app);
  // An empty JSON body means "no body" (clients post `content-type: application/json`
  // with nothing to refresh a session); `__proto__`/`constructor` keys are refused.
  app.removeContentTypeParser('application/json');
  // Bytes, not a string: invalid UTF-8 is refused instead of silently becoming U+FFFD.
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      return done(new BodyParsingError('The request body is not valid UTF-8.'), undefined);
    }
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch (error) {
      done(new BodyParsingError(`The request body is not valid JSON: ${(error as Error).message}`), undefined);
    }
  });

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_request, reply) => {
    const state = await options.ready();
    return reply.code(state.ready ? 200 : 503).send(state);
  });

  for (const asset of options.assets ?? []) {
    app.get(asset.url, async (_request, reply) => {
      const body = asset.body();
      if (body === undefined) throw new RouteNotFound('GET', asset.url);
      return reply
        .header('content-type', asset.contentType)
        .header('cache-control', asset.maxAgeSeconds ? `public, max-age=${asset.maxAgeSeconds}` : 'no-cache')
        .header('access-control-allow-origin', '*')
        .send(body);
    });
  }

  const routes = options.routes;
  const document = buildOpenApiDocument(routes, options.version ?? '0.0.0');
  app.get(`${API_PREFIX}/openapi.json`, async () => document);

  for (const route of routes) {
    const url = `${API_PREFIX}${route.url}`;
    const label = `${route.method} ${url}`;
    app.route({
      method: route.method,
      url,
      bodyLimit: route.bodyLimit ?? DEFAULT_BODY_LIMIT,
      handler: async (request, reply) => {
        const auth = await authorise(route, request, options);
        const routeLabel = `${route.method} ${request.url.split('?')[0]}`;
        const context = {
          body: route.body ? parseRequestPart('body', route.body, request.body, routeLabel) : undefined,
          query: route.query ? parseRequestPart('query', route.query, request.query, routeLabel) : undefined,
          params: route.params ? parseRequestPart('params', route.params, request.params, routeLabel) : undefined,
          auth,
          request,
          reply,
        };
        const result = await route.handler(context);
        if (reply.sent) return reply;
        return reply.code(route.status ?? 200).send(result);
      },
    });
    app.log.debug({ route: label }, 'route registered');
  }
  return app;
}

async function authorise(route: RouteSpec<any, any, any, any>, request: FastifyRequest, options: AppOptions) {
  if (route.access === 'public') return undefined;
  if (route.access === 'operator') {
    if (!options.authenticateOperator) throw new OperatorAuthenticationRequired();
    options.authenticateOperator(request);
    return undefined;
  }
  if (!options.authenticate) throw new Error(`no authenticator configured for ${route.method} ${route.url}`);
  return options.authenticate(request, route.access);
}
