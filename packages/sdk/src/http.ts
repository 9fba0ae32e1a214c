import { API_PREFIX, CLIENT_HEADERS } from '@sightline/protocol/client-headers';
import { outcomeOf, retryAfterMs, type Attempt } from './retry.ts';

export type ClientIdentity = { baseUrl: string; projectId: string; publishableClientKey: string; branchId?: string };

export type ApiCall = {
  body?: unknown;
  accessToken?: string;
  headers?: Record<string, string>;
  keepalive?: boolean;
};

export type ApiResult = Attempt & { status: number; json?: any };

/**
 * Calls the Sightline API as a client (publishable key). Never throws: a network
 * error is status 0. Bodies are JSON; authentication is in headers, never cookies.
 *
 * @example
 * const api = apiClient({ baseUrl, projectId, publishableClientKey }, fetch);
 * const { json } = await api('/analytics/client-config');
 */
export function apiClient(identity: ClientIdentity, fetchFn: typeof fetch, now: () => number = Date.now) {
  const base = identity.baseUrl.replace(/\/+$/, '') + API_PREFIX;
  const fixed: Record<string, string> = {
    [CLIENT_HEADERS.projectId]: identity.projectId,
    [CLIENT_HEADERS.accessType]: 'client',
    [CLIENT_HEADERS.publishableClientKey]: identity.publishableClientKey,
  };
  if (identity.branchId) fixed[CLIENT_HEADERS.branchId] = identity.branchId;

  return async (path: string, call: ApiCall = {}): Promise<ApiResult> => {
    const headers: Record<string, string> = { ...fixed, ...call.headers };
    if (call.accessToken) headers[CLIENT_HEADERS.accessToken] = call.accessToken;
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetchFn(base + path, {
        // A body makes a POST (an empty object when the route takes none): the API needs no other verbs here.
        method: call.body === undefined ? 'GET' : 'POST',
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        keepalive: call.keepalive,
      });
    } catch {
      return { outcome: 'retry', status: 0 };
    }
    let json: any;
    try {
      json = await response.json();
    } catch {
      // An answer without a JSON body (a proxy's 502 page) tells nothing more than its status.
    }
    return {
      outcome: outcomeOf(response.status),
      status: response.status,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after'), now()),
      json,
    };
  };
}

export type Api = ReturnType<typeof apiClient>;
