import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  BodyParsingError,
  HEADERS,
  KnownError,
  PayloadTooLarge,
  RateLimited,
  RouteNotFound,
  ServiceUnavailable,
  UnsupportedMediaType,
} from '@sightline/protocol';

/**
 * The one place where errors become responses: known errors keep their
 * status and envelope, Fastify's own 4xx parsing errors become known errors,
 * and everything else is a logged 500 that carries only the request id.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = error instanceof KnownError ? error : fromFastifyError(error, request);
    if (known) return sendKnownError(reply, known);
    request.log.error({ err: error }, 'unhandled error');
    return reply
      .code(500)
      .header('content-type', 'application/json; charset=utf-8')
      .send({ error: 'An internal error occurred. Quote this request id when reporting it.', request_id: request.id });
  });
  app.setNotFoundHandler((request, reply) =>
    sendKnownError(reply, new RouteNotFound(request.method, request.url.split('?')[0] ?? '/')),
  );
}

/** Writes `{code, error, details?}` with the `x-stack-known-error` header. */
export function sendKnownError(reply: FastifyReply, error: KnownError): FastifyReply {
  if (error instanceof RateLimited || error instanceof ServiceUnavailable) {
    reply.header('retry-after', String(error.details?.retry_after_seconds ?? 1));
  }
  return reply
    .code(error.status)
    .header(HEADERS.knownError, error.code)
    .header('content-type', 'application/json; charset=utf-8')
    .send(error.toJSON());
}

function fromFastifyError(error: FastifyError, request: FastifyRequest): KnownError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLarge(request.routeOptions.bodyLimit ?? 0);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaType(request.headers['content-type'] ?? '');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new BodyParsingError('The request body is empty, but its content type is application/json.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new BodyParsingError(`The request body could not be parsed: ${error.message}`);
    default:
      break;
  }
  // Fastify's JSON parser throws SyntaxError (bad JSON, `__proto__` keys) with statusCode 400.
  if (error instanceof SyntaxError || (error.statusCode === 400 && error.code?.startsWith('FST_'))) {
    return new BodyParsingError(`The request body is not valid JSON: ${error.message}`);
  }
  return undefined;
}
