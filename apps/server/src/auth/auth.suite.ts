import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import { HEADERS, MAX_METADATA_BYTES } from '@sightline/protocol';
import { eventually } from '../testing/eventually.ts';
import { describeWithServer, type PostgresKind, type TestProject, type TestServer } from '../testing/test-server.ts';

const API = '/api/v1';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const short = (text: string) => (text.length > 500 ? `${text.slice(0, 500)}…` : text);

/** Asserts a known-error answer: status, body code and the `x-stack-known-error` header. */
function assertKnownError(res: LightMyRequestResponse, status: number, code: string): Record<string, unknown> {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${short(res.body)}`);
  const body = res.json() as { code: string; error: string; details?: Record<string, unknown> };
  assert.equal(body.code, code, res.body);
  assert.equal(res.headers[HEADERS.knownError], code);
  assert.equal(typeof body.error, 'string');
  return body;
}

function assertOk(res: LightMyRequestResponse, status = 200): any {
  assert.equal(res.statusCode, status, short(res.body));
  return res.json();
}

type EventRead = {
  event_type: string;
  user_id: string | null;
  team_id: string | null;
  refresh_token_id: string | null;
  data: string;
};

async function tokenRefreshEvents(t: TestServer, projectId: string): Promise<(Omit<EventRead, 'data'> & { data: any })[]> {
  const rows = await t.server.engines.clickhouse.query<EventRead>({
    name: 'test.auth.events',
    sql: `SELECT event_type, user_id, team_id, refresh_token_id, toJSONString(data) AS data
          FROM analytics_internal.events WHERE project_id = {p:String} ORDER BY event_at, refresh_token_id`,
    params: { p: projectId },
  });
  return rows.map((row) => ({ ...row, data: JSON.parse(row.data) }));
}

/**
 * Registers the tests of issue 3 (projects, keys, access types, users,
 * sessions, access tokens, `$token-refresh` events) for one Postgres kind.
 */
export function registerAuthSuite(kind: PostgresKind): void {
  /** Added to the real time by the server's clock (token expiry tests). */
  let clockOffset = 0;

  describeWithServer('auth', kind, { now: () => Date.now() + clockOffset }, (t) => {
    const req = (options: InjectOptions) => t().request(options);
    const createSession = async (project: TestProject, userId: string, headers = project.headers('server')) =>
      req({ method: 'POST', url: `${API}/auth/sessions`, headers, payload: { user_id: userId } });
    const revoke = (project: TestProject, accessToken: string, extra: { branchId?: string } = {}) =>
      req({ method: 'DELETE', url: `${API}/auth/sessions/current`, headers: project.headers('client', { accessToken, ...extra }) });
    const refresh = (project: TestProject, refreshToken: string, extra: { branchId?: string } = {}) =>
      req({
        method: 'POST',
        url: `${API}/auth/sessions/current/refresh`,
        headers: { ...project.headers('client', extra), [HEADERS.refreshToken]: refreshToken },
      });

    // ---- 1. Projects and branches -------------------------------------------------------

    test('operator bootstrap needs the bearer secret', async () => {
      const url = `${API}/internal/projects`;
      assertKnownError(await req({ method: 'POST', url, payload: {} }), 401, 'OPERATOR_AUTHENTICATION_REQUIRED');
      assertKnownError(
        await req({ method: 'POST', url, headers: { authorization: `Basic ${t().server.adminSecret}` }, payload: {} }),
        401,
        'OPERATOR_AUTHENTICATION_REQUIRED',
      );
      assertKnownError(
        await req({ method: 'POST', url, headers: { authorization: 'Bearer not-the-secret' }, payload: {} }),
        401,
        'INVALID_OPERATOR_SECRET',
      );
      // Project keys are not operator credentials.
      const project = await t().createProject();
      assertKnownError(await req({ method: 'POST', url, headers: project.headers('admin'), payload: {} }), 401, 'OPERATOR_AUTHENTICATION_REQUIRED');
    });

    test('a project is created with its three keys, analytics off unless asked; admin reads and updates it', async () => {
      const bearer = { authorization: `Bearer ${t().server.adminSecret}` };
      const created = assertOk(
        await req({ method: 'POST', url: `${API}/internal/projects`, headers: bearer, payload: { display_name: 'Acme' } }),
        201,
      );
      assert.deepEqual(Object.keys(created).sort(), ['project_id', 'publishable_client_key', 'secret_server_key', 'super_secret_admin_key']);
      assert.match(created.project_id, UUID);
      const headers = {
        [HEADERS.projectId]: created.project_id,
        [HEADERS.accessType]: 'admin',
        [HEADERS.superSecretAdminKey]: created.super_secret_admin_key,
      };
      const read = assertOk(await req({ method: 'GET', url: `${API}/internal/projects/current`, headers }));
      assert.equal(read.id, created.project_id);
      assert.equal(read.display_name, 'Acme');
      assert.deepEqual(read.analytics, { enabled: false });
      assert.ok(Math.abs(read.created_at_millis - Date.now()) < 60_000);

      const enabled = assertOk(
        await req({ method: 'PATCH', url: `${API}/internal/projects/current`, headers, payload: { analytics: { enabled: true } } }),
      );
      assert.deepEqual(enabled.analytics, { enabled: true });
      assert.equal(enabled.display_name, 'Acme');
      const renamed = assertOk(
        await req({ method: 'PATCH', url: `${API}/internal/projects/current`, headers, payload: { display_name: 'Acme 2' } }),
      );
      assert.equal(renamed.display_name, 'Acme 2');
      assert.deepEqual(renamed.analytics, { enabled: true }, 'a patch without analytics leaves it alone');
      const reread = assertOk(await req({ method: 'GET', url: `${API}/internal/projects/current`, headers }));
      assert.deepEqual(reread, renamed);
      assertKnownError(
        await req({ method: 'PATCH', url: `${API}/internal/projects/current`, headers, payload: { analytics: { enabled: 'yes' } } }),
        400,
        'SCHEMA_ERROR',
      );
      assertKnownError(
        await req({ method: 'PATCH', url: `${API}/internal/projects/current`, headers, payload: { owner: 'x' } }),
        400,
        'SCHEMA_ERROR',
      );

      // No body at all: defaults.
      const bare = assertOk(await req({ method: 'POST', url: `${API}/internal/projects`, headers: bearer }), 201);
      const bareRead = assertOk(
        await req({
          method: 'GET',
          url: `${API}/internal/projects/current`,
          headers: { ...headers, [HEADERS.projectId]: bare.project_id, [HEADERS.superSecretAdminKey]: bare.super_secret_admin_key },
        }),
      );
      assert.deepEqual(bareRead.analytics, { enabled: false });
    });

    test('project settings need admin access', async () => {
      const project = await t().createProject();
      for (const accessType of ['client', 'server'] as const) {
        for (const method of ['GET', 'PATCH'] as const) {
          const body = assertKnownError(
            await req({
              method,
              url: `${API}/internal/projects/current`,
              headers: project.headers(accessType),
              ...(method === 'PATCH' ? { payload: { analytics: { enabled: true } } } : {}),
            }),
            401,
            'INSUFFICIENT_ACCESS_TYPE',
          );
          assert.deepEqual(body.details, { actual_access_type: accessType, allowed_access_types: ['admin'] });
        }
      }
      const read = assertOk(await req({ method: 'GET', url: `${API}/internal/projects/current`, headers: project.headers('admin') }));
      assert.equal(read.id, project.projectId);
    });

    test('client-config tells a browser SDK whether analytics is on, with the publishable key alone', async () => {
      const off = await t().createProject({ analytics: false });
      const on = await t().createProject({ analytics: true });
      const config = async (project: TestProject) =>
        req({ method: 'GET', url: `${API}/analytics/client-config`, headers: project.headers('client') });
      assert.deepEqual(assertOk(await config(off)), { enabled: false });
      const answer = await config(on);
      assert.deepEqual(assertOk(answer), { enabled: true });
      assert.equal(answer.headers['cache-control'], 'private, max-age=60');
      // Turning it on reaches the endpoint (after the few seconds of the credentials cache at most).
      assertOk(await req({ method: 'PATCH', url: `${API}/internal/projects/current`, headers: off.headers('admin'), payload: { analytics: { enabled: true } } }));
      await eventually(
        async () => {
          const answer = await config(off);
          return answer.statusCode === 200 && answer.json().enabled === true;
        },
        10_000,
        'client-config answering enabled: true',
      );
      const wrongKey = { ...on.headers('client'), 'x-stack-publishable-client-key': 'pck_wrong' };
      assertKnownError(await req({ method: 'GET', url: `${API}/analytics/client-config`, headers: wrongKey }), 401, 'INVALID_PUBLISHABLE_CLIENT_KEY');
    });

    test('branches: default main; users of branch dev are invisible from main', async () => {
      const project = await t().createProject();
      const dev = project.headers('server', { branchId: 'dev' });
      const devUser = assertOk(await req({ method: 'POST', url: `${API}/users`, headers: dev, payload: { display_name: 'dev' } }), 201);
      const mainUser = assertOk(
        await req({ method: 'POST', url: `${API}/users`, headers: project.headers('server'), payload: { display_name: 'main' } }),
        201,
      );
      const explicitMain = project.headers('server', { branchId: 'main' });
      for (const headers of [project.headers('server'), explicitMain]) {
        assertKnownError(await req({ method: 'GET', url: `${API}/users/${devUser.id}`, headers }), 404, 'USER_NOT_FOUND');
        assertKnownError(
          await req({ method: 'PATCH', url: `${API}/users/${devUser.id}`, headers, payload: { display_name: 'x' } }),
          404,
          'USER_NOT_FOUND',
        );
        assertKnownError(await req({ method: 'DELETE', url: `${API}/users/${devUser.id}`, headers }), 404, 'USER_NOT_FOUND');
        assertKnownError(await createSession(project, devUser.id, headers), 404, 'USER_NOT_FOUND');
        const list = assertOk(await req({ method: 'GET', url: `${API}/users`, headers }));
        assert.deepEqual(list.items.map((u: { id: string }) => u.id), [mainUser.id]);
      }
      assert.equal(assertOk(await req({ method: 'GET', url: `${API}/users/${devUser.id}`, headers: dev })).display_name, 'dev');
      assertKnownError(await req({ method: 'GET', url: `${API}/users/${mainUser.id}`, headers: dev }), 404, 'USER_NOT_FOUND');
      const devList = assertOk(await req({ method: 'GET', url: `${API}/users`, headers: dev }));
      assert.deepEqual(devList.items.map((u: { id: string }) => u.id), [devUser.id]);

      // A dev session's token names branch dev and is refused on main.
      const session = assertOk(await createSession(project, devUser.id, dev));
      assert.equal(decodeJwt(session.access_token).branch_id, 'dev');
      assertKnownError(await refresh(project, session.refresh_token), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
      assertKnownError(await revoke(project, session.access_token), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
      assertOk(await refresh(project, session.refresh_token, { branchId: 'dev' }));
      assertOk(await revoke(project, session.access_token, { branchId: 'dev' }));

      // Branch ids are identifiers.
      const bad = assertKnownError(
        await req({ method: 'GET', url: `${API}/users`, headers: { ...project.headers('server'), [HEADERS.branchId]: 'a/b' } }),
        400,
        'BRANCH_DOES_NOT_EXIST',
      );
      assert.deepEqual(bad.details, { branch_id: 'a/b' });
    });

    // ---- 2. Keys and access types --------------------------------------------------------

    test('keys are high-entropy, distinct, and stored only as SHA-256 hashes', async () => {
      const a = await t().createProject();
      const b = await t().createProject();
      const all = [...Object.values(a.keys), ...Object.values(b.keys)];
      assert.equal(new Set(all).size, 6);
      assert.match(a.keys.publishable_client_key, /^pck_[A-Za-z0-9_-]{43}$/);
      assert.match(a.keys.secret_server_key, /^ssk_[A-Za-z0-9_-]{43}$/);
      assert.match(a.keys.super_secret_admin_key, /^sak_[A-Za-z0-9_-]{43}$/);

      const pg = t().server.engines.postgres;
      const rows = await pg.execute<{ row: string; kind: string; hash: string; revoked: boolean }>(
        `SELECT k::text AS row, kind, encode(secret_hash, 'hex') AS hash, revoked_at IS NOT NULL AS revoked
         FROM project_keys k WHERE project_id = $1 ORDER BY kind`,
        [a.projectId],
      );
      assert.equal(rows.length, 3);
      const everything = (await pg.execute<{ row: string }>('SELECT k::text AS row FROM project_keys k')).map((r) => r.row).join('\n');
      const projectsText = (await pg.execute<{ row: string }>('SELECT p::text AS row FROM projects p')).map((r) => r.row).join('\n');
      for (const key of Object.values(a.keys)) {
        const secretPart = key.slice(4);
        assert.ok(!everything.includes(secretPart), 'plaintext key stored in project_keys');
        assert.ok(!everything.includes(Buffer.from(key).toString('hex')), 'plaintext key stored as bytes in project_keys');
        assert.ok(!projectsText.includes(secretPart), 'plaintext key stored in projects');
      }
      const byKind = Object.fromEntries(rows.map((r) => [r.kind, r.hash]));
      assert.deepEqual(byKind, {
        publishable_client: sha256Hex(a.keys.publishable_client_key),
        secret_server: sha256Hex(a.keys.secret_server_key),
        super_secret_admin: sha256Hex(a.keys.super_secret_admin_key),
      });
    });

    test('key rotation: old keys stop working at once, new ones work', async () => {
      const project = await t().createProject();
      // Warm the credential cache with every old key.
      for (const accessType of ['client', 'server', 'admin'] as const) {
        const res = await req({ method: 'POST', url: `${API}/auth/anonymous/sign-up`, headers: project.headers(accessType) });
        assertOk(res);
      }
      assertKnownError(
        await req({ method: 'POST', url: `${API}/internal/projects/current/keys/rotate`, headers: project.headers('server') }),
        401,
        'INSUFFICIENT_ACCESS_TYPE',
      );
      const keys = assertOk(
        await req({ method: 'POST', url: `${API}/internal/projects/current/keys/rotate`, headers: project.headers('admin') }),
      );
      assert.deepEqual(Object.keys(keys).sort(), ['publishable_client_key', 'secret_server_key', 'super_secret_admin_key']);
      for (const [field, value] of Object.entries(keys)) {
        assert.notEqual(value, project.keys[field as keyof typeof project.keys]);
      }
      const expected = { client: 'INVALID_PUBLISHABLE_CLIENT_KEY', server: 'INVALID_SECRET_SERVER_KEY', admin: 'INVALID_SUPER_SECRET_ADMIN_KEY' };
      for (const [accessType, code] of Object.entries(expected) as [keyof typeof expected, string][]) {
        const body = assertKnownError(
          await req({ method: 'POST', url: `${API}/auth/anonymous/sign-up`, headers: project.headers(accessType) }),
          401,
          code,
        );
        assert.deepEqual(body.details, { project_id: project.projectId });
      }
      const rotated: TestProject = {
        ...project,
        keys,
        headers: (accessType, extra) => {
          const old = project.headers(accessType, extra);
          const field = { client: HEADERS.publishableClientKey, server: HEADERS.secretServerKey, admin: HEADERS.superSecretAdminKey }[accessType];
          const fresh = { client: keys.publishable_client_key, server: keys.secret_server_key, admin: keys.super_secret_admin_key }[accessType];
          return { ...old, [field]: fresh };
        },
      };
      for (const accessType of ['client', 'server', 'admin'] as const) {
        assertOk(await req({ method: 'POST', url: `${API}/auth/anonymous/sign-up`, headers: rotated.headers(accessType) }));
      }
      assertOk(await req({ method: 'GET', url: `${API}/internal/projects/current`, headers: rotated.headers('admin') }));
      const states = await t().server.engines.postgres.execute<{ revoked: boolean; n: number }>(
        'SELECT revoked_at IS NOT NULL AS revoked, count(*)::int AS n FROM project_keys WHERE project_id = $1 GROUP BY 1 ORDER BY 1',
        [project.projectId],
      );
      assert.deepEqual(states.map((s) => [s.revoked, Number(s.n)]), [[false, 3], [true, 3]]);
    });

    test('missing or wrong project credentials answer 401 with distinct codes', async () => {
      const project = await t().createProject();
      const other = await t().createProject();
      const url = `${API}/auth/anonymous/sign-up`; // client+
      const post = (headers: Record<string, string>) => req({ method: 'POST', url, headers });
      const { projectId, keys } = project;

      assertKnownError(await post({}), 401, 'ACCESS_TYPE_REQUIRED');
      assertKnownError(await post({ [HEADERS.projectId]: projectId }), 401, 'ACCESS_TYPE_REQUIRED');
      assertKnownError(
        await post({ [HEADERS.projectId]: projectId, [HEADERS.publishableClientKey]: keys.publishable_client_key }),
        401,
        'PROJECT_KEY_WITHOUT_ACCESS_TYPE',
      );
      assertKnownError(
        await post({ [HEADERS.projectId]: projectId, [HEADERS.secretServerKey]: keys.secret_server_key }),
        401,
        'PROJECT_KEY_WITHOUT_ACCESS_TYPE',
      );
      const invalidType = assertKnownError(
        await post({ ...project.headers('client'), [HEADERS.accessType]: 'superuser' }),
        401,
        'INVALID_ACCESS_TYPE',
      );
      assert.deepEqual(invalidType.details, { access_type: 'superuser' });
      const { [HEADERS.projectId]: _omit, ...noProject } = project.headers('client');
      assertKnownError(await post(noProject), 401, 'ACCESS_TYPE_WITHOUT_PROJECT_ID');
      for (const missing of ['6b0c7a52-4a55-4d3e-9a4f-2f1d0a9c1e11', 'not-a-uuid']) {
        const body = assertKnownError(
          await post({ ...project.headers('client'), [HEADERS.projectId]: missing }),
          401,
          'CURRENT_PROJECT_NOT_FOUND',
        );
        assert.deepEqual(body.details, { project_id: missing });
      }

      const required = { client: 'CLIENT_AUTHENTICATION_REQUIRED', server: 'SERVER_AUTHENTICATION_REQUIRED', admin: 'ADMIN_AUTHENTICATION_REQUIRED' };
      const invalid = { client: 'INVALID_PUBLISHABLE_CLIENT_KEY', server: 'INVALID_SECRET_SERVER_KEY', admin: 'INVALID_SUPER_SECRET_ADMIN_KEY' };
      const header = { client: HEADERS.publishableClientKey, server: HEADERS.secretServerKey, admin: HEADERS.superSecretAdminKey };
      for (const accessType of ['client', 'server', 'admin'] as const) {
        const base = { [HEADERS.projectId]: projectId, [HEADERS.accessType]: accessType };
        // No key for this access type, even with the keys of the other types present.
        const othersKeys = Object.fromEntries(
          (['client', 'server', 'admin'] as const)
            .filter((a) => a !== accessType)
            .map((a) => [header[a], project.headers(a)[header[a]] as string]),
        );
        assertKnownError(await post(base), 401, required[accessType]);
        assertKnownError(await post({ ...base, ...othersKeys }), 401, required[accessType]);
        // Wrong keys: garbage, another kind's key, and this kind's key of another project.
        const wrongValues = [
          'pck_wrong',
          ...Object.values(keys).filter((k) => k !== project.headers(accessType)[header[accessType]]),
          other.headers(accessType)[header[accessType]] as string,
        ];
        for (const wrong of wrongValues) {
          const body = assertKnownError(await post({ ...base, [header[accessType]]: wrong }), 401, invalid[accessType]);
          assert.deepEqual(body.details, { project_id: projectId });
        }
        // Project A's valid key with project B's id.
        assertKnownError(
          await post({ ...project.headers(accessType), [HEADERS.projectId]: other.projectId }),
          401,
          invalid[accessType],
        );
        assertOk(await post(project.headers(accessType)));
      }
      // Nothing was created in the other project.
      const otherUsers = assertOk(await req({ method: 'GET', url: `${API}/users`, headers: other.headers('server') }));
      assert.deepEqual(otherUsers.items, []);
    });

    test('a lower access type answers INSUFFICIENT_ACCESS_TYPE with details', async () => {
      const project = await t().createProject();
      const userId = '6b0c7a52-4a55-4d3e-9a4f-2f1d0a9c1e11';
      const serverPlus: InjectOptions[] = [
        { method: 'POST', url: `${API}/users`, payload: {} },
        { method: 'GET', url: `${API}/users` },
        { method: 'GET', url: `${API}/users/${userId}` },
        { method: 'PATCH', url: `${API}/users/${userId}`, payload: {} },
        { method: 'DELETE', url: `${API}/users/${userId}` },
        { method: 'POST', url: `${API}/auth/sessions`, payload: { user_id: userId } },
      ];
      for (const options of serverPlus) {
        const body = assertKnownError(await req({ ...options, headers: project.headers('client') }), 401, 'INSUFFICIENT_ACCESS_TYPE');
        assert.deepEqual(body.details, { actual_access_type: 'client', allowed_access_types: ['server', 'admin'] });
        const error = (body as { error: string }).error;
        assert.match(error, /'server' or 'admin'/);
      }
      // A wrong key is reported before the access-type check.
      assertKnownError(
        await req({ method: 'GET', url: `${API}/users`, headers: { ...project.headers('client'), [HEADERS.publishableClientKey]: 'x' } }),
        401,
        'INVALID_PUBLISHABLE_CLIENT_KEY',
      );
      // Admin is enough for server+ routes.
      assertOk(await req({ method: 'GET', url: `${API}/users`, headers: project.headers('admin') }));
    });

    // ---- 3. Users ------------------------------------------------------------------------

    test('users: create, read, update, delete with every field', async () => {
      const project = await t().createProject();
      const headers = project.headers('server');
      const input = {
        primary_email: 'ada@example.com',
        primary_email_verified: true,
        display_name: 'Ada',
        profile_image_url: 'https://example.com/ada.png',
        client_metadata: { theme: 'dark', n: 1 },
        client_read_only_metadata: { plan: 'pro' },
        server_metadata: { stripe: { id: 'cus_1' }, tags: ['a', 'b'] },
        is_anonymous: false,
        restricted_by_admin: true,
        restricted_by_admin_reason: 'spam',
        restricted_by_admin_private_details: 'reported twice',
        signed_up_at_millis: 1_700_000_000_123,
      };
      const created = assertOk(await req({ method: 'POST', url: `${API}/users`, headers, payload: input }), 201);
      assert.match(created.id, UUID);
      assert.deepEqual(created, { id: created.id, ...input, signed_up_at: new Date(input.signed_up_at_millis).toISOString() });
      const read = assertOk(await req({ method: 'GET', url: `${API}/users/${created.id}`, headers: project.headers('admin') }));
      assert.deepEqual(read, created);

      const patched = assertOk(
        await req({
          method: 'PATCH',
          url: `${API}/users/${created.id}`,
          headers,
          payload: { display_name: null, client_metadata: { theme: 'light' }, restricted_by_admin: false, primary_email: 'ada@lovelace.org' },
        }),
      );
      assert.deepEqual(patched, {
        ...created,
        display_name: null,
        client_metadata: { theme: 'light' },
        restricted_by_admin: false,
        primary_email: 'ada@lovelace.org',
      });
      assert.deepEqual(assertOk(await req({ method: 'GET', url: `${API}/users/${created.id}`, headers })), patched);
      assert.deepEqual(assertOk(await req({ method: 'PATCH', url: `${API}/users/${created.id}`, headers, payload: {} })), patched);

      assert.deepEqual(assertOk(await req({ method: 'DELETE', url: `${API}/users/${created.id}`, headers })), { success: true });
      assertKnownError(await req({ method: 'GET', url: `${API}/users/${created.id}`, headers }), 404, 'USER_NOT_FOUND');
      assertKnownError(await req({ method: 'DELETE', url: `${API}/users/${created.id}`, headers }), 404, 'USER_NOT_FOUND');
      assertKnownError(
        await req({ method: 'PATCH', url: `${API}/users/${created.id}`, headers, payload: { display_name: 'x' } }),
        404,
        'USER_NOT_FOUND',
      );
    });

    test('users: defaults of a minimal user; users of another project are not found', async () => {
      const project = await t().createProject();
      const other = await t().createProject();
      const before = Date.now();
      const user = assertOk(await req({ method: 'POST', url: `${API}/users`, headers: project.headers('server'), payload: {} }), 201);
      assert.deepEqual(
        { ...user, id: 'x', signed_up_at_millis: 0, signed_up_at: 'x' },
        {
          id: 'x',
          primary_email: null,
          primary_email_verified: false,
          display_name: null,
          profile_image_url: null,
          client_metadata: null,
          client_read_only_metadata: null,
          server_metadata: null,
          is_anonymous: false,
          restricted_by_admin: false,
          restricted_by_admin_reason: null,
          restricted_by_admin_private_details: null,
          signed_up_at_millis: 0,
          signed_up_at: 'x',
        },
      );
      assert.ok(user.signed_up_at_millis >= before - 5000 && user.signed_up_at_millis <= Date.now() + 5000);
      assert.equal(new Date(user.signed_up_at).getTime(), user.signed_up_at_millis);
      for (const method of ['GET', 'DELETE'] as const) {
        assertKnownError(await req({ method, url: `${API}/users/${user.id}`, headers: other.headers('server') }), 404, 'USER_NOT_FOUND');
      }
      assertOk(await req({ method: 'GET', url: `${API}/users/${user.id}`, headers: project.headers('server') }));
      assertKnownError(
        await req({ method: 'GET', url: `${API}/users/6b0c7a52-4a55-4d3e-9a4f-2f1d0a9c1e11`, headers: project.headers('server') }),
        404,
        'USER_NOT_FOUND',
      );
    });

    test('users: validation errors are SCHEMA_ERROR', async () => {
      const project = await t().createProject();
      const headers = project.headers('server');
      const post = (payload: unknown) => req({ method: 'POST', url: `${API}/users`, headers, payload: payload as object });
      assertKnownError(await post({ primary_email: 'not-an-email' }), 400, 'SCHEMA_ERROR');
      const unknown = assertKnownError(await post({ display_name: 'x', favourite_colour: 'red' }), 400, 'SCHEMA_ERROR');
      assert.match(String(unknown.error), /favourite_colour/);
      assertKnownError(await post({ display_name: 5 }), 400, 'SCHEMA_ERROR');
      assertKnownError(await post({ profile_image_url: 'not a url' }), 400, 'SCHEMA_ERROR');
      assertKnownError(await post({ client_metadata: ['not', 'an', 'object'] }), 400, 'SCHEMA_ERROR');
      assertKnownError(await post({ server_metadata: 'text' }), 400, 'SCHEMA_ERROR');
      assertKnownError(await post({ signed_up_at_millis: -1 }), 400, 'SCHEMA_ERROR');

      // Metadata is capped by its serialised size (in bytes).
      const fits = { s: 'x'.repeat(MAX_METADATA_BYTES - 100) };
      const user = assertOk(await post({ server_metadata: fits }), 201);
      assert.deepEqual(user.server_metadata, fits);
      for (const field of ['client_metadata', 'client_read_only_metadata', 'server_metadata']) {
        assertKnownError(await post({ [field]: { s: 'x'.repeat(MAX_METADATA_BYTES) } }), 400, 'SCHEMA_ERROR');
        assertKnownError(
          await req({ method: 'PATCH', url: `${API}/users/${user.id}`, headers, payload: { [field]: { s: 'x'.repeat(MAX_METADATA_BYTES) } } }),
          400,
          'SCHEMA_ERROR',
        );
      }
      // Fewer characters than the cap, but more bytes once encoded as UTF-8.
      assertKnownError(await post({ client_metadata: { s: 'é'.repeat(Math.ceil(MAX_METADATA_BYTES * 0.6)) } }), 400, 'SCHEMA_ERROR');

      for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
        const body = assertKnownError(
          await req({ method, url: `${API}/users/not-a-uuid`, headers, ...(method === 'PATCH' ? { payload: {} } : {}) }),
          400,
          'SCHEMA_ERROR',
        );
        assert.match(String(body.error), /user_id/);
      }
      assertKnownError(
        await req({ method: 'PATCH', url: `${API}/users/${user.id}`, headers, payload: { primary_email: 'nope' } }),
        400,
        'SCHEMA_ERROR',
      );
      assertKnownError(
        await req({ method: 'PATCH', url: `${API}/users/${user.id}`, headers, payload: { id: user.id } }),
        400,
        'SCHEMA_ERROR',
      );
      // Nothing was changed by the refused patches.
      assert.deepEqual(assertOk(await req({ method: 'GET', url: `${API}/users/${user.id}`, headers })), user);
    });

    test('users: list newest first with a cursor; ties never skip or repeat', async () => {
      const project = await t().createProject();
      const headers = project.headers('server');
      const base = 1_750_000_000_000;
      const times = [base, base, base, base - 1000, base + 1000, base];
      const created: { id: string; signed_up_at_millis: number }[] = [];
      for (const millis of times) {
        created.push(assertOk(await req({ method: 'POST', url: `${API}/users`, headers, payload: { signed_up_at_millis: millis } }), 201));
      }
      const expected = [...created]
        .sort((a, b) => b.signed_up_at_millis - a.signed_up_at_millis || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .map((u) => u.id);

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: Record<string, string> = { limit: '2', ...(cursor ? { cursor } : {}) };
        const page = assertOk(await req({ method: 'GET', url: `${API}/users`, headers, query }));
        assert.ok(page.items.length <= 2);
        seen.push(...page.items.map((u: { id: string }) => u.id));
        cursor = page.pagination.next_cursor;
        if (cursor) assert.equal(cursor, page.items.at(-1).id);
        pages += 1;
      } while (cursor && pages < 10);
      assert.equal(pages, 3);
      assert.deepEqual(seen, expected);

      const all = assertOk(await req({ method: 'GET', url: `${API}/users`, headers }));
      assert.deepEqual(all.items.map((u: { id: string }) => u.id), expected);
      assert.equal(all.pagination.next_cursor, null);

      const missing = '6b0c7a52-4a55-4d3e-9a4f-2f1d0a9c1e11';
      const notFound = assertKnownError(
        await req({ method: 'GET', url: `${API}/users`, headers, query: { cursor: missing } }),
        404,
        'ITEM_NOT_FOUND',
      );
      assert.deepEqual(notFound.details, { item_id: missing });
      // A user of another project is no cursor here.
      const other = await t().createProject();
      assertKnownError(
        await req({ method: 'GET', url: `${API}/users`, headers: other.headers('server'), query: { cursor: expected[0] as string } }),
        404,
        'ITEM_NOT_FOUND',
      );
      assertKnownError(await req({ method: 'GET', url: `${API}/users`, headers, query: { cursor: 'abc' } }), 400, 'SCHEMA_ERROR');
      assertKnownError(await req({ method: 'GET', url: `${API}/users`, headers, query: { limit: '0' } }), 400, 'SCHEMA_ERROR');
      assertKnownError(await req({ method: 'GET', url: `${API}/users`, headers, query: { limit: '201' } }), 400, 'SCHEMA_ERROR');
      assertKnownError(await req({ method: 'GET', url: `${API}/users`, headers, query: { sort: 'asc' } }), 400, 'SCHEMA_ERROR');
    });

    // ---- 4. Sessions and access tokens -----------------------------------------------------

    test('sessions: refresh token is opaque and hashed; access token is an ES256 JWT verified by the JWKS', async () => {
      const project = await t().createProject();
      const user = assertOk(await req({ method: 'POST', url: `${API}/users`, headers: project.headers('server'), payload: {} }), 201);
      const before = Math.floor((Date.now() + clockOffset) / 1000);
      const session = assertOk(await createSession(project, user.id));
      assert.deepEqual(Object.keys(session).sort(), ['access_token', 'refresh_token']);
      assert.ok(!session.refresh_token.includes('.'), 'refresh token must be opaque, not a JWT');
      assert.ok(session.refresh_token.length >= 40);

      const header = decodeProtectedHeader(session.access_token);
      assert.equal(header.alg, 'ES256');
      const claims = decodeJwt(session.access_token);
      assert.equal(claims.sub, user.id);
      assert.equal(claims.project_id, project.projectId);
      assert.equal(claims.branch_id, 'main');
      assert.equal(claims.is_anonymous, false);
      assert.match(String(claims.refresh_token_id), UUID);
      assert.ok(typeof claims.iat === 'number' && typeof claims.exp === 'number');
      assert.equal(claims.exp - claims.iat, 600);
      assert.ok(claims.iat >= before - 1 && claims.iat <= before + 5);

      const jwksRes = await req({ method: 'GET', url: `${API}/projects/${project.projectId}/.well-known/jwks.json` });
      const jwks = assertOk(jwksRes) as JSONWebKeySet;
      assert.ok(jwks.keys.length >= 1);
      for (const key of jwks.keys) assert.equal((key as { d?: string }).d, undefined, 'JWKS must not publish the private key');
      const verified = await jwtVerify(session.access_token, createLocalJWKSet(jwks), { algorithms: ['ES256'] });
      assert.equal(verified.payload.sub, user.id);

      // Stored hashed, under the id the token names.
      const rows = await t().server.engines.postgres.execute<{ row: string; hash: string; user_id: string }>(
        `SELECT r::text AS row, encode(token_hash, 'hex') AS hash, user_id::text AS user_id FROM refresh_tokens r WHERE id = $1`,
        [claims.refresh_token_id],
      );
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.hash, sha256Hex(session.refresh_token));
      assert.equal(rows[0]?.user_id, user.id);
      assert.ok(!rows[0]?.row.includes(session.refresh_token.slice(4)));

      // A second session has its own id and token.
      const second = assertOk(await createSession(project, user.id));
      assert.notEqual(second.refresh_token, session.refresh_token);
      assert.notEqual(decodeJwt(second.access_token).refresh_token_id, claims.refresh_token_id);

      // Validation and access.
      assertKnownError(await createSession(project, '6b0c7a52-4a55-4d3e-9a4f-2f1d0a9c1e11'), 404, 'USER_NOT_FOUND');
      assertKnownError(await createSession(project, 'nope'), 400, 'SCHEMA_ERROR');
      assertKnownError(await createSession(project, user.id, project.headers('client')), 401, 'INSUFFICIENT_ACCESS_TYPE');
      assertOk(await createSession(project, user.id, project.headers('admin')));
      const other = await t().createProject();
      assertKnownError(await createSession(other, user.id), 404, 'USER_NOT_FOUND');
    });

    test('sessions: refresh mints a new access token for the same session', async () => {
      const project = await t().createProject();
      const { userId, accessToken, refreshToken } = await t().signIn(project);
      const refreshed = assertOk(await refresh(project, refreshToken));
      assert.deepEqual(Object.keys(refreshed), ['access_token']);
      const before = decodeJwt(accessToken);
      const after = decodeJwt(refreshed.access_token);
      assert.equal(after.sub, userId);
      assert.equal(after.refresh_token_id, before.refresh_token_id);
      assert.equal(after.project_id, project.projectId);
      assert.equal(after.is_anonymous, false);

      assertKnownError(await refresh(project, 'srt_not-a-real-token'), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
      assertKnownError(
        await req({ method: 'POST', url: `${API}/auth/sessions/current/refresh`, headers: project.headers('client') }),
        401,
        'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED',
      );
      // Another project's refresh token does not work here, nor this one there.
      const other = await t().createProject();
      assertKnownError(await refresh(other, refreshToken), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
      // Server and admin may refresh too.
      const serverRefresh = await req({
        method: 'POST',
        url: `${API}/auth/sessions/current/refresh`,
        headers: { ...project.headers('server'), [HEADERS.refreshToken]: refreshToken },
      });
      assertOk(serverRefresh);
      // An empty JSON body is accepted (clients post one).
      const withBody = await req({
        method: 'POST',
        url: `${API}/auth/sessions/current/refresh`,
        headers: { ...project.headers('client'), [HEADERS.refreshToken]: refreshToken, 'content-type': 'application/json' },
        payload: '',
      });
      assertOk(withBody);
    });

    test('sessions: DELETE current revokes the session (refresh fails, access token refused); other sessions live on', async () => {
      const project = await t().createProject();
      const { userId, accessToken, refreshToken } = await t().signIn(project);
      const second = assertOk(await createSession(project, userId));

      assertKnownError(
        await req({ method: 'DELETE', url: `${API}/auth/sessions/current`, headers: project.headers('client') }),
        401,
        'USER_AUTHENTICATION_REQUIRED',
      );
      // Use the token once so any session cache is warm.
      assertOk(await req({ method: 'GET', url: `${API}/users/${userId}`, headers: project.headers('server', { accessToken }) }));
      assert.deepEqual(assertOk(await revoke(project, accessToken)), { success: true });
      assertKnownError(await refresh(project, refreshToken), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
      assertKnownError(await revoke(project, accessToken), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
      assertKnownError(
        await req({ method: 'GET', url: `${API}/users/${userId}`, headers: project.headers('server', { accessToken }) }),
        401,
        'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED',
      );
      // An access token minted by refresh for the revoked session is refused too.
      const rows = await t().server.engines.postgres.execute<{ revoked: boolean }>(
        'SELECT revoked_at IS NOT NULL AS revoked FROM refresh_tokens WHERE id = $1',
        [decodeJwt(accessToken).refresh_token_id],
      );
      assert.deepEqual(rows.map((r) => r.revoked), [true]);

      // The user's other session is untouched.
      const refreshed = assertOk(await refresh(project, second.refresh_token));
      assertOk(await revoke(project, refreshed.access_token));
      assertKnownError(await revoke(project, second.access_token), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
    });

    test('sessions: deleting a user deletes their sessions', async () => {
      const project = await t().createProject();
      const { userId, accessToken, refreshToken } = await t().signIn(project);
      assertOk(await req({ method: 'GET', url: `${API}/users/${userId}`, headers: project.headers('server', { accessToken }) }));
      assertOk(await req({ method: 'DELETE', url: `${API}/users/${userId}`, headers: project.headers('server') }));
      assertKnownError(await refresh(project, refreshToken), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
      assertKnownError(await revoke(project, accessToken), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
      assertKnownError(
        await req({ method: 'GET', url: `${API}/users`, headers: project.headers('server', { accessToken }) }),
        401,
        'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED',
      );
      const rows = await t().server.engines.postgres.execute('SELECT id FROM refresh_tokens WHERE user_id = $1', [userId]);
      assert.equal(rows.length, 0);
    });

    test('anonymous sign-up creates an anonymous user with a session', async () => {
      const project = await t().createProject();
      const signUp = assertOk(await req({ method: 'POST', url: `${API}/auth/anonymous/sign-up`, headers: project.headers('client') }));
      assert.deepEqual(Object.keys(signUp).sort(), ['access_token', 'refresh_token', 'user_id']);
      assert.match(signUp.user_id, UUID);
      const claims = decodeJwt(signUp.access_token);
      assert.equal(claims.sub, signUp.user_id);
      assert.equal(claims.is_anonymous, true);
      assert.equal(claims.project_id, project.projectId);
      const user = assertOk(await req({ method: 'GET', url: `${API}/users/${signUp.user_id}`, headers: project.headers('server') }));
      assert.equal(user.is_anonymous, true);
      const refreshed = assertOk(await refresh(project, signUp.refresh_token));
      assert.equal(decodeJwt(refreshed.access_token).is_anonymous, true);
      assert.equal(decodeJwt(refreshed.access_token).refresh_token_id, claims.refresh_token_id);
      // Each sign-up is a new user.
      const again = assertOk(await req({ method: 'POST', url: `${API}/auth/anonymous/sign-up`, headers: project.headers('client') }));
      assert.notEqual(again.user_id, signUp.user_id);
      assertOk(await revoke(project, signUp.access_token));
    });

    test('access tokens expire after 10 minutes', async () => {
      const project = await t().createProject();
      try {
        const { accessToken, refreshToken } = await t().signIn(project);
        const { exp } = decodeJwt(accessToken);
        assert.ok(typeof exp === 'number');
        // Just before expiry: accepted (checked on an endpoint that does not revoke).
        clockOffset = exp * 1000 - 2000 - Date.now();
        assertOk(await req({ method: 'GET', url: `${API}/users`, headers: project.headers('server', { accessToken }) }));
        clockOffset = exp * 1000 + 1000 - Date.now();
        const expired = assertKnownError(await revoke(project, accessToken), 401, 'ACCESS_TOKEN_EXPIRED');
        assert.deepEqual(expired.details, { expired_at_millis: exp * 1000 });
        // The session itself lives on: refresh gives a token valid at the new time.
        const refreshed = assertOk(await refresh(project, refreshToken));
        assertOk(await revoke(project, refreshed.access_token));
      } finally {
        clockOffset = 0;
      }
    });

    test('sessions expire with their expires_in_millis', async () => {
      const project = await t().createProject();
      const user = assertOk(await req({ method: 'POST', url: `${API}/users`, headers: project.headers('server'), payload: {} }), 201);
      try {
        const session = assertOk(
          await req({
            method: 'POST',
            url: `${API}/auth/sessions`,
            headers: project.headers('server'),
            payload: { user_id: user.id, expires_in_millis: 60_000 },
          }),
        );
        clockOffset = 50_000;
        assertOk(await refresh(project, session.refresh_token));
        clockOffset = 61_000;
        assertKnownError(await refresh(project, session.refresh_token), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
        assertKnownError(
          await req({ method: 'POST', url: `${API}/auth/sessions`, headers: project.headers('server'), payload: { user_id: user.id, expires_in_millis: 1000 } }),
          400,
          'SCHEMA_ERROR',
        );
      } finally {
        clockOffset = 0;
      }
    });

    test('forged, tampered, unsigned and other-project access tokens are refused', async () => {
      const project = await t().createProject();
      const other = await t().createProject();
      const { accessToken } = await t().signIn(project);
      const victim = await t().signIn(project);
      const claims = decodeJwt(accessToken);
      const header = decodeProtectedHeader(accessToken);
      const [h, , s] = accessToken.split('.') as [string, string, string];

      const { privateKey } = await generateKeyPair('ES256');
      const forged = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', kid: header.kid ?? 'x', typ: 'JWT' }).sign(privateKey);
      const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
      const tampered = `${h}.${b64url({ ...claims, sub: victim.userId })}.${s}`;
      const tamperedAnon = `${h}.${b64url({ ...claims, is_anonymous: true })}.${s}`;
      const longer = `${h}.${b64url({ ...claims, exp: (claims.exp ?? 0) + 3600 })}.${s}`;
      const hs256 = await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .sign(new TextEncoder().encode(JSON.stringify(header)));

      // The JWKS does not verify them either.
      const jwks = createLocalJWKSet(assertOk(await req({ method: 'GET', url: `${API}/projects/${project.projectId}/.well-known/jwks.json` })));
      for (const token of [forged, tampered, longer]) await assert.rejects(jwtVerify(token, jwks, { algorithms: ['ES256'] }));

      for (const token of [forged, unsigned, tampered, tamperedAnon, longer, hs256, 'garbage', 'a.b.c']) {
        const res = await revoke(project, token);
        assertKnownError(res, 401, 'UNPARSABLE_ACCESS_TOKEN');
      }
      // The real sessions were not revoked by any of that.
      assertOk(await req({ method: 'GET', url: `${API}/users`, headers: project.headers('server', { accessToken: victim.accessToken }) }));

      // Project A's token sent with project B's credentials.
      const wrongProject = assertKnownError(await revoke(other, accessToken), 401, 'INVALID_PROJECT_FOR_ACCESS_TOKEN');
      assert.deepEqual(wrongProject.details, { expected_project_id: other.projectId, actual_project_id: project.projectId });
      // …also when the claim is rewritten to project B (the signature breaks).
      const moved = `${h}.${b64url({ ...claims, project_id: other.projectId })}.${s}`;
      assertKnownError(await revoke(other, moved), 401, 'UNPARSABLE_ACCESS_TOKEN');

      assertOk(await revoke(project, accessToken));
      assertOk(await revoke(project, victim.accessToken));
    });

    // ---- 5. $token-refresh events ------------------------------------------------------------

    test('every access-token mint writes one $token-refresh event, analytics enabled or not', async () => {
      for (const analytics of [false, true]) {
        const project = await t().createProject({ analytics });
        const { userId, accessToken, refreshToken } = await t().signIn(project);
        const sessionId = String(decodeJwt(accessToken).refresh_token_id);
        let events = await tokenRefreshEvents(t(), project.projectId);
        assert.equal(events.length, 1, JSON.stringify(events));
        const expected = {
          event_type: '$token-refresh',
          user_id: userId,
          team_id: null,
          refresh_token_id: sessionId,
          // ip_info is null for loopback; ClickHouse's JSON type drops null members.
          data: { refresh_token_id: sessionId, is_anonymous: false },
        };
        assert.deepEqual(events[0], expected);

        assertOk(await refresh(project, refreshToken));
        events = await tokenRefreshEvents(t(), project.projectId);
        assert.equal(events.length, 2);
        assert.deepEqual(events[1], expected);

        const anon = assertOk(await req({ method: 'POST', url: `${API}/auth/anonymous/sign-up`, headers: project.headers('client') }));
        const anonSession = String(decodeJwt(anon.access_token).refresh_token_id);
        events = await tokenRefreshEvents(t(), project.projectId);
        assert.equal(events.length, 3);
        assert.deepEqual(
          events.find((e) => e.user_id === anon.user_id),
          {
            event_type: '$token-refresh',
            user_id: anon.user_id,
            team_id: null,
            refresh_token_id: anonSession,
            data: { refresh_token_id: anonSession, is_anonymous: true },
          },
        );
        // Failed mints and non-mint calls write nothing.
        assertKnownError(await refresh(project, 'srt_wrong'), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
        assertOk(await revoke(project, accessToken));
        assertKnownError(await refresh(project, refreshToken), 401, 'REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED');
        assert.equal((await tokenRefreshEvents(t(), project.projectId)).length, 3);
      }
    });

    test('$token-refresh ip_info: null for private addresses, located for public ones, x-forwarded-for ignored', async () => {
      const project = await t().createProject({ analytics: false });
      const user = assertOk(await req({ method: 'POST', url: `${API}/users`, headers: project.headers('server'), payload: {} }), 201);
      const mint = async (remoteAddress: string, extra: Record<string, string> = {}) => {
        const res = await req({
          method: 'POST',
          url: `${API}/auth/sessions`,
          headers: { ...project.headers('server'), ...extra },
          payload: { user_id: user.id },
          remoteAddress,
        });
        const id = String(decodeJwt(assertOk(res).access_token).refresh_token_id);
        const event = (await tokenRefreshEvents(t(), project.projectId)).find((e) => e.refresh_token_id === id);
        assert.ok(event, `no event for ${remoteAddress}`);
        assert.equal(event.data.refresh_token_id, id);
        assert.equal(event.data.is_anonymous, false);
        return event.data.ip_info;
      };
      for (const address of ['127.0.0.1', '10.1.2.3', '192.168.0.10', '172.20.0.1', '::1', '::ffff:127.0.0.1']) {
        assert.equal(await mint(address), undefined, address);
      }
      assert.deepEqual(await mint('8.8.8.8'), { ip: '8.8.8.8', is_trusted: true, country_code: 'US' });
      assert.deepEqual(await mint('::ffff:8.8.8.8'), { ip: '8.8.8.8', is_trusted: true, country_code: 'US' });
      // Without a trusted proxy, a client cannot claim another address.
      assert.equal(await mint('127.0.0.1', { 'x-forwarded-for': '8.8.8.8' }), undefined);
      assert.deepEqual(await mint('8.8.8.8', { 'x-forwarded-for': '1.2.3.4' }), { ip: '8.8.8.8', is_trusted: true, country_code: 'US' });
      assert.equal((await tokenRefreshEvents(t(), project.projectId)).length, 10);
    });

    test('the OpenAPI document lists the auth paths', async () => {
      const document = assertOk(await req({ method: 'GET', url: `${API}/openapi.json` }));
      const expected: Record<string, string[]> = {
        '/api/v1/internal/projects': ['post'],
        '/api/v1/internal/projects/current': ['get', 'patch'],
        '/api/v1/internal/projects/current/keys/rotate': ['post'],
        '/api/v1/projects/{project_id}/.well-known/jwks.json': ['get'],
        '/api/v1/users': ['get', 'post'],
        '/api/v1/users/{user_id}': ['delete', 'get', 'patch'],
        '/api/v1/auth/sessions': ['post'],
        '/api/v1/auth/sessions/current/refresh': ['post'],
        '/api/v1/auth/sessions/current': ['delete'],
        '/api/v1/auth/anonymous/sign-up': ['post'],
      };
      for (const [path, methods] of Object.entries(expected)) {
        assert.ok(document.paths[path], `missing ${path}`);
        assert.deepEqual(Object.keys(document.paths[path]).sort(), methods, path);
      }
      const createUser = document.paths['/api/v1/users'].post;
      assert.ok(createUser.responses['201']);
      assert.ok(createUser.requestBody.content['application/json'].schema.properties.primary_email);
      const accessHeader = createUser.parameters.find((p: { name: string }) => p.name === HEADERS.accessType);
      assert.deepEqual(accessHeader.schema.enum, ['server', 'admin']);
      assert.deepEqual(document.paths['/api/v1/internal/projects'].post.security, [{ operatorBearer: [] }]);
    });
  });

  describeWithServer('auth behind a trusted proxy', kind, { env: { SIGHTLINE_TRUST_PROXY: 'true' } }, (t) => {
    test('$token-refresh ip_info uses the x-forwarded-for address', async () => {
      const project = await t().createProject({ analytics: false });
      const { userId } = await t().signIn(project);
      const mint = async (headers: Record<string, string>) => {
        const res = await t().request({
          method: 'POST',
          url: `${API}/auth/sessions`,
          headers: { ...project.headers('server'), ...headers },
          payload: { user_id: userId },
          remoteAddress: '127.0.0.1',
        });
        const id = String(decodeJwt(assertOk(res).access_token).refresh_token_id);
        const event = (await tokenRefreshEvents(t(), project.projectId)).find((e) => e.refresh_token_id === id);
        assert.ok(event);
        assert.deepEqual(Object.keys(event.data).sort(), event.data.ip_info ? ['ip_info', 'is_anonymous', 'refresh_token_id'] : ['is_anonymous', 'refresh_token_id']);
        return event.data.ip_info as Record<string, unknown> | undefined;
      };
      const forwarded = await mint({ 'x-forwarded-for': '8.8.8.8' });
      assert.ok(forwarded);
      assert.deepEqual(Object.keys(forwarded).sort(), ['country_code', 'ip', 'is_trusted']);
      assert.equal(forwarded.ip, '8.8.8.8');
      assert.equal(forwarded.country_code, 'US');
      assert.equal(forwarded.is_trusted, true);
      // Only the entry our proxy appended counts: what the client wrote before it is ignored.
      assert.equal((await mint({ 'x-forwarded-for': '8.8.4.4, 10.0.0.7' })), undefined);
      assert.equal((await mint({ 'x-forwarded-for': '10.0.0.7, 8.8.8.8' }))?.ip, '8.8.8.8');
      assert.equal(await mint({ 'x-forwarded-for': '10.0.0.7' }), undefined);
      assert.equal(await mint({}), undefined);
    });
  });
}
