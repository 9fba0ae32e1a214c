import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import {
  BUILT_IN_BROWSER_EVENTS,
  CUSTOM_EVENT_NAME,
  HEADERS,
  MAX_BATCH_EVENTS,
  MAX_DATA_DEPTH,
  MAX_DATA_KEYS,
  MAX_SERVER_EVENTS,
  SYSTEM_EVENT_TYPES,
  UUID_PATTERN,
} from '@sightline/protocol';
import { describeWithServer } from '../testing/test-server.ts';

/**
 * Issue 4 "bad input" (DESIGN §14): both ingestion endpoints answer every
 * malformed body with a 4xx known error (`{code, error}` and
 * `x-stack-known-error: <code>`), never a 500, and write nothing. Valid bodies
 * (the positive control) are accepted and add exactly their rows.
 */

const BATCH_URL = '/api/v1/analytics/events/batch';
const SERVER_URL = '/api/v1/analytics/events';
const BODY_LIMIT = 1_000_000;
/** Known errors a bad body may produce; anything else (an auth error, say) would make the property vacuous. */
const BAD_INPUT_CODES = new Set(['SCHEMA_ERROR', 'BODY_PARSING_ERROR', 'UNSUPPORTED_MEDIA_TYPE', 'PAYLOAD_TOO_LARGE', 'USER_NOT_FOUND']);
/**
 * Depth of nested values placed where the schema expects another type. Deeper
 * ones answer 500 today (see "known bugs" below), so the main properties stay
 * below it; positions that are never echoed back get 10 000 levels.
 */
const WRONG_TYPE_MAX_DEPTH = 1_000;

// ---------------------------------------------------------------------------
// JSON text with tokens JSON.stringify cannot write (1e400, -0, 10 000 levels)

/** A JSON token written verbatim into the body text. */
class Raw {
  constructor(readonly text: string) {}
  toString() {
    return this.text.length > 60 ? `Raw(${this.text.slice(0, 30)}…${this.text.length} chars)` : `Raw(${this.text})`;
  }
}
const raw = (text: string) => new Raw(text);
const RAW_MARK = `raw-${randomUUID()}-`;

/** JSON text of a value that may hold `Raw` tokens anywhere. */
function toJsonText(value: unknown): string {
  const tokens: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (!(v instanceof Raw)) return v;
    tokens.push(v.text);
    return `${RAW_MARK}${tokens.length - 1}`;
  });
  return text.replace(new RegExp(`"${RAW_MARK}(\\d+)"`, 'g'), (_, index: string) => tokens[Number(index)]!);
}

const deepArrayText = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const deepObjectText = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** Sets an own property, even `__proto__` (which a plain assignment would turn into a prototype). */
function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Indexes of `text` outside string literals (where a stray byte cannot hide inside a string). */
function structuralPositions(text: string): number[] {
  const out: number[] = [0, text.length];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else out.push(i + 1);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Arbitraries: valid bodies (positive control) and bad values per field type

const isBrowserEventType = (s: string) =>
  (BUILT_IN_BROWSER_EVENTS as readonly string[]).includes(s) || (!s.startsWith('$') && CUSTOM_EVENT_NAME.test(s));
const isServerEventType = (s: string) => isBrowserEventType(s) || (SYSTEM_EVENT_TYPES as string[]).includes(s);

const safeKey = fc.stringMatching(/^[a-z_][a-z0-9_]{0,7}$/);
/** Values ClickHouse's JSON type stores as they are (see "known bugs" for the ones it refuses). */
const safeLeaf = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }),
  fc.boolean(),
  fc.constant(null),
);
const safeData = fc.dictionary(
  safeKey,
  fc.oneof(safeLeaf, fc.array(safeLeaf, { maxLength: 3 }), fc.dictionary(safeKey, safeLeaf, { maxKeys: 3 })),
  { maxKeys: 5 },
);
const customEventType = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/).filter((s) => !s.startsWith('$'));
const browserEventType = fc.oneof(fc.constantFrom(...BUILT_IN_BROWSER_EVENTS), customEventType);
/**
 * Custom names of server events, without the names of Object.prototype members
 * (`constructor`, `toString`, `__proto__`…): those answer 500 today (see "known bugs").
 */
const serverEventType = fc.oneof(fc.constantFrom(...BUILT_IN_BROWSER_EVENTS), customEventType.filter((s) => !(s in {})));
const validUuid = fc.oneof(fc.uuid(), fc.uuid().map((u) => u.toUpperCase()));

