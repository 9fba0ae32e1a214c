import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { z } from 'zod';
import { ItemNotFound } from '@sightline/protocol';
import { buildApp } from './app.ts';
import { defineRoute } from './route.ts';

const uuid = (field: string) => z.string().uuid(`Invalid ${field}`);

const echo = defineRoute({
  method: 'POST',
  url: '/echo',
  summary: 'Echo a batch',
  access: 'public',
  bodyLimit: 1000,
  body: z
    .object({
      batch_id: uuid('batch_id'),
      timeout_ms: z.number().int().min(1000).max(120000).default(10000),
      events: z.array(z.object({ event_type: z.enum(['$page-view', '$click']) })).min(1).max(3),
    })
    .strict(),
  response: z.object({ count: z.number() }),
  handler: async ({ body }) => ({ count: body.events.length }),
});

const failing = defineRoute({
  method: 'GET',
  url: '/boom',
  summary: 'Always fails',
  access: 'public',
  handler: async () => {
    throw new Error('secret internal detail at /srv/x.ts:12');
  },
});

const known = defineRoute({
  method: 'GET',
  url: '/things/:id',
  summary: 'A missing thing',
  access: 'public',
  params: z.object({ id: z.string() }),
  handler: async ({ params }) => {
    throw new ItemNotFound(params.id);
  },
});

