/**
 * Known errors: a stable `code`, an HTTP `status`, a human message and optional
 * `details`. Codes, statuses and messages follow Stack Auth's known errors so
 * clients of either system read the same envelope:
 * `{code, error, details?}` plus the `x-stack-known-error: <code>` header.
 */
export type AccessType = 'client' | 'server' | 'admin';

export type KnownErrorJson = { code: string; error: string; details?: Record<string, unknown> };

export class KnownError extends Error {
  override name = 'KnownError';
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  /** The response body of this error. */
  toJSON(): KnownErrorJson {
    return { code: this.code, error: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

type Made = readonly [status: number, message: string, details?: Record<string, unknown>];

/**
 * Declares a known error class with a fixed code.
 *
 * @example
 * const UserNotFound = defineKnownError('USER_NOT_FOUND', () => [404, 'User not found.']);
 * throw new UserNotFound();
 */
function defineKnownError<Args extends unknown[]>(code: string, make: (...args: Args) => Made) {
  return class extends KnownError {
    static readonly code = code;
    constructor(...args: Args) {
      const [status, message, details] = make(...args);
      super(code, status, message, details);
    }
  };
}

const quoteList = (types: readonly string[]) => types.map((t) => `'${t}'`).join(' or ');

export const SchemaError = defineKnownError('SCHEMA_ERROR', (message: string) => [400, message, { message }]);
export const BodyParsingError = defineKnownError('BODY_PARSING_ERROR', (message: string) => [400, message]);
export const PayloadTooLarge = defineKnownError('PAYLOAD_TOO_LARGE', (maxBytes: number, message?: string) => [
  413,
  message ?? `Request body too large (max ${maxBytes} bytes)`,
  { max_bytes: maxBytes },
]);
export const UnsupportedMediaType = defineKnownError('UNSUPPORTED_MEDIA_TYPE', (contentType: string) => [
  415,
  `Unsupported content type ${JSON.stringify(contentType)}: send application/json.`,
  { content_type: contentType },
]);
export const RouteNotFound = defineKnownError('ROUTE_NOT_FOUND', (method: string, url: string) => [
  404,
  `No route for ${method} ${url}.`,
]);
export const RateLimited = defineKnownError('RATE_LIMITED', (retryAfterSeconds: number, message?: string) => [
  429,
  message ?? `Too many requests. Retry after ${retryAfterSeconds} seconds.`,
  { retry_after_seconds: retryAfterSeconds },
]);
export const ServiceUnavailable = defineKnownError('SERVICE_UNAVAILABLE', (retryAfterSeconds: number, reason: string) => [
  503,
  `${reason} Retry after ${retryAfterSeconds} seconds.`,
  { retry_after_seconds: retryAfterSeconds },
]);

// Project authentication. Stack Auth answers some of these with 400; the
// issue tracker asks for 401 on every missing or wrong credential (ADR 0004).
export const AccessTypeRequired = defineKnownError('ACCESS_TYPE_REQUIRED', () => [
  401,
  "You must specify an access level for this project. Make sure project API keys are provided (eg. x-stack-publishable-client-key) and you set the x-stack-access-type header to 'client', 'server', or 'admin'.",
]);
export const InvalidAccessType = defineKnownError('INVALID_ACCESS_TYPE', (accessType: string) => [
  401,
  `The x-stack-access-type header must be 'client', 'server', or 'admin', but was '${accessType}'.`,
  { access_type: accessType },
]);
export const AccessTypeWithoutProjectId = defineKnownError('ACCESS_TYPE_WITHOUT_PROJECT_ID', (accessType: AccessType) => [
  401,
  `The x-stack-access-type header was '${accessType}', but the x-stack-project-id header was not provided.`,
  { request_type: accessType },
]);
export const ProjectKeyWithoutAccessType = defineKnownError('PROJECT_KEY_WITHOUT_ACCESS_TYPE', () => [
  401,
  "A project key was provided, but the x-stack-access-type header is missing. Set it to 'client', 'server', or 'admin' as appropriate.",
]);
export const InsufficientAccessType = defineKnownError(
  'INSUFFICIENT_ACCESS_TYPE',
  (actual: AccessType, allowed: readonly AccessType[]) => [
    401,
    `The x-stack-access-type header must be ${quoteList(allowed)}, but was '${actual}'.`,
    { actual_access_type: actual, allowed_access_types: [...allowed] },
  ],
);
export const InvalidPublishableClientKey = defineKnownError('INVALID_PUBLISHABLE_CLIENT_KEY', (projectId: string) => [
  401,
  `The publishable key is not valid for the project ${JSON.stringify(projectId)}. Does the project and/or the key exist?`,
  { project_id: projectId },
]);
export const InvalidSecretServerKey = defineKnownError('INVALID_SECRET_SERVER_KEY', (projectId: string) => [
  401,
  `The secret server key is not valid for the project ${JSON.stringify(projectId)}. Does the project and/or the key exist?`,
  { project_id: projectId },
]);
export const InvalidSuperSecretAdminKey = defineKnownError('INVALID_SUPER_SECRET_ADMIN_KEY', (projectId: string) => [
  401,
  `The super secret admin key is not valid for the project ${JSON.stringify(projectId)}. Does the project and/or the key exist?`,
  { project_id: projectId },
]);
export const ClientAuthenticationRequired = defineKnownError('CLIENT_AUTHENTICATION_REQUIRED', () => [
  401,
  'The publishable client key must be provided.',
]);
export const ServerAuthenticationRequired = defineKnownError('SERVER_AUTHENTICATION_REQUIRED', () => [
  401,
  'The secret server key must be provided.',
]);
export const AdminAuthenticationRequired = defineKnownError('ADMIN_AUTHENTICATION_REQUIRED', () => [
  401,
  'The super secret admin key must be provided.',
]);
export const CurrentProjectNotFound = defineKnownError('CURRENT_PROJECT_NOT_FOUND', (projectId: string) => [
  401,
  `The current project with ID ${projectId} was not found. Please check the value of the x-stack-project-id header.`,
  { project_id: projectId },
]);
export const BranchDoesNotExist = defineKnownError('BRANCH_DOES_NOT_EXIST', (branchId: string) => [
  400,
  `The branch with ID ${branchId} does not exist.`,
  { branch_id: branchId },
]);
export const OperatorAuthenticationRequired = defineKnownError('OPERATOR_AUTHENTICATION_REQUIRED', () => [
  401,
  'This endpoint needs the instance operator secret: send "authorization: Bearer <SIGHTLINE_ADMIN_SECRET>".',
]);
export const InvalidOperatorSecret = defineKnownError('INVALID_OPERATOR_SECRET', () => [
  401,
  'The operator secret in the authorization header is not valid.',
]);

// Sessions and users.
export const UnparsableAccessToken = defineKnownError('UNPARSABLE_ACCESS_TOKEN', () => [
  401,
  'Access token is not parsable.',
]);
export const AccessTokenExpired = defineKnownError('ACCESS_TOKEN_EXPIRED', (expiredAt: Date | undefined) => [
  401,
  `Access token has expired. Please refresh it and try again.${expiredAt ? ` (The access token expired at ${expiredAt.toISOString()}.)` : ''}`,
  { expired_at_millis: expiredAt?.getTime() ?? null },
]);
export const InvalidProjectForAccessToken = defineKnownError(
  'INVALID_PROJECT_FOR_ACCESS_TOKEN',
  (expectedProjectId: string, actualProjectId: string) => [
    401,
    `Access token not valid for this project. Expected project ID ${JSON.stringify(expectedProjectId)}, but the token is for project ID ${JSON.stringify(actualProjectId)}.`,
    { expected_project_id: expectedProjectId, actual_project_id: actualProjectId },
  ],
);
export const RefreshTokenNotFoundOrExpired = defineKnownError('REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED', () => [
  401,
  'Refresh token not found for this project, or the session has expired/been revoked.',
]);
export const UserAuthenticationRequired = defineKnownError('USER_AUTHENTICATION_REQUIRED', () => [
  401,
  'User authentication required for this endpoint.',
]);
export const RefreshTokenIdRequired = defineKnownError('REFRESH_TOKEN_ID_REQUIRED', () => [
  400,
  'The access token carries no refresh token id; sign in again to get a session-bound token.',
]);
export const UserNotFound = defineKnownError('USER_NOT_FOUND', () => [404, 'User not found.']);
export const ItemNotFound = defineKnownError('ITEM_NOT_FOUND', (itemId: string) => [
  404,
  `Item with ID "${itemId}" not found.`,
  { item_id: itemId },
]);

// Analytics.
export const AnalyticsNotEnabled = defineKnownError('ANALYTICS_NOT_ENABLED', () => [
  400,
  'Analytics is not enabled for this project.',
]);
export const AnalyticsQueryError = defineKnownError('ANALYTICS_QUERY_ERROR', (error: string) => [400, error, { error }]);
export const AnalyticsQueryTimeout = defineKnownError('ANALYTICS_QUERY_TIMEOUT', (timeoutMs: number) => [
  400,
  `The query timed out. Please try again with a shorter query or increase the timeout. Timeout was ${timeoutMs}ms.`,
  { timeout_ms: timeoutMs },
]);