const validBatchEvent = fc.record({ event_type: browserEventType, event_at_ms: fc.maxSafeNat(), data: safeData });
const validBatch = fc.record({
  session_replay_segment_id: validUuid,
  batch_id: fc.uuid(),
  sent_at_ms: fc.maxSafeNat(),
  events: fc.array(validBatchEvent, { minLength: 1, maxLength: 5 }),
});
type Body = Record<string, unknown> & { events: Record<string, unknown>[] };

const validServerBody = (userId: string) =>
  fc.record({
    events: fc.array(
      fc.oneof(
        fc.record(
          {
            event_type: serverEventType,
            data: safeData,
            event_at_ms: fc.maxSafeNat(),
            user_id: fc.constantFrom(userId, userId.toUpperCase(), null),
            team_id: fc.option(fc.uuid()),
            refresh_token_id: fc.option(fc.uuid()),
            session_replay_id: fc.option(fc.uuid()),
            session_replay_segment_id: fc.option(fc.uuid()),
          },
          { requiredKeys: ['event_type', 'data'] },
        ),
        fc.record({
          event_type: fc.constant('$token-refresh'),
          data: fc.record({ refresh_token_id: fc.uuid(), is_anonymous: fc.boolean(), ip_info: fc.constant(null) }),
        }),
        fc.record({
          event_type: fc.constant('$sign-up-rule-trigger'),
          data: fc.record({
            rule_id: fc.string({ minLength: 1, maxLength: 20 }),
            action: fc.constantFrom('allow', 'reject'),
            email: fc.constantFrom('a@example.com', null),
            auth_method: fc.option(fc.constantFrom('password', 'oauth')),
            oauth_provider: fc.constant(null),
          }),
        }),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  });

const hugeString = fc
  .tuple(fc.constantFrom('a', 'é', '\u0000', '"', '\\', '\ud800', '😀'), fc.integer({ min: 10_000, max: 300_000 }))
  .map(([c, n]) => c.repeat(n));
const deepRaw = (maxDepth: number) =>
  fc
    .tuple(fc.boolean(), fc.integer({ min: 2, max: maxDepth }))
    .map(([arrays, depth]) => raw(arrays ? deepArrayText(depth) : deepObjectText(depth)));

const anyString = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 10 }));
const wrongTypes = {
  string: anyString,
  number: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.oneof(fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }), deepRaw(WRONG_TYPE_MAX_DEPTH).map((r) => raw(`[${r.text}]`))),
  object: fc.oneof(
    fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    deepRaw(WRONG_TYPE_MAX_DEPTH).map((r) => raw(`{"x":${r.text}}`)),
  ),
};
/** Any JSON value whose type is not one of `allowed`. */
const wrongType = (...allowed: (keyof typeof wrongTypes)[]) =>
  fc.oneof(...Object.entries(wrongTypes).filter(([type]) => !allowed.includes(type as keyof typeof wrongTypes)).map(([, arb]) => arb as fc.Arbitrary<unknown>));

const setCharAt = (s: string, index: number, c: string) => s.slice(0, index) + c + s.slice(index + 1);
const badUuidString = fc.oneof(
  fc.tuple(fc.uuid(), fc.constantFrom(...'09abcdef')).map(([u, c]) => setCharAt(u, 14, c)), // version nibble
  fc.tuple(fc.uuid(), fc.constantFrom(...'01234567cdef')).map(([u, c]) => setCharAt(u, 19, c)), // variant nibble
  fc.uuid().map((u) => u.replaceAll('-', '')),
  fc.uuid().map((u) => `{${u}}`),
  fc.uuid().map((u) => ` ${u}`),
  fc.uuid().map((u) => `${u}\u0000`),
  fc.uuid().map((u) => `${u}0`),
  fc.uuid().map((u) => u.slice(1)),
  fc.uuid().map((u) => setCharAt(u, 0, 'g')),
  fc.constantFrom('', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null', 'undefined'),
  anyString.filter((s) => !UUID_PATTERN.test(s)),
  hugeString,
);
const badUuid = fc.oneof({ weight: 3, arbitrary: badUuidString }, wrongType('string'));
/** Not a UUID and not null (the optional ids of server events accept null). */
const badOptionalUuid = fc.oneof({ weight: 3, arbitrary: badUuidString }, wrongType('string', 'null'));

const badNumber = fc.oneof(
  fc.integer({ max: -1 }),
  fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    raw('1e400'),
    raw('-1e400'),
    raw('1e20'),
    raw('9007199254740992'),
    raw('-1'),
    raw('1.5'),
    raw('-0.5'),
    raw('123456789012345678901234567890'),
  ),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e400', '123', '', '0x10', ' 1', '1_000'),
  wrongType('number'),
);
const badOptionalNumber = fc.oneof(badNumber, fc.constant(null));

