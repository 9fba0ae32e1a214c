import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  calculateJwkThumbprint,
  decodeJwt,
  errors as joseErrors,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWK,
  type CryptoKey,
} from 'jose';
import { AccessTokenExpired, InvalidProjectForAccessToken, UnparsableAccessToken } from '@sightline/protocol';

const ALGORITHM = 'ES256';
const KEY_FILE = 'jwt-signing-key.json';
export const ACCESS_TOKEN_TTL_SECONDS = 600;
/** Verified tokens remembered (oldest dropped first). */
const VERIFIED_CACHE_SIZE = 50_000;

export type AccessTokenClaims = Readonly<{
  userId: string;
  projectId: string;
  branchId: string;
  refreshTokenId: string;
  isAnonymous: boolean;
}>;

export type SigningKey = Readonly<{ kid: string; privateKey: CryptoKey; publicKey: CryptoKey; publicJwk: JWK }>;

/**
 * The access-token signing key pair: read from the data directory, or
 * generated there (mode 0600) on first start.
 *
 * @example
 * const key = await loadOrCreateSigningKey('./.sightline');
 */
export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const file = path.join(dataDir, KEY_FILE);
  let privateJwk: JWK;
  try {
    privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
    privateJwk = await exportJWK(privateKey);
    mkdirSync(dataDir, { recursive: true });
    try {
      writeFileSync(file, JSON.stringify(privateJwk), { mode: 0o600, flag: 'wx' });
    } catch (writeError) {
      // Another process generated it first: use theirs.
      if ((writeError as NodeJS.ErrnoException).code !== 'EEXIST') throw writeError;
      privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
    }
  }
  const { d: _private, ...publicJwk } = privateJwk;
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateKey = (await importJWK(privateJwk, ALGORITHM)) as CryptoKey;
  const publicKey = (await importJWK(publicJwk, ALGORITHM)) as CryptoKey;
  return Object.freeze({
    kid,
    privateKey,
    publicKey,
    publicJwk: Object.freeze({ ...publicJwk, kid, alg: ALGORITHM, use: 'sig' }),
  });
}

export type TokenIssuer = {
  issue(claims: AccessTokenClaims): Promise<string>;
  /** Verifies signature, algorithm, expiry and project; throws known errors. */
  verify(token: string, expectedProjectId: string): Promise<AccessTokenClaims>;
  /** The public keys, as served at `/projects/:id/.well-known/jwks.json`. */
  jwks(): { keys: JWK[] };
};

/**
 * Signs and verifies short-lived access tokens (ES256 JWTs).
 *
 * @example
 * const tokens = createTokenIssuer({ key, issuer: 'http://localhost:8787' });
 * const jwt = await tokens.issue({ userId, projectId, branchId: 'main', refreshTokenId, isAnonymous: false });
 */
export function createTokenIssuer(options: {
  key: SigningKey;
  issuer: string;
  now?: () => number;
  ttlSeconds?: number;
}): TokenIssuer {
  const now = options.now ?? Date.now;
  const ttl = options.ttlSeconds ?? ACCESS_TOKEN_TTL_SECONDS;
  const issuerFor = (projectId: string) => `${options.issuer}/api/v1/projects/${projectId}`;
  const verified = new Map<string, { claims: AccessTokenClaims; expiresAt: number }>();

  return {
    async issue(claims) {
      const issuedAt = Math.floor(now() / 1000);
      return new SignJWT({
        project_id: claims.projectId,
        branch_id: claims.branchId,
        refresh_token_id: claims.refreshTokenId,
        is_anonymous: claims.isAnonymous,
      })
        .setProtectedHeader({ alg: ALGORITHM, kid: options.key.kid, typ: 'JWT' })
        .setSubject(claims.userId)
        .setIssuer(issuerFor(claims.projectId))
        .setAudience(claims.projectId)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + ttl)
        .sign(options.key.privateKey);
    },

    async verify(token, expectedProjectId) {
      // A token verified once stays valid until it expires: skip the ES256 check on
      // every request of a busy tab (revocation is checked apart, per session).
      const cacheKey = `${expectedProjectId}\n${token}`;
      const hit = verified.get(cacheKey);
      if (hit && now() < hit.expiresAt) return hit.claims;
      if (hit) verified.delete(cacheKey);
      let unverified: ReturnType<typeof decodeJwt>;
      try {
        unverified = decodeJwt(token);
      } catch {
        throw new UnparsableAccessToken();
      }
      if (typeof unverified.project_id === 'string' && unverified.project_id !== expectedProjectId) {
        throw new InvalidProjectForAccessToken(expectedProjectId, unverified.project_id);
      }
      try {
        const { payload } = await jwtVerify(token, options.key.publicKey, {
          algorithms: [ALGORITHM],
          issuer: issuerFor(expectedProjectId),
          audience: expectedProjectId,
          currentDate: new Date(now()),
          clockTolerance: 0,
        });
        if (
          typeof payload.sub !== 'string' ||
          payload.project_id !== expectedProjectId ||
          typeof payload.branch_id !== 'string' ||
          typeof payload.refresh_token_id !== 'string' ||
          typeof payload.is_anonymous !== 'boolean'
        ) {
          throw new UnparsableAccessToken();
        }
        const claims: AccessTokenClaims = {
          userId: payload.sub,
          projectId: payload.project_id,
          branchId: payload.branch_id,
          refreshTokenId: payload.refresh_token_id,
          isAnonymous: payload.is_anonymous,
        };
        if (typeof payload.exp === 'number') {
          verified.set(cacheKey, { claims, expiresAt: payload.exp * 1000 });
          if (verified.size > VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
        }
        return claims;
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) {
          throw new AccessTokenExpired(typeof unverified.exp === 'number' ? new Date(unverified.exp * 1000) : undefined);
        }
        if (error instanceof UnparsableAccessToken) throw error;
        // Forged signatures, `alg: none`, tampered claims, wrong issuer or audience.
        throw new UnparsableAccessToken();
      }
    },

    jwks() {
      return { keys: [options.key.publicJwk] };
    },
  };
}
