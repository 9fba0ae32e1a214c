import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { HEADERS, MAX_SAVED_QUERY_SQL_LENGTH, type SavedQuery, type SavedQueryFolder, type SavedQueryList } from '@sightline/protocol';
import { describeWithServer, type PostgresKind } from '../testing/test-server.ts';

const BASE = '/api/v1/internal/analytics/saved-queries';
type Headers = Record<string, string>;

function assertKnownError(res: LightMyRequestResponse, status: number, code: string): { error: string; details?: Record<string, unknown> } {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body}`);
  const body = res.json();
  assert.equal(body.code, code, res.body);
  assert.equal(res.headers[HEADERS.knownError], code);
  return body;
}

function assertOk(res: LightMyRequestResponse, status = 200): any {
  assert.equal(res.statusCode, status, res.body);
  return res.json();
}

/**
 * Issue 6 item 6: the dashboard's saved queries over HTTP, against a real
 * server on the given Postgres.
 */
export function runSavedQueriesSuite(kind: PostgresKind): void {
  describeWithServer('saved queries', kind, {}, (t) => {
    const req = (options: InjectOptions) => t().request(options);
    const api = (headers: Headers) => ({
      list: async (): Promise<SavedQueryList> => assertOk(await req({ method: 'GET', url: BASE, headers })),
      createFolder: async (payload: object): Promise<SavedQueryFolder> =>
        assertOk(await req({ method: 'POST', url: `${BASE}/folders`, headers, payload }), 201),
      createQuery: async (payload: object): Promise<SavedQuery> =>
        assertOk(await req({ method: 'POST', url: BASE, headers, payload }), 201),
      raw: (method: InjectOptions['method'], path: string, payload?: object) =>
        req({ method, url: `${BASE}${path}`, headers, ...(payload ? { payload } : {}) }),
    });
    const adminOfNewProject = async () => {
      const project = await t().createProject({ analytics: false });
      return { project, admin: api(project.headers('admin')) };
    };
    const assertNotFound = (res: LightMyRequestResponse, id: string) => {
      const body = assertKnownError(res, 404, 'ITEM_NOT_FOUND');
      assert.deepEqual(body.details, { item_id: id });
    };
    const assertSchemaError = (res: LightMyRequestResponse, line: string) => {
      const body = assertKnownError(res, 400, 'SCHEMA_ERROR');
      assert.ok(body.error.split('\n').includes(`  - ${line}`), `${body.error}\n  lacks: ${line}`);
    };

    test('folders: create, default order after the last, rename, reorder, delete', async () => {
      const { admin } = await adminOfNewProject();
      assert.deepEqual(await admin.list(), { folders: [] });

      const first = await admin.createFolder({ display_name: 'Retention' });
      assert.match(first.id, /^[0-9a-f-]{36}$/);
      assert.equal(first.display_name, 'Retention');
      assert.equal(first.sort_order, 0);
      assert.ok(Math.abs(first.created_at_millis - Date.now()) < 60_000);
      assert.deepEqual(Object.keys(first).sort(), ['created_at_millis', 'display_name', 'id', 'sort_order']);

      assert.equal((await admin.createFolder({ display_name: 'Explicit', sort_order: 10 })).sort_order, 10);
      assert.equal((await admin.createFolder({ display_name: 'Next' })).sort_order, 11);
      assert.equal((await admin.createFolder({ display_name: 'Negative', sort_order: -5 })).sort_order, -5);
      assert.equal((await admin.createFolder({ display_name: 'Still last' })).sort_order, 12);

      const renamed = assertOk(await admin.raw('PATCH', `/folders/${first.id}`, { display_name: 'Cohorts' }));
      assert.deepEqual(renamed, { ...first, display_name: 'Cohorts' });
      const moved = assertOk(await admin.raw('PATCH', `/folders/${first.id}`, { sort_order: 100 }));
      assert.deepEqual(moved, { ...first, display_name: 'Cohorts', sort_order: 100 });
      assert.deepEqual(assertOk(await admin.raw('PATCH', `/folders/${first.id}`, {})), moved);
      assert.deepEqual(
        (await admin.list()).folders.map((f) => [f.display_name, f.sort_order]),
        [['Negative', -5], ['Explicit', 10], ['Next', 11], ['Still last', 12], ['Cohorts', 100]],
      );

      assert.deepEqual(assertOk(await admin.raw('DELETE', `/folders/${first.id}`)), { success: true });
      assert.ok(!(await admin.list()).folders.some((f) => f.id === first.id));
      assertNotFound(await admin.raw('DELETE', `/folders/${first.id}`), first.id);
      assertNotFound(await admin.raw('PATCH', `/folders/${first.id}`, { display_name: 'x' }), first.id);
    });

    test('the default order stays within int4 after the largest sort_order', async () => {
      const { admin } = await adminOfNewProject();
      await admin.createFolder({ display_name: 'Top', sort_order: 2_147_483_647 });
      assert.equal((await admin.createFolder({ display_name: 'After' })).sort_order, 2_147_483_647);
    });

    test('queries: create, read, update, delete', async () => {
      const { admin } = await adminOfNewProject();
      const folder = await admin.createFolder({ display_name: 'Growth' });
      const created = await admin.createQuery({ folder_id: folder.id, display_name: 'DAU', sql: 'SELECT count() FROM events' });
      assert.match(created.id, /^[0-9a-f-]{36}$/);
      const { created_at_millis: _created, updated_at_millis: _updated, ...fields } = created;
      assert.deepEqual(fields, { id: created.id, folder_id: folder.id, display_name: 'DAU', sql: 'SELECT count() FROM events', description: null });
      assert.equal(created.updated_at_millis, created.created_at_millis);
      assert.deepEqual(assertOk(await admin.raw('GET', `/${created.id}`)), created);

      const described = await admin.createQuery({ folder_id: folder.id, display_name: 'WAU', sql: 'SELECT 1', description: 'weekly' });
      assert.equal(described.description, 'weekly');
      const nullDescription = { folder_id: folder.id, display_name: 'N', sql: 'SELECT 2', description: null };
      assert.equal((await admin.createQuery(nullDescription)).description, null);

      const updated: SavedQuery = assertOk(
        await admin.raw('PATCH', `/${created.id}`, { display_name: 'Daily actives', sql: 'SELECT 42', description: 'per day' }),
      );
      assert.equal(updated.display_name, 'Daily actives');
      assert.equal(updated.sql, 'SELECT 42');
      assert.equal(updated.description, 'per day');
      assert.equal(updated.created_at_millis, created.created_at_millis);
      assert.ok(updated.updated_at_millis >= created.updated_at_millis);
      assert.deepEqual(assertOk(await admin.raw('GET', `/${created.id}`)), updated);
      const cleared: SavedQuery = assertOk(await admin.raw('PATCH', `/${created.id}`, { description: null }));
      assert.deepEqual({ ...cleared, updated_at_millis: 0 }, { ...updated, description: null, updated_at_millis: 0 });
      const untouched: SavedQuery = assertOk(await admin.raw('PATCH', `/${created.id}`, {}));
      assert.equal(untouched.sql, 'SELECT 42');

      assert.deepEqual(assertOk(await admin.raw('DELETE', `/${created.id}`)), { success: true });
      assertNotFound(await admin.raw('GET', `/${created.id}`), created.id);
      assertNotFound(await admin.raw('PATCH', `/${created.id}`, { sql: 'SELECT 1' }), created.id);
      assertNotFound(await admin.raw('DELETE', `/${created.id}`), created.id);
      const remaining = (await admin.list()).folders[0]?.queries.map((q) => q.display_name);
      assert.deepEqual(remaining, ['N', 'WAU']);
    });

    test('unknown ids answer ITEM_NOT_FOUND', async () => {
      const { admin } = await adminOfNewProject();
      const missing = randomUUID();
      assertNotFound(await admin.raw('PATCH', `/folders/${missing}`, { display_name: 'x' }), missing);
      assertNotFound(await admin.raw('DELETE', `/folders/${missing}`), missing);
      assertNotFound(await admin.raw('POST', '', { folder_id: missing, display_name: 'q', sql: 'SELECT 1' }), missing);
      assertNotFound(await admin.raw('GET', `/${missing}`), missing);
      assertNotFound(await admin.raw('PATCH', `/${missing}`, { sql: 'SELECT 1' }), missing);
      assertNotFound(await admin.raw('DELETE', `/${missing}`), missing);
    });

    test('the list orders folders by sort_order, created_at, id and queries by display_name, id', async () => {
      const { admin } = await adminOfNewProject();
      const late = await admin.createFolder({ display_name: 'z late', sort_order: 2 });
      const tied = [];
      for (let i = 0; i < 4; i++) tied.push(await admin.createFolder({ display_name: `tied ${i}`, sort_order: 1 }));
      const early = await admin.createFolder({ display_name: 'a early', sort_order: 0 });
      const byCreation = [...tied].sort((a, b) => a.created_at_millis - b.created_at_millis || (a.id < b.id ? -1 : 1));
      const { folders } = await admin.list();
      assert.deepEqual(
        folders.map((f) => f.id),
        [early.id, ...byCreation.map((f) => f.id), late.id],
      );

      const names = ['beta', 'Zeta', 'alpha', 'beta', 'Alpha', 'éclair', 'beta'];
      const made = [];
      for (const name of names) made.push(await admin.createQuery({ folder_id: late.id, display_name: name, sql: `SELECT '${name}'` }));
      const expected = [...made].sort((a, b) => (a.display_name < b.display_name ? -1 : a.display_name > b.display_name ? 1 : a.id < b.id ? -1 : 1));
      const listed = (await admin.list()).folders.find((f) => f.id === late.id);
      assert.deepEqual(listed?.queries.map((q) => q.id), expected.map((q) => q.id));
      assert.deepEqual(listed?.queries.map((q) => q.display_name), ['Alpha', 'Zeta', 'alpha', 'beta', 'beta', 'beta', 'éclair']);
      assert.deepEqual(listed?.queries[0], expected[0]);
      for (const folder of (await admin.list()).folders) if (folder.id !== late.id) assert.deepEqual(folder.queries, []);
    });

    test('deleting a folder deletes its queries, and only those', async () => {
      const { project, admin } = await adminOfNewProject();
      const doomed = await admin.createFolder({ display_name: 'Doomed' });
      const kept = await admin.createFolder({ display_name: 'Kept' });
      const gone = [
        await admin.createQuery({ folder_id: doomed.id, display_name: 'one', sql: 'SELECT 1' }),
        await admin.createQuery({ folder_id: doomed.id, display_name: 'two', sql: 'SELECT 2' }),
      ];
      const stays = await admin.createQuery({ folder_id: kept.id, display_name: 'three', sql: 'SELECT 3' });
      assert.deepEqual(assertOk(await admin.raw('DELETE', `/folders/${doomed.id}`)), { success: true });
      for (const query of gone) assertNotFound(await admin.raw('GET', `/${query.id}`), query.id);
      assert.deepEqual((await admin.list()).folders, [{ ...kept, queries: [stays] }]);
      const [rows] = await t().server.engines.postgres.execute<{ n: number }>(
        'SELECT count(*)::int AS n FROM saved_queries WHERE project_id = $1',
        [project.projectId],
      );
      assert.equal(rows?.n, 1);
    });

    test('a query moves to another folder of the tenancy', async () => {
      const { admin } = await adminOfNewProject();
      const from = await admin.createFolder({ display_name: 'From' });
      const to = await admin.createFolder({ display_name: 'To' });
      const query = await admin.createQuery({ folder_id: from.id, display_name: 'mover', sql: 'SELECT 1' });
      const moved: SavedQuery = assertOk(await admin.raw('PATCH', `/${query.id}`, { folder_id: to.id, display_name: 'moved' }));
      assert.equal(moved.folder_id, to.id);
      assert.equal(moved.display_name, 'moved');
      const { folders } = await admin.list();
      assert.deepEqual(folders.find((f) => f.id === from.id)?.queries, []);
      assert.deepEqual(folders.find((f) => f.id === to.id)?.queries, [moved]);

      const missing = randomUUID();
      assertNotFound(await admin.raw('PATCH', `/${query.id}`, { folder_id: missing, display_name: 'lost' }), missing);
      assert.deepEqual(assertOk(await admin.raw('GET', `/${query.id}`)), moved, 'a refused move changes nothing');
      // The moved query now goes with its new folder.
      assertOk(await admin.raw('DELETE', `/folders/${to.id}`));
      assertNotFound(await admin.raw('GET', `/${query.id}`), query.id);
    });

    test('validation failures answer SCHEMA_ERROR', async () => {
      const { admin } = await adminOfNewProject();
      const folder = await admin.createFolder({ display_name: 'F' });
      const query = await admin.createQuery({ folder_id: folder.id, display_name: 'q', sql: 'SELECT 1' });
      const newQuery = (extra: object) => ({ folder_id: folder.id, display_name: 'q', sql: 'SELECT 1', ...extra });

      assertSchemaError(await admin.raw('POST', '/folders', {}), 'body.display_name must be defined');
      assertSchemaError(await admin.raw('POST', '/folders', { display_name: '' }), 'body.display_name must be at least 1 characters');
      assertSchemaError(await admin.raw('POST', '/folders', { display_name: 'x'.repeat(257) }), 'body.display_name must be at most 256 characters');
      assertSchemaError(await admin.raw('POST', '/folders', { display_name: 'a\u0000b' }), 'body.display_name must not contain NUL characters');
      assertSchemaError(await admin.raw('POST', '/folders', { display_name: 'x', sort_order: 1.5 }), 'body.sort_order must be an integer');
      assertSchemaError(
        await admin.raw('POST', '/folders', { display_name: 'x', sort_order: 2 ** 31 }),
        'body.sort_order must be less than or equal to 2147483647',
      );
      assertSchemaError(await admin.raw('POST', '/folders', { display_name: 'x', queries: [] }), 'body field has unspecified keys: queries');
      assertSchemaError(await admin.raw('PATCH', '/folders/not-a-uuid', { display_name: 'x' }), 'Invalid folder_id');
      assertSchemaError(await admin.raw('DELETE', '/folders/not-a-uuid'), 'Invalid folder_id');
      assertSchemaError(
        await admin.raw('PATCH', `/folders/${folder.id}`, { display_name: null }),
        'body.display_name must be a `string` type, but the final value was: `null`.',
      );
      assertSchemaError(await admin.raw('PATCH', `/folders/${folder.id}`, { id: randomUUID() }), 'body field has unspecified keys: id');

      assertSchemaError(await admin.raw('POST', '', newQuery({ folder_id: 'nope' })), 'Invalid folder_id');
      assertSchemaError(await admin.raw('POST', '', { display_name: 'q', sql: 'SELECT 1' }), 'body.folder_id must be defined');
      assertSchemaError(await admin.raw('POST', '', newQuery({ sql: '' })), 'body.sql must be at least 1 characters');
      assertSchemaError(
        await admin.raw('POST', '', newQuery({ sql: 'x'.repeat(MAX_SAVED_QUERY_SQL_LENGTH + 1) })),
        'body.sql must be at most 100000 characters',
      );
      assertSchemaError(await admin.raw('POST', '', newQuery({ display_name: '' })), 'body.display_name must be at least 1 characters');
      assertSchemaError(await admin.raw('POST', '', newQuery({ description: 'd'.repeat(4097) })), 'body.description must be at most 4096 characters');
      assertSchemaError(await admin.raw('POST', '', newQuery({ sql: 'SELECT 1\u0000' })), 'body.sql must not contain NUL characters');
      assertSchemaError(await admin.raw('POST', '', newQuery({ project_id: randomUUID() })), 'body field has unspecified keys: project_id');
      assertSchemaError(await admin.raw('GET', '/not-a-uuid'), 'Invalid query_id');
      assertSchemaError(await admin.raw('PATCH', '/not-a-uuid', { sql: 'SELECT 1' }), 'Invalid query_id');
      assertSchemaError(await admin.raw('DELETE', '/not-a-uuid'), 'Invalid query_id');
      assertSchemaError(await admin.raw('PATCH', `/${query.id}`, { folder_id: 'nope' }), 'Invalid folder_id');
      assertSchemaError(
        await admin.raw('PATCH', `/${query.id}`, { folder_id: null }),
        'body.folder_id must be a `string` type, but the final value was: `null`.',
      );
      assertSchemaError(await admin.raw('PATCH', `/${query.id}`, { sql: '' }), 'body.sql must be at least 1 characters');

      // The limits themselves are accepted, and nothing refused was stored.
      const longest = await admin.createQuery(
        newQuery({ display_name: 'n'.repeat(256), sql: 's'.repeat(MAX_SAVED_QUERY_SQL_LENGTH), description: 'd'.repeat(4096) }),
      );
      assert.equal(longest.sql.length, MAX_SAVED_QUERY_SQL_LENGTH);
      assert.deepEqual(assertOk(await admin.raw('GET', `/${longest.id}`)), longest);
      const { folders } = await admin.list();
      assert.equal(folders.length, 1);
      assert.deepEqual(folders[0]?.queries.map((q) => q.id).sort(), [query.id, longest.id].sort());
    });

    test('another project sees none of the folders and gets ITEM_NOT_FOUND for every id', async () => {
      const a = await adminOfNewProject();
      const b = await adminOfNewProject();
      await assertIsolated(a.admin, b.admin);
    });

    test('another branch of the same project is another tenancy', async () => {
      const { project, admin: main } = await adminOfNewProject();
      const dev = api(project.headers('admin', { branchId: 'dev' }));
      await assertIsolated(main, dev);
      // Naming the default branch explicitly is the same tenancy.
      const explicitMain = api(project.headers('admin', { branchId: 'main' }));
      assert.deepEqual(await explicitMain.list(), await main.list());
    });

    /** `other` cannot see, change, delete or use anything of `owner`'s, and the attempts change nothing. */
    async function assertIsolated(owner: ReturnType<typeof api>, other: ReturnType<typeof api>) {
      const folder = await owner.createFolder({ display_name: 'Private', sort_order: 3 });
      const query = await owner.createQuery({ folder_id: folder.id, display_name: 'secret', sql: 'SELECT 1', description: 'd' });
      const before = await owner.list();

      assert.deepEqual(await other.list(), { folders: [] });
      assertNotFound(await other.raw('PATCH', `/folders/${folder.id}`, { display_name: 'pwned' }), folder.id);
      assertNotFound(await other.raw('PATCH', `/folders/${folder.id}`, {}), folder.id);
      assertNotFound(await other.raw('DELETE', `/folders/${folder.id}`), folder.id);
      assertNotFound(await other.raw('POST', '', { folder_id: folder.id, display_name: 'intruder', sql: 'SELECT 2' }), folder.id);
      assertNotFound(await other.raw('GET', `/${query.id}`), query.id);
      assertNotFound(await other.raw('PATCH', `/${query.id}`, { sql: 'SELECT 2' }), query.id);
      assertNotFound(await other.raw('DELETE', `/${query.id}`), query.id);

      // Its own query cannot be moved into the owner's folder, nor the owner's into its folder.
      const ownFolder = await other.createFolder({ display_name: 'Mine' });
      assert.equal(ownFolder.sort_order, 0, "the default order counts only the tenancy's own folders");
      const own = await other.createQuery({ folder_id: ownFolder.id, display_name: 'mine', sql: 'SELECT 3' });
      assertNotFound(await other.raw('PATCH', `/${own.id}`, { folder_id: folder.id }), folder.id);
      assertNotFound(await owner.raw('PATCH', `/${query.id}`, { folder_id: ownFolder.id }), ownFolder.id);
      assertNotFound(await owner.raw('GET', `/${own.id}`), own.id);

      assert.deepEqual(await owner.list(), before);
      assert.deepEqual(await other.list(), { folders: [{ ...ownFolder, queries: [own] }] });
    }

    test('client and server keys answer INSUFFICIENT_ACCESS_TYPE on every route', async () => {
      const { project, admin } = await adminOfNewProject();
      const folder = await admin.createFolder({ display_name: 'F' });
      const query = await admin.createQuery({ folder_id: folder.id, display_name: 'q', sql: 'SELECT 1' });
      const routes: InjectOptions[] = [
        { method: 'GET', url: BASE },
        { method: 'POST', url: `${BASE}/folders`, payload: { display_name: 'x' } },
        { method: 'PATCH', url: `${BASE}/folders/${folder.id}`, payload: { display_name: 'x' } },
        { method: 'DELETE', url: `${BASE}/folders/${folder.id}` },
        { method: 'POST', url: BASE, payload: { folder_id: folder.id, display_name: 'x', sql: 'SELECT 1' } },
        { method: 'GET', url: `${BASE}/${query.id}` },
        { method: 'PATCH', url: `${BASE}/${query.id}`, payload: { sql: 'SELECT 2' } },
        { method: 'DELETE', url: `${BASE}/${query.id}` },
      ];
      for (const accessType of ['client', 'server'] as const) {
        for (const route of routes) {
          const body = assertKnownError(await req({ ...route, headers: project.headers(accessType) }), 401, 'INSUFFICIENT_ACCESS_TYPE');
          assert.deepEqual(body.details, { actual_access_type: accessType, allowed_access_types: ['admin'] });
        }
      }
      for (const route of routes) {
        assertKnownError(await req(route), 401, 'ACCESS_TYPE_REQUIRED');
      }
      assert.deepEqual(await admin.list(), { folders: [{ ...folder, queries: [query] }] }, 'refused calls changed nothing');
    });
  });
}