const badEventTypeText = fc.oneof(
  fc.string({ maxLength: 20 }).map((s) => `$${s}`),
  fc.constantFrom('has space', 'a'.repeat(65), '', '$', '$foo', '$page_view', 'a\u0000b', 'é', 'a/b', 'a\nb', ' $click', '$click ', '$CLICK', 'a,b', '😀'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 70 }),
  fc.integer({ min: 65, max: 300 }).map((n) => 'x'.repeat(n)),
  hugeString,
);
const badBrowserEventType = fc.oneof({ weight: 3, arbitrary: badEventTypeText.filter((s) => !isBrowserEventType(s)) }, wrongType('string'));
const badServerEventType = fc.oneof({ weight: 3, arbitrary: badEventTypeText.filter((s) => !isServerEventType(s)) }, wrongType('string'));

const tooManyKeys = () => Object.fromEntries(Array.from({ length: MAX_DATA_KEYS + 1 }, (_, i) => [`k${i}`, i]));
const nestedObject = (depth: number): Record<string, unknown> => {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
};
const badData = fc.oneof(
  wrongType('object'),
  fc.integer({ min: MAX_DATA_DEPTH + 1, max: 40 }).map(nestedObject),
  // Parsed, then refused by the iterative depth check: safe at any depth.
  fc.integer({ min: MAX_DATA_DEPTH + 1, max: 10_000 }).map((depth) => raw(deepObjectText(depth))),
  fc.integer({ min: MAX_DATA_DEPTH, max: 10_000 }).map((depth) => raw(`{"a":${deepArrayText(depth)}}`)),
  fc.constant(null).map(tooManyKeys),
);
/** An extra key: its value is never echoed back, so it may nest 10 000 levels. */
const extraValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), deepRaw(10_000), hugeString, fc.constant(raw('1e400')));
const extraKey = (allowed: readonly string[]) =>
  fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('__proto__', 'constructor', 'user_id', 'project_id', 'branch_id', 'id')).filter(
    (k) => !allowed.includes(k),
  );

const BATCH_KEYS = ['session_replay_segment_id', 'batch_id', 'sent_at_ms', 'events'];
const BATCH_EVENT_KEYS = ['event_type', 'event_at_ms', 'data'];
const SERVER_EVENT_KEYS = [
  'event_type',
  'event_at_ms',
  'data',
  'user_id',
  'team_id',
  'refresh_token_id',
  'session_replay_id',
  'session_replay_segment_id',
];

/** One change that makes a valid body invalid; later changes never make it valid again. */
type Mutation =
  | { at: 'body'; op: 'set'; key: string; value: unknown }
  | { at: 'body'; op: 'delete'; key: string }
  | { at: 'event'; index: number; op: 'set'; key: string; value: unknown }
  | { at: 'event'; index: number; op: 'delete'; key: string }
  | { at: 'item'; index: number; value: unknown }
  /** A system event type with data that does not fit its shape (two changes that are only invalid together). */
  | { at: 'system-event'; index: number; type: string; data: unknown };

const setBody = (key: string, value: fc.Arbitrary<unknown>) =>
  value.map((v): Mutation => ({ at: 'body', op: 'set', key, value: v }));
const setEvent = (key: string, value: fc.Arbitrary<unknown>) =>
  fc.tuple(fc.nat(), value).map(([index, v]): Mutation => ({ at: 'event', index, op: 'set', key, value: v }));
const deleteEvent = (key: string) => fc.nat().map((index): Mutation => ({ at: 'event', index, op: 'delete', key }));
const manyEvents = (count: number, event: Record<string, unknown>) => fc.constant(null).map(() => Array.from({ length: count }, () => ({ ...event })));

const batchMutation: fc.Arbitrary<Mutation> = fc.oneof(
  setBody('session_replay_segment_id', badUuid),
  setBody('batch_id', badUuid),
  setBody('sent_at_ms', badNumber),
  setBody(
    'events',
    fc.oneof(
      wrongType('array'),
      fc.constant([]),
      manyEvents(MAX_BATCH_EVENTS + 1, { event_type: '$click', event_at_ms: 0, data: {} }),
    ),
  ),
  fc.constantFrom(...BATCH_KEYS).map((key): Mutation => ({ at: 'body', op: 'delete', key })),
  fc.tuple(extraKey(BATCH_KEYS), extraValue).map(([key, value]): Mutation => ({ at: 'body', op: 'set', key, value })),
  setEvent('event_type', badBrowserEventType),
  setEvent('event_at_ms', badNumber),
  setEvent('data', badData),
  fc.constantFrom(...BATCH_EVENT_KEYS).chain(deleteEvent),
  fc.tuple(extraKey(BATCH_EVENT_KEYS), extraValue).chain(([key, value]) => setEvent(key, fc.constant(value))),
  fc.tuple(fc.nat(), wrongType('object')).map(([index, value]): Mutation => ({ at: 'item', index, value })),
);

