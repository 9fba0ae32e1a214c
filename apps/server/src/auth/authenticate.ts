import {
  AccessTypeRequired,
  AccessTypeWithoutProjectId,
  AdminAuthenticationRequired,
  BranchDoesNotExist,
  ClientAuthenticationRequired,
  CurrentProjectNotFound,
  DEFAULT_BRANCH_ID,
  HEADERS,
  InsufficientAccessType,
  InvalidAccessType,
  InvalidPublishableClientKey,
  InvalidSecretServerKey,
  InvalidSuperSecretAdminKey,
  ProjectKeyWithoutAccessType,
  RefreshTokenNotFoundOrExpired,
  ServerAuthenticationRequired,
  type AccessType,
} from '@sightline/protocol';
import type { Authenticate, ProjectAuth } from '../http/route.ts';
import type { ProjectKeyKind } from '../storage/postgres/schema.ts';
import { matchesAnyHash } from './secrets.ts';
import type { TokenIssuer } from './tokens.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Branch ids are identifiers; every branch of a project exists implicitly (ADR 0004). */
export const BRANCH_ID = /^[A-Za-z0-9_-]{1,64}$/;

const KEY_FOR: Record<AccessType, { header: string; kind: ProjectKeyKind }> = {
  client: { header: HEADERS.publishableClientKey, kind: 'publishable_client' },
  server: { header: HEADERS.secretServerKey, kind: 'secret_server' },
  admin: { header: HEADERS.superSecretAdminKey, kind: 'super_secret_admin' },
};

/** What the authenticator needs to know about a project, cached briefly. */
export type ProjectCredentials = { keyHashes: Record<ProjectKeyKind, Buffer[]>; analyticsEnabled: boolean };

export type AuthenticatorDeps = {
  /** The project's active key hashes, or undefined when it does not exist. */
  loadProject(projectId: string): Promise<ProjectCredentials | undefined>;
  tokens: TokenIssuer;
  /** Whether a session (refresh token) is still active, i.e. not revoked and its user not deleted. */
  isSessionActive(tenancy: { projectId: string; branchId: string }, refreshTokenId: string): Promise<boolean>;
  /** How long project credentials and session states are cached (default 5 s). */
  cacheMs?: number;
  now?: () => number;
};

export type CachingAuthenticator = {
  authenticate: Authenticate;
  /** Drops cached state of a project, e.g. after key rotation. */
  forgetProject(projectId: string): void;
  /** Drops the cached state of a session, e.g. after revocation. */
  forgetSession(refreshTokenId: string): void;
};

/**
 * Establishes who a project caller is from Stack Auth's headers: project,
 * branch, access type and the key of that access type, plus the user when an
 * access token is present. Throws 401 known errors for anything missing or wrong.
 *
 * @example
 * const auth = createAuthenticator({ loadProject, tokens, isSessionActive });
 * buildApp({ authenticate: auth.authenticate, ... });
 */
export function createAuthenticator(deps: AuthenticatorDeps): CachingAuthenticator {
  const cacheMs = deps.cacheMs ?? 5000;
  const now = deps.now ?? Date.now;
  const projects = new Map<string, { at: number; value: Promise<ProjectCredentials | undefined> }>();
  const sessions = new Map<string, { at: number; value: Promise<boolean> }>();

  const cached = <T>(map: Map<string, { at: number; value: Promise<T> }>, key: string, load: () => Promise<T>) => {
    const hit = map.get(key);
    if (hit && now() - hit.at < cacheMs) return hit.value;
    const value = load();
    map.set(key, { at: now(), value });
    value.catch(() => map.delete(key));
    if (map.size > 10_000) map.delete(map.keys().next().value as string);
    return value;
  };

  const authenticate: Authenticate = async (request, allowed) => {
    const header = (name: string) => {
      const value = request.headers[name];
      return typeof value === 'string' && value.length > 0 ? value : undefined;
    };
    const accessTypeHeader = header(HEADERS.accessType);
    const projectId = header(HEADERS.projectId);
    if (!accessTypeHeader) {
      const anyKey = Object.values(KEY_FOR).some(({ header: h }) => header(h));
      throw anyKey ? new ProjectKeyWithoutAccessType() : new AccessTypeRequired();
    }
    if (accessTypeHeader !== 'client' && accessTypeHeader !== 'server' && accessTypeHeader !== 'admin') {
      throw new InvalidAccessType(accessTypeHeader.slice(0, 64));
    }
    const accessType: AccessType = accessTypeHeader;
    if (!projectId) throw new AccessTypeWithoutProjectId(accessType);
    const branchId = header(HEADERS.branchId) ?? DEFAULT_BRANCH_ID;
    if (!BRANCH_ID.test(branchId)) throw new BranchDoesNotExist(branchId.slice(0, 64));

    const project = UUID.test(projectId) ? await cached(projects, projectId, () => deps.loadProject(projectId)) : undefined;
    if (!project) throw new CurrentProjectNotFound(projectId.slice(0, 64));

    const { header: keyHeader, kind } = KEY_FOR[accessType];
    const presented = header(keyHeader);
    if (!presented) throw missingKey(accessType);
    if (!matchesAnyHash(presented, project.keyHashes[kind])) throw invalidKey(accessType, projectId);
    if (!allowed.includes(accessType)) throw new InsufficientAccessType(accessType, allowed);

    const auth: { -readonly [K in keyof ProjectAuth]: ProjectAuth[K] } = {
      projectId,
      branchId,
      accessType,
      analyticsEnabled: project.analyticsEnabled,
    };
    const accessToken = header(HEADERS.accessToken);
    if (accessToken) {
      const claims = await deps.tokens.verify(accessToken, projectId);
      if (claims.branchId !== branchId) throw new RefreshTokenNotFoundOrExpired();
      const active = await cached(sessions, claims.refreshTokenId, () =>
        deps.isSessionActive({ projectId, branchId }, claims.refreshTokenId),
      );
      if (!active) throw new RefreshTokenNotFoundOrExpired();
      auth.user = { id: claims.userId, refreshTokenId: claims.refreshTokenId, isAnonymous: claims.isAnonymous };
    }
    return auth;
  };

  return {
    authenticate,
    forgetProject: (projectId) => void projects.delete(projectId),
    forgetSession: (refreshTokenId) => void sessions.delete(refreshTokenId),
  };
}

function missingKey(accessType: AccessType) {
  if (accessType === 'client') return new ClientAuthenticationRequired();
  if (accessType === 'server') return new ServerAuthenticationRequired();
  return new AdminAuthenticationRequired();
}

function invalidKey(accessType: AccessType, projectId: string) {
  if (accessType === 'client') return new InvalidPublishableClientKey(projectId);
  if (accessType === 'server') return new InvalidSecretServerKey(projectId);
  return new InvalidSuperSecretAdminKey(projectId);
}