describe('HTTP service', () => {
  let app: FastifyInstance;
  const logged: unknown[] = [];
  before(async () => {
    const logger = pino({ level: 'error' }, { write: (line: string) => logged.push(JSON.parse(line)) });
    app = await buildApp({
      logger,
      routes: [echo, failing, known],
      ready: async () => ({ ready: true, checks: { x: 'ok' } }),
      assets: [
        { url: '/static/hello.js', contentType: 'text/javascript', body: () => 'hello()', maxAgeSeconds: 60 },
        { url: '/static/missing.js', contentType: 'text/javascript', body: () => undefined },
      ],
    });
  });
  after(() => app.close());

  const post = (payload: string | object, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    app.inject({ method: 'POST', url: '/api/v1/echo', headers, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });

  test('a valid request reaches its handler', async () => {
    const res = await post({ batch_id: '0190a0b4-8c1e-7c3a-9f00-1234567890ab', events: [{ event_type: '$click' }] });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { count: 1 });
    assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  test('SCHEMA_ERROR lists every problem in Stack Auth wording', async () => {
    const res = await post({ batch_id: 'nope', timeout_ms: 200000, events: [], extra: 1 });
    assert.equal(res.statusCode, 400);
    assert.equal(res.headers['x-stack-known-error'], 'SCHEMA_ERROR');
    const body = res.json();
    assert.equal(body.code, 'SCHEMA_ERROR');
    assert.equal(body.details.message, body.error);
    assert.equal(
      body.error,
      [
        'Request validation failed on POST /api/v1/echo:',
        '  - Invalid batch_id',
        '  - body.timeout_ms must be less than or equal to 120000',
        '  - body.events field must have at least 1 items',
        '  - body field has unspecified keys: extra',
      ].join('\n'),
    );
  });

  test('enum, array-maximum, integer and missing-field messages', async () => {
    const res = await post({
      timeout_ms: 1500.5,
      events: [{ event_type: '$click' }, { event_type: '$other' }],
    });
    const lines = (res.json().error as string).split('\n').slice(1);
    assert.deepEqual(lines, [
      '  - body.batch_id must be defined',
      '  - body.timeout_ms must be an integer',
      '  - body.events[1].event_type must be one of the following values: $page-view, $click',
    ]);
    const tooMany = await post({ batch_id: '0190a0b4-8c1e-7c3a-9f00-1234567890ab', events: Array(4).fill({ event_type: '$click' }) });
    assert.equal(tooMany.json().details.message.split('\n')[1], '  - body.events field must have less than or equal to 3 items');
  });

  test('malformed JSON, empty bodies and prototype pollution answer BODY_PARSING_ERROR', async () => {
    for (const payload of ['{"batch_id": ', '{"__proto__": {"x": 1}}', '{"a": {"constructor": {"prototype": {}}}}', '\u0000\u0001']) {
      const res = await post(payload);
      assert.equal(res.statusCode, 400, `payload ${JSON.stringify(payload)}`);
      assert.equal(res.headers['x-stack-known-error'], 'BODY_PARSING_ERROR');
    }
  });

  test('a JSON body of the wrong shape is a SCHEMA_ERROR, not a crash', async () => {
    for (const payload of ['', '[]', 'null', '"text"', '42']) {
      const res = await post(payload);
      assert.equal(res.statusCode, 400, `payload ${payload}`);
      assert.equal(res.json().code, 'SCHEMA_ERROR');
    }
  });

  test('a wrong content type answers 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await post('batch_id=1', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(res.statusCode, 415);
    assert.equal(res.headers['x-stack-known-error'], 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('an oversized body answers 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await post({ batch_id: 'x'.repeat(2000) });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().code, 'PAYLOAD_TOO_LARGE');
    assert.equal(res.json().details.max_bytes, 1000);
  });

  test('known errors keep their status, code and details', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/things/abc' });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { code: 'ITEM_NOT_FOUND', error: 'Item with ID "abc" not found.', details: { item_id: 'abc' } });
  });

  test('an unknown route is a 404 known error', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/nothing-here?x=1' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'ROUTE_NOT_FOUND');
  });

  test('an unexpected failure is a 500 with a request id and no internals', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/boom' });
    assert.equal(res.statusCode, 500);
    const body = res.json();
    assert.equal(body.request_id, res.headers['x-request-id']);
    assert.doesNotMatch(res.body, /secret internal detail|\.ts:|at /);
    assert.ok(logged.some((line) => JSON.stringify(line).includes('secret internal detail')), 'the cause is logged');
  });

  test('health, readiness and the OpenAPI document', async () => {
    assert.deepEqual((await app.inject({ method: 'GET', url: '/health' })).json(), { status: 'ok' });
    const ready = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 200);
    const doc = (await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json();
    assert.equal(doc.openapi, '3.1.0');
    const op = doc.paths['/api/v1/echo'].post;
    assert.deepEqual(op.requestBody.content['application/json'].schema.required, ['batch_id', 'events']);
    assert.deepEqual(doc.paths['/api/v1/things/{id}'].get.parameters[0], {
      name: 'id',
      in: 'path',
      required: true,
      schema: { type: 'string' },
    });
  });

  test('the API answers cross-origin preflights and exposes the headers the SDK reads', async () => {
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/api/v1/echo',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-stack-access-token, content-type' },
    });
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], '*');
    const allowed = String(preflight.headers['access-control-allow-headers']).split(', ');
    for (const header of ['content-type', 'x-stack-access-token', 'x-stack-project-id', 'x-stack-publishable-client-key', 'x-stack-access-type']) {
      assert.ok(allowed.includes(header), header);
    }
    assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
    // Known errors keep the CORS headers, so the SDK can read the code of a rejected batch.
    const refused = await post({ batch_id: 'nope', events: [] }, { 'content-type': 'application/json', origin: 'https://shop.example' });
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.headers['access-control-allow-origin'], '*');
    assert.match(String(refused.headers['access-control-expose-headers']), /x-stack-known-error/);
    assert.match(String(refused.headers['access-control-expose-headers']), /retry-after/);
    // Outside the API nothing is opened up.
    const health = await app.inject({ method: 'GET', url: '/health' });
    assert.equal(health.headers['access-control-allow-origin'], undefined);
  });

  test('static assets are served with their type and cache policy; a missing file is a known 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/static/hello.js' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'hello()');
    assert.equal(res.headers['content-type'], 'text/javascript');
    assert.equal(res.headers['cache-control'], 'public, max-age=60');
    const missing = await app.inject({ method: 'GET', url: '/static/missing.js' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.headers['x-stack-known-error'], 'ROUTE_NOT_FOUND');
  });
});