const systemEventWithWrongData = fc.tuple(
  fc.nat(),
  fc.constantFrom(...SYSTEM_EVENT_TYPES),
  fc.oneof(
    fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    fc.constantFrom(
      { refresh_token_id: '', is_anonymous: false, ip_info: null },
      { refresh_token_id: 'x', is_anonymous: 'no', ip_info: null },
      { refresh_token_id: 'x', is_anonymous: false, ip_info: null, extra: 1 },
      { refresh_token_id: 'x', is_anonymous: false, ip_info: { ip: '1.2.3.4' } },
      { rule_id: 'r', action: 'a'.repeat(65), email: null, auth_method: null, oauth_provider: null },
    ),
  ),
);

const serverMutation = (existingUserId: string): fc.Arbitrary<Mutation> =>
  fc.oneof(
    setBody(
      'events',
      fc.oneof(
        wrongType('array'),
        fc.constant([]),
        manyEvents(MAX_SERVER_EVENTS + 1, { event_type: 'x', data: {} }),
      ),
    ),
    fc.constant<Mutation>({ at: 'body', op: 'delete', key: 'events' }),
    fc.tuple(extraKey(['events']), extraValue).map(([key, value]): Mutation => ({ at: 'body', op: 'set', key, value })),
    setEvent('event_type', badServerEventType),
    setEvent('event_at_ms', badOptionalNumber),
    setEvent('data', badData),
    ...['user_id', 'team_id', 'refresh_token_id', 'session_replay_id', 'session_replay_segment_id'].map((key) =>
      setEvent(key, badOptionalUuid),
    ),
    // A well-formed id of nobody in this tenancy: 404 USER_NOT_FOUND.
    setEvent('user_id', fc.uuid().filter((id) => id !== existingUserId.toLowerCase())),
    systemEventWithWrongData.map(([index, type, data]): Mutation => ({ at: 'system-event', index, type, data })),
    fc.constantFrom('event_type', 'data').chain(deleteEvent),
    fc.tuple(extraKey(SERVER_EVENT_KEYS), extraValue).chain(([key, value]) => setEvent(key, fc.constant(value))),
    fc.tuple(fc.nat(), wrongType('object')).map(([index, value]): Mutation => ({ at: 'item', index, value })),
  );

/** Applies a mutation in place; false when it no longer fits (the body is already broken elsewhere). */
function applyMutation(body: Record<string, unknown>, mutation: Mutation): boolean {
  const events = body.events;
  if (mutation.at === 'system-event') {
    const event = eventAt(body, mutation.index);
    if (!event) return false;
    setKey(event, 'event_type', mutation.type);
    setKey(event, 'data', mutation.data);
    return true;
  }
  if (mutation.at === 'item') {
    if (!Array.isArray(events) || events.length === 0) return false;
    events[mutation.index % events.length] = mutation.value;
    return true;
  }
  const target = mutation.at === 'body' ? body : eventAt(body, mutation.index);
  if (!target) return false;
  if (mutation.op === 'delete') delete target[mutation.key];
  else setKey(target, mutation.key, mutation.value);
  return true;
}

function eventAt(body: Record<string, unknown>, index: number): Record<string, unknown> | undefined {
  const events = body.events;
  if (!Array.isArray(events) || events.length === 0) return undefined;
  const event: unknown = events[index % events.length];
  return event !== null && typeof event === 'object' && !Array.isArray(event) ? (event as Record<string, unknown>) : undefined;
}

/** A deep copy of a body of plain JSON values (no Raw tokens yet). */
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const mutated = (valid: fc.Arbitrary<Body>, mutation: fc.Arbitrary<Mutation>) =>
  fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([body, mutations]) => {
    const out = copy(body) as Record<string, unknown>;
    const applied = mutations.filter((m) => applyMutation(out, m));
    assert.ok(applied.length > 0, 'the first mutation always applies to a valid body');
    return { body: out, mutations: applied };
  });

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string | null>('application/json') },
  fc.constantFrom<string | null>(
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=xyz',
    'application/octet-stream',
    null,
  ),
);

