import { z } from 'zod';
import { API_PREFIX, HEADERS } from '@sightline/protocol';
import type { RouteSpec } from './route.ts';

type JsonObject = Record<string, unknown>;

const knownErrorSchema = {
  type: 'object',
  required: ['code', 'error'],
  properties: { code: { type: 'string' }, error: { type: 'string' }, details: { type: 'object' } },
};

/**
 * Builds an OpenAPI 3.1 document from the routes' zod schemas, so the document
 * cannot drift from what the server validates.
 *
 * @example
 * const doc = buildOpenApiDocument(routes, '0.1.0');
 * doc.paths['/api/v1/users'].post.requestBody;
 */
export function buildOpenApiDocument(routes: readonly RouteSpec<any, any, any, any>[], version: string): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of routes) {
    const path = `${API_PREFIX}${route.url}`.replace(/:([A-Za-z_]+)/g, '{$1}');
    const operation: JsonObject = {
      summary: route.summary,
      tags: route.tags ?? [],
      parameters: [...pathParameters(route), ...queryParameters(route), ...accessHeaders(route)],
      responses: {
        [String(route.status ?? 200)]: {
          description: 'Success',
          content: route.response ? { 'application/json': { schema: toSchema(route.response, 'output') } } : undefined,
        },
        '4XX': {
          description: `Known error; its code is also in the ${HEADERS.knownError} header`,
          content: { 'application/json': { schema: knownErrorSchema } },
        },
      },
    };
    if (route.body) {
      operation.requestBody = { required: true, content: { 'application/json': { schema: toSchema(route.body, 'input') } } };
    }
    if (route.access === 'operator') operation.security = [{ operatorBearer: [] }];
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Sightline API', version },
    paths,
    components: {
      securitySchemes: { operatorBearer: { type: 'http', scheme: 'bearer', description: 'SIGHTLINE_ADMIN_SECRET' } },
    },
  };
}

function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonObject;
}

function objectProperties(schema: z.ZodType | undefined): [string, JsonObject, boolean][] {
  if (!schema) return [];
  const json = toSchema(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, JsonObject>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => [name, property, required.has(name)]);
}

function pathParameters(route: RouteSpec<any, any, any, any>): JsonObject[] {
  return objectProperties(route.params).map(([name, schema]) => ({ name, in: 'path', required: true, schema }));
}

function queryParameters(route: RouteSpec<any, any, any, any>): JsonObject[] {
  return objectProperties(route.query).map(([name, schema, required]) => ({ name, in: 'query', required, schema }));
}

function accessHeaders(route: RouteSpec<any, any, any, any>): JsonObject[] {
  if (typeof route.access === 'string') return [];
  const string = { type: 'string' };
  return [
    { name: HEADERS.projectId, in: 'header', required: true, schema: string },
    { name: HEADERS.branchId, in: 'header', required: false, schema: string },
    { name: HEADERS.accessType, in: 'header', required: true, schema: { type: 'string', enum: [...route.access] } },
  ];
}
