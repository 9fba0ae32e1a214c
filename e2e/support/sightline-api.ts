import { API_PREFIX, HEADERS } from '@sightline/protocol';

export { eventually } from '../../apps/server/src/testing/eventually.ts';

export type E2eProject = { projectId: string; publishableClientKey: string; adminKey: string };

/**
 * Talks to a running Sightline over HTTP the way an operator and an admin would:
 * create projects, run tenant SQL, read the replay API.
 *
 * @example
 * const api = sightlineApi(server.url, ADMIN_SECRET);
 * const project = await api.createProject({ analytics: true });
 * const rows = await api.query(project, 'SELECT count() AS n FROM events');
 */
export function sightlineApi(baseUrl: string, operatorSecret: string) {
  const call = async (path: string, init: { method?: string; headers: Record<string, string>; body?: unknown }) => {
    const response = await fetch(`${baseUrl}${API_PREFIX}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const json = (await response.json()) as any;
    if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  const admin = (project: E2eProject) => ({
    [HEADERS.projectId]: project.projectId,
    [HEADERS.accessType]: 'admin',
    [HEADERS.superSecretAdminKey]: project.adminKey,
  });
  return {
    async createProject(options: { analytics: boolean }): Promise<E2eProject> {
      const created = await call('/internal/projects', {
        headers: { authorization: `Bearer ${operatorSecret}` },
        body: { display_name: 'e2e', analytics: { enabled: options.analytics } },
      });
      return {
        projectId: created.project_id,
        publishableClientKey: created.publishable_client_key,
        adminKey: created.super_secret_admin_key,
      };
    },
    /** A user with a session, as an app backend would create them: its id and access token. */
    async signIn(project: E2eProject): Promise<{ userId: string; accessToken: string }> {
      const user = await call('/users', { headers: admin(project), body: { display_name: 'Jane' } });
      const session = await call('/auth/sessions', { headers: admin(project), body: { user_id: user.id } });
      return { userId: user.id, accessToken: session.access_token };
    },
    async query(project: E2eProject, query: string): Promise<Record<string, any>[]> {
      return (await call('/internal/analytics/query', { headers: admin(project), body: { query } })).result;
    },
    async get(project: E2eProject, path: string): Promise<any> {
      return call(path, { headers: admin(project) });
    },
  };
}
