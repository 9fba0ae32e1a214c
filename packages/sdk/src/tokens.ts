import { CLIENT_HEADERS } from '@sightline/protocol/client-headers';
import type { Api } from './http.ts';
import type { Store } from './store.ts';

export type AccessTokenGetter = () => string | null | undefined | Promise<string | null | undefined>;

export type TokenSource = {
  /** A usable access token, or null when there is no signed-in user (yet). */
  get(): Promise<string | null>;
  /** The cached token if it is still valid: for sends while the page goes away, which cannot wait. */
  peek(): string | null;
  /** The server refused the cached token: fetch a new one next time. */
  invalidate(): void;
  /** Sign-out: forget the token and, for anonymous users, the refresh token. */
  forget(): void;
};

type Cached = { token: string; expiresAt: number; subject: string | undefined };

/** Tokens are renewed this long before they expire, so a send never carries one that expires in flight. */
const EARLY_MS = 30_000;
/** After no token could be had, the next try waits this long. */
const RETRY_AFTER_FAILURE_MS = 5_000;
/** A token without `exp` is asked for again after this long. */
const UNKNOWN_EXPIRY_MS = 60_000;

/**
 * Where access tokens come from: the app (`getAccessToken`), or an anonymous
 * user the SDK signs up once and keeps a refresh token for in `store`.
 * `onSubject` hears each new token's user id (`sub`): a different user means a
 * sign-out happened and buffers must go.
 *
 * @example
 * const tokens = tokenSource({ api, store, storeKey: 'sightline:p:refresh', anonymous: true, onSubject });
 */
export function tokenSource(options: {
  api: Api;
  store: Store;
  storeKey: string;
  getAccessToken?: AccessTokenGetter;
  anonymous?: boolean;
  onSubject?: (subject: string | undefined) => void;
  now?: () => number;
}): TokenSource {
  const now = options.now ?? Date.now;
  let cached: Cached | undefined;
  let loading: Promise<string | null> | undefined;
  /** Counts forget() calls: a load that began before a sign-out must not bring the old user back. */
  let epoch = 0;
  let failedAt = -Infinity;

  const valid = () => (cached && cached.expiresAt - EARLY_MS > now() ? cached.token : null);

  const anonymousToken = async (current: () => boolean): Promise<string | null> => {
    const refreshToken = options.store.get(options.storeKey);
    if (refreshToken) {
      const refreshed = await options.api('/auth/sessions/current/refresh', {
        body: {},
        headers: { [CLIENT_HEADERS.refreshToken]: refreshToken },
      });
      if (refreshed.outcome === 'sent') return refreshed.json?.access_token ?? null;
      // The server no longer knows this session: start a new anonymous user. Otherwise try later.
      if (refreshed.outcome !== 'drop') return null;
      options.store.remove(options.storeKey);
    }
    const signUp = await options.api('/auth/anonymous/sign-up', { body: {} });
    if (signUp.outcome !== 'sent' || !current()) return null;
    options.store.set(options.storeKey, signUp.json.refresh_token);
    return signUp.json.access_token;
  };

  const load = async (): Promise<string | null> => {
    const started = epoch;
    const current = () => started === epoch;
    let token: string | null | undefined = null;
    try {
      token = options.getAccessToken ? await options.getAccessToken() : options.anonymous ? await anonymousToken(current) : null;
    } catch {
      token = null;
    }
    if (!current()) return null;
    if (!token) {
      // Signed out (or sign-up failed): no earlier user's token may serve an unload send, and
      // the next attempt waits a little instead of firing with every captured event.
      cached = undefined;
      failedAt = now();
      return null;
    }
    const claims = decodeClaims(token);
    cached = { token, subject: claims.sub, expiresAt: claims.exp ? claims.exp * 1000 : now() + UNKNOWN_EXPIRY_MS + EARLY_MS };
    options.onSubject?.(claims.sub);
    return token;
  };

  return {
    // The app's getter is asked for every send (it knows when its user changes; its SDK caches);
    // an anonymous token is reused until shortly before it expires.
    get: () =>
      Promise.resolve(
        (options.getAccessToken ? null : valid()) ??
          (now() - failedAt < RETRY_AFTER_FAILURE_MS ? null : (loading ??= load().finally(() => (loading = undefined)))),
      ),
    peek: valid,
    invalidate: () => void (cached = undefined),
    forget: () => {
      epoch++;
      cached = loading = undefined;
      options.store.remove(options.storeKey);
    },
  };
}

/** The payload of a JWT, unverified (the server verifies; the SDK only reads `exp` and `sub`). */
function decodeClaims(token: string): { exp?: number; sub?: string } {
  try {
    const part = token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/');
    // atob is forgiving about missing padding; the claims we read are ASCII.
    return JSON.parse(atob(part));
  } catch {
    return {};
  }
}