/** Raw bodies built from a valid body's text (for both endpoints). */
const INVALID_UTF8 = [[0xff], [0xfe, 0xff], [0xc0, 0x80], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]];
type RawRequest = { label: string; payload?: string | Buffer; contentType: string | null };
const rawRequests = (valid: fc.Arbitrary<Body>): fc.Arbitrary<RawRequest> => {
  const text = valid.map((body) => JSON.stringify(body));
  return fc.oneof(
    fc.json({ maxDepth: 3 }).map((payload): RawRequest => ({ label: 'any JSON value', payload, contentType: 'application/json' })),
    fc.jsonValue({ maxDepth: 3 })
      .filter((v) => v === null || typeof v !== 'object' || Array.isArray(v))
      .map((v): RawRequest => ({ label: 'JSON array or primitive', payload: JSON.stringify(v), contentType: 'application/json' })),
    anyString.map((payload): RawRequest => ({ label: 'text', payload, contentType: 'application/json' })),
    fc.constantFrom('NaN', 'undefined', "{'a':1}", '{"a":1,}', '[1,]', '{"a"}', '\ufeff{}', '\ufeff\ufeff{}', '{"a":1}{"b":2}', '01', '.5', '+1', 'Infinity', '{"a":NaN}')
      .map((payload): RawRequest => ({ label: 'almost JSON', payload, contentType: 'application/json' })),
    fc.tuple(text, fc.constantFrom<string | null>('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/xml', 'application/json-patch+json', null))
      .map(([payload, type]): RawRequest => ({ label: 'valid body, wrong content type', payload, contentType: type })),
    text.map((t): RawRequest => ({ label: 'valid body as UTF-16', payload: Buffer.from(t, 'utf16le'), contentType: 'application/json' })),
    fc.tuple(text, fc.nat()).map(([t, at]): RawRequest => {
      const i = at % (t.length + 1);
      return { label: 'valid body with a NUL byte', payload: Buffer.concat([Buffer.from(t.slice(0, i)), Buffer.from([0]), Buffer.from(t.slice(i))]), contentType: 'application/json' };
    }),
    fc.tuple(text, fc.nat(), fc.constantFrom(...INVALID_UTF8)).map(([t, at, bytes]): RawRequest => {
      const positions = structuralPositions(t);
      const i = positions[at % positions.length]!;
      return {
        label: 'valid body with invalid UTF-8 between tokens',
        payload: Buffer.concat([Buffer.from(t.slice(0, i)), Buffer.from(bytes), Buffer.from(t.slice(i))]),
        contentType: 'application/json',
      };
    }),
    fc.tuple(text, fc.nat()).map(([t, at]): RawRequest => ({ label: 'truncated body', payload: t.slice(0, at % t.length), contentType: 'application/json' })),
    fc.constantFrom<string | null>('application/json', 'text/plain', null).map((type): RawRequest => ({ label: 'empty body', payload: '', contentType: type })),
    fc.constantFrom<string | null>('application/json', null).map((type): RawRequest => ({ label: 'no body', contentType: type })),
    fc.tuple(text, fc.constantFrom<string | null>('application/json', 'text/plain', null)).map(([t, type]): RawRequest => ({
      label: 'over 1 MB',
      payload: `${t.slice(0, -1)},"pad":"${'x'.repeat(BODY_LIMIT)}"}`,
      contentType: type,
    })),
    fc.integer({ min: 1_000, max: 10_000 }).map((depth): RawRequest => ({ label: 'deeply nested object', payload: deepObjectText(depth), contentType: 'application/json' })),
  );
};

/** fast-check parameters: bounded runs, and the failing assertion's message in the report. */
const runs = (numRuns: number) => ({ numRuns, includeErrorInReport: true });

// ---------------------------------------------------------------------------

