import { CLIENT_HEADERS } from './client-headers.ts';

export { API_PREFIX, CLIENT_HEADERS } from './client-headers.ts';

/** Request and response headers, with Stack Auth's names. */
export const HEADERS = {
  ...CLIENT_HEADERS,
  secretServerKey: 'x-stack-secret-server-key',
  superSecretAdminKey: 'x-stack-super-secret-admin-key',
  knownError: 'x-stack-known-error',
  requestId: 'x-request-id',
} as const;

export const DEFAULT_BRANCH_ID = 'main';
