/**
 * What a browser client needs of the wire: the request headers it sends, with
 * Stack Auth's names, and the API prefix. A module of its own so the SDK's bundle
 * carries nothing else (see `headers.ts` for the full set).
 */
export const CLIENT_HEADERS = {
  projectId: 'x-stack-project-id',
  branchId: 'x-stack-branch-id',
  accessType: 'x-stack-access-type',
  publishableClientKey: 'x-stack-publishable-client-key',
  accessToken: 'x-stack-access-token',
  refreshToken: 'x-stack-refresh-token',
} as const;

export const API_PREFIX = '/api/v1';
