/** Request headers, with Stack Auth's names. */
export const HEADERS = {
  projectId: 'x-stack-project-id',
  branchId: 'x-stack-branch-id',
  accessType: 'x-stack-access-type',
  publishableClientKey: 'x-stack-publishable-client-key',
  secretServerKey: 'x-stack-secret-server-key',
  superSecretAdminKey: 'x-stack-super-secret-admin-key',
  accessToken: 'x-stack-access-token',
  refreshToken: 'x-stack-refresh-token',
  knownError: 'x-stack-known-error',
  requestId: 'x-request-id',
} as const;

export const DEFAULT_BRANCH_ID = 'main';
export const API_PREFIX = '/api/v1';