describeWithServer('ingestion fuzz', 'pglite', { env: { SIGHTLINE_INGEST_RATE_LIMIT: '0' } }, (t) => {
  let projectId = '';
  let userId = '';
  let clientHeaders: Record<string, string> = {};
  let serverHeaders: Record<string, string> = {};
  const codes = new Map<string, number>();

  before(async () => {
    const project = await t().createProject({ analytics: true });
    const session = await t().signIn(project);
    projectId = project.projectId;
    userId = session.userId;
    clientHeaders = project.headers('client', { accessToken: session.accessToken });
    serverHeaders = project.headers('server');
  });

  const countRows = async () => {
    const [row] = await t().server.engines.clickhouse.query<{ n: string }>({
      name: 'test.ingest-fuzz.count',
      sql: 'SELECT count() AS n FROM analytics_internal.events WHERE project_id = {p:String}',
      params: { p: projectId },
    });
    return Number(row?.n);
  };

  const send = (url: string, headers: Record<string, string>, payload: string | Buffer | undefined, type: string | null) =>
    t().request({
      method: 'POST',
      url,
      headers: { ...headers, ...(type ? { 'content-type': type } : {}) },
      ...(payload !== undefined ? { payload } : {}),
    });

  /** The response is a 4xx known error caused by the body; returns its code. */
  const assertBadInput = (res: LightMyRequestResponse, what: string): string => {
    const preview = res.body.length > 300 ? `${res.body.slice(0, 300)}…` : res.body;
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${what}: expected a 4xx, got ${res.statusCode} ${preview}`);
    let body: { code?: unknown; error?: unknown };
    try {
      body = JSON.parse(res.body) as typeof body;
    } catch {
      assert.fail(`${what}: ${res.statusCode} with a body that is not JSON: ${preview}`);
    }
    assert.equal(typeof body.code, 'string', `${what}: no code in ${preview}`);
    assert.equal(typeof body.error, 'string', `${what}: no error message in ${preview}`);
    assert.equal(res.headers[HEADERS.knownError], body.code, `${what}: x-stack-known-error header`);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const code = body.code as string;
    assert.ok(BAD_INPUT_CODES.has(code), `${what}: ${res.statusCode} ${code} is not a bad-input error (${preview})`);
    codes.set(`${res.statusCode} ${code}`, (codes.get(`${res.statusCode} ${code}`) ?? 0) + 1);
    return code;
  };

  /** Sends a bad request and checks the answer and that the project's row count did not move. */
  const rejects = async (url: string, headers: Record<string, string>, payload: string | Buffer | undefined, type: string | null, what: string) => {
    const rowsBefore = await countRows();
    const res = await send(url, headers, payload, type);
    assertBadInput(res, what);
    assert.equal(await countRows(), rowsBefore, `${what}: rows were written`);
  };

  const positiveControl = async (numRuns: number) => {
    await fc.assert(
      fc.asyncProperty(validBatch, async (generated) => {
        // fast-check repeats small UUIDs across runs: a batch id already seen would be (rightly) deduplicated.
        const body = { ...generated, batch_id: randomUUID() };
        const rowsBefore = await countRows();
        const res = await send(BATCH_URL, clientHeaders, JSON.stringify(body), 'application/json');
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json(), { inserted: body.events.length });
        assert.equal(await countRows(), rowsBefore + body.events.length);
        // The same batch again is answered the same and adds nothing.
        const again = await send(BATCH_URL, clientHeaders, JSON.stringify(body), 'application/json');
        assert.equal(again.statusCode, 200, again.body);
        assert.deepEqual(again.json(), { inserted: body.events.length });
        assert.equal(await countRows(), rowsBefore + body.events.length);
      }),
      runs(numRuns),
    );
    await fc.assert(
      fc.asyncProperty(validServerBody(userId), async (body) => {
        const rowsBefore = await countRows();
        const res = await send(SERVER_URL, serverHeaders, JSON.stringify(body), 'application/json');
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json(), { inserted: body.events.length });
        assert.equal(await countRows(), rowsBefore + body.events.length);
      }),
      runs(numRuns),
    );
  };

  test('positive control: valid random bodies are accepted and add exactly their rows', { timeout: 30_000 }, async () => {
    await positiveControl(25);
  });

  test('browser batches: every malformed body is a 4xx known error and writes nothing', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(mutated(validBatch as fc.Arbitrary<Body>, batchMutation), contentType, async ({ body }, type) => {
        await rejects(BATCH_URL, clientHeaders, toJsonText(body), type, 'batch');
      }),
      runs(300),
    );
  });

  test('server events: every malformed body is a 4xx known error and writes nothing', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constant(null).chain(() => mutated(validServerBody(userId) as fc.Arbitrary<Body>, serverMutation(userId))),
        contentType,
        async ({ body }, type) => {
          await rejects(SERVER_URL, serverHeaders, toJsonText(body), type, 'server events');
        },
      ),
      runs(250),
    );
  });

  test('raw bodies (not JSON, wrong content type, NUL, invalid UTF-8, truncated, over 1 MB, deep) are 4xx known errors', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(rawRequests(validBatch as fc.Arbitrary<Body>), async (req) => {
        await rejects(BATCH_URL, clientHeaders, req.payload, req.contentType, `batch, ${req.label}`);
      }),
      runs(250),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constant(null).chain(() => rawRequests(validServerBody(userId) as fc.Arbitrary<Body>)),
        async (req) => {
          await rejects(SERVER_URL, serverHeaders, req.payload, req.contentType, `server events, ${req.label}`);
        },
      ),
      runs(150),
    );
  });

  test('the named cases of issue 4 are each a 4xx known error', async () => {
    const batch = () => ({
      session_replay_segment_id: randomUUID(),
      batch_id: randomUUID(),
      sent_at_ms: Date.now(),
      events: [{ event_type: '$click', event_at_ms: Date.now(), data: {} }],
    });
    const cases: [string, unknown][] = [
      ['event type $foo', { ...batch(), events: [{ event_type: '$foo', event_at_ms: 1, data: {} }] }],
      ['event type with a space', { ...batch(), events: [{ event_type: 'has space', event_at_ms: 1, data: {} }] }],
      ['event type of 65 characters', { ...batch(), events: [{ event_type: 'a'.repeat(65), event_at_ms: 1, data: {} }] }],
      ['sent_at_ms -1', { ...batch(), sent_at_ms: -1 }],
      ['sent_at_ms 1.5', { ...batch(), sent_at_ms: 1.5 }],
      ['sent_at_ms 1e400', { ...batch(), sent_at_ms: raw('1e400') }],
      ['sent_at_ms "NaN"', { ...batch(), sent_at_ms: 'NaN' }],
      ['event_at_ms "Infinity"', { ...batch(), events: [{ event_type: '$click', event_at_ms: 'Infinity', data: {} }] }],
      ['batch_id of version 0', { ...batch(), batch_id: setCharAt(randomUUID(), 14, '0') }],
      ['batch_id of variant c', { ...batch(), batch_id: setCharAt(randomUUID(), 19, 'c') }],
      ['data nested 10 000 levels', { ...batch(), events: [{ event_type: '$click', event_at_ms: 1, data: raw(deepObjectText(10_000)) }] }],
      ['2001 data keys', { ...batch(), events: [{ event_type: '$click', event_at_ms: 1, data: tooManyKeys() }] }],
      ['an unknown field', { ...batch(), user_id: randomUUID() }],
      ['501 events', { ...batch(), events: Array.from({ length: 501 }, () => ({ event_type: '$click', event_at_ms: 1, data: {} })) }],
      ['a NUL in the event type', { ...batch(), events: [{ event_type: 'a\u0000b', event_at_ms: 1, data: {} }] }],
    ];
    for (const [what, body] of cases) await rejects(BATCH_URL, clientHeaders, toJsonText(body), 'application/json', what);
    await rejects(BATCH_URL, clientHeaders, JSON.stringify({ ...batch(), pad: 'x'.repeat(BODY_LIMIT) }), 'application/json', 'over 1 MB');
    await rejects(BATCH_URL, clientHeaders, '', 'application/json', 'empty body');
    await rejects(BATCH_URL, clientHeaders, undefined, null, 'no body at all');
    await rejects(BATCH_URL, clientHeaders, 'batch_id=1', 'application/x-www-form-urlencoded', 'a form');
    await rejects(BATCH_URL, clientHeaders, JSON.stringify(batch()), 'text/plain', 'a valid body as text/plain');
    await rejects(BATCH_URL, clientHeaders, '--b\r\n\r\n{}\r\n--b--', 'multipart/form-data; boundary=b', 'multipart');
    await rejects(SERVER_URL, serverHeaders, JSON.stringify({ events: [{ event_type: '$token-refresh', data: {} }] }), 'application/json', 'a system event with the wrong data');
    await rejects(SERVER_URL, serverHeaders, JSON.stringify({ events: [{ event_type: 'x', data: {}, user_id: randomUUID() }] }), 'application/json', 'an unknown user');
  });

  test('positive control, again: the server still ingests after the fuzzing', { timeout: 30_000 }, async () => {
    await positiveControl(10);
    console.log(`# answers to bad bodies: ${[...codes].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} x${n}`).join(', ')}`);
  });

  /** Bugs this file found, each pinned by the behaviour that fixed it. */
  describe('regressions found by fuzzing', () => {
    const batch = (data: unknown = {}) => ({
      session_replay_segment_id: randomUUID(),
      batch_id: randomUUID(),
      sent_at_ms: Date.now(),
      events: [{ event_type: '$click', event_at_ms: Date.now(), data }],
    });
    /** Never a 500: a 4xx known error that writes nothing, or a 200 that writes the rows. */
    const neverServerError = async (url: string, headers: Record<string, string>, payload: string | Buffer, what: string, rows: number) => {
      const before = await countRows();
      const res = await send(url, headers, payload, 'application/json');
      assert.ok(res.statusCode < 500, `${what}: ${res.statusCode} ${res.body.slice(0, 200)}`);
      if (res.statusCode === 200) assert.equal(await countRows(), before + rows, `${what}: rows`);
      else {
        assertBadInput(res, what);
        assert.equal(await countRows(), before, `${what}: rows`);
      }
    };
    const failures = async (checks: (() => Promise<void>)[]) => {
      const out: string[] = [];
      for (const check of checks) await check().catch((error: Error) => out.push(error.message.split('\n')[0] ?? ''));
      return out;
    };

    test(
      'a value nested 10 000 levels where the schema wants another type is a 400, not a 500',
      async () => {
        const deepA = raw(deepArrayText(10_000));
        const deepO = raw(deepObjectText(10_000));
        const cases: [string, string, Record<string, string>, string][] = [
          ['batch_id', BATCH_URL, clientHeaders, toJsonText({ ...batch(), batch_id: deepA })],
          ['sent_at_ms', BATCH_URL, clientHeaders, toJsonText({ ...batch(), sent_at_ms: deepO })],
          ['events[0]', BATCH_URL, clientHeaders, toJsonText({ ...batch(), events: [deepA] })],
          ['the whole body', BATCH_URL, clientHeaders, deepArrayText(10_000)],
          ['server events[0].user_id', SERVER_URL, serverHeaders, toJsonText({ events: [{ event_type: 'x', data: {}, user_id: deepA }] })],
        ];
        const failed = await failures(cases.map(([what, url, headers, text]) => () => rejects(url, headers, text, 'application/json', what)));
        assert.deepEqual(failed, []);
      },
    );

    test(
      'server events may use custom names that are Object.prototype members',
      async () => {
        const names = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', '__defineGetter__'];
        const failed = await failures(
          names.map((name) => async () => {
            const before = await countRows();
            const res = await send(SERVER_URL, serverHeaders, JSON.stringify({ events: [{ event_type: name, data: {} }] }), 'application/json');
            assert.equal(res.statusCode, 200, `${name}: ${res.statusCode} ${res.body.slice(0, 120)}`);
            assert.equal(await countRows(), before + 1, `${name}: rows`);
          }),
        );
        assert.deepEqual(failed, []);
      },
    );

    test(
      'invalid UTF-8 inside a JSON string is a 4xx (DESIGN §14)',
      async () => {
        const [head, tail] = JSON.stringify(batch({ k: 'PLACEHOLDER' })).split('PLACEHOLDER') as [string, string];
        const payload = Buffer.concat([Buffer.from(head), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(tail)]);
        await rejects(BATCH_URL, clientHeaders, payload, 'application/json', 'invalid UTF-8 in a data string');
      },
    );

    test(
      'event data that ClickHouse JSON cannot hold is never a 500',
      async () => {
        const cases: [string, string, Record<string, string>, unknown][] = [
          ['data {n: 1e20}', BATCH_URL, clientHeaders, batch({ n: 1e20 })],
          ['data {n: -1e19}', BATCH_URL, clientHeaders, batch({ n: -1e19 })],
          ['data {n: 2^64}', BATCH_URL, clientHeaders, batch({ n: raw('18446744073709551616') })],
          ['data {a: [1e20]}', BATCH_URL, clientHeaders, batch({ a: [1e20] })],
          ['data {"a.b": 1, a: {b: 2}}', BATCH_URL, clientHeaders, batch({ 'a.b': 1, a: { b: 2 } })],
          ['data {a: [{"b.c": 1, b: {c: 2}}]}', BATCH_URL, clientHeaders, batch({ a: [{ 'b.c': 1, b: { c: 2 } }] })],
          ['server data {"a.b": 1, a: {b: 2}}', SERVER_URL, serverHeaders, { events: [{ event_type: 'x', data: { 'a.b': 1, a: { b: 2 } } }] }],
          ['server data {n: 1e20}', SERVER_URL, serverHeaders, { events: [{ event_type: 'x', data: { n: 1e20 } }] }],
        ];
        const failed = await failures(cases.map(([what, url, headers, body]) => () => neverServerError(url, headers, toJsonText(body), what, 1)));
        assert.deepEqual(failed, []);
      },
    );

    test(
      'one batch ClickHouse refuses does not fail the valid batches committed with it',
      async () => {
        const before = await countRows();
        const bodies = Array.from({ length: 12 }, (_, i) => (i === 5 ? batch({ 'a.b': 1, a: { b: 2 } }) : batch({ i })));
        const answers = await Promise.all(bodies.map((body) => send(BATCH_URL, clientHeaders, JSON.stringify(body), 'application/json')));
        const validStatuses = answers.filter((_, i) => i !== 5).map((res) => res.statusCode);
        assert.deepEqual(validStatuses, Array.from({ length: 11 }, () => 200), `statuses of the valid batches (the bad one: ${answers[5]?.statusCode})`);
        assert.equal(await countRows(), before + 11 + (answers[5]?.statusCode === 200 ? 1 : 0));
      },
    );
  });
});
