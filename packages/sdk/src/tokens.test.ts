import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CLIENT_HEADERS as HEADERS } from '@sightline/protocol/client-headers';
import type { Api, ApiCall, ApiResult } from './http.ts';
import { memoryStore } from './store.ts';
import { tokenSource } from './tokens.ts';

/**
 * `api` is a recorded fake of the HTTP call. That is acceptable here: the real
 * network path (fetch, headers, the server's sign-up and refresh endpoints) is
 * covered by the Chromium end-to-end tests in e2e/sdk-*.test.ts; these tests
 * are about which calls the token source makes and what it keeps.
 */
type Recorded = { path: string; call: ApiCall | undefined };

/** An unsigned JWT with a base64url payload (the SDK only reads `exp` and `sub`). */
const jwt = (claims: { sub?: string; exp?: number; name?: string }) =>
  `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

const T0 = 1_900_000_000_000;
const sent = (json: unknown): ApiResult => ({ outcome: 'sent', status: 200, json });

function fakeApi(answer: (path: string, call: ApiCall | undefined, n: number) => ApiResult | Promise<ApiResult>) {
  const calls: Recorded[] = [];
  const api = (async (path: string, call?: ApiCall) => {
    calls.push({ path, call });
    return answer(path, call, calls.length);
  }) as Api;
  return { api, calls };
}

/** Sign-ups hand out user N with refresh token rN; refreshes answer a new access token for the same user. */
function server(options: { refresh?: (n: number) => ApiResult; ttlSeconds?: number; clock: () => number }) {
  let users = 0;
  return fakeApi((path, call, n) => {
    const exp = Math.floor(options.clock() / 1000) + (options.ttlSeconds ?? 600);
    if (path === '/auth/anonymous/sign-up') {
      users++;
      return sent({ user_id: `u${users}`, access_token: jwt({ sub: `u${users}`, exp, name: `call ${n}` }), refresh_token: `r${users}` });
    }
    if (path === '/auth/sessions/current/refresh') {
      if (options.refresh) return options.refresh(n);
      const user = call?.headers?.[HEADERS.refreshToken]?.slice(1);
      return sent({ access_token: jwt({ sub: `u${user}`, exp, name: `call ${n}` }) });
    }
    throw new Error(`unexpected ${path}`);
  });
}

const claims = (token: string | null) => JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString()) as { sub: string; name: string };

describe('tokenSource (anonymous)', () => {
  const KEY = 'sightline:p:refresh';

  test('signs up once, then refreshes with the stored refresh token', async () => {
    let now = T0;
    const clock = () => now;
    const { api, calls } = server({ clock, ttlSeconds: 120 });
    const store = memoryStore();
    const tokens = tokenSource({ api, store, storeKey: KEY, anonymous: true, now: clock });

    const first = await tokens.get();
    assert.equal(claims(first).sub, 'u1');
    assert.equal(store.get(KEY), 'r1');
    assert.deepEqual(calls.map((c) => [c.path, c.call?.body]), [['/auth/anonymous/sign-up', {}]]);

    now += 91_000; // within 30 s of expiry
    const second = await tokens.get();
    assert.equal(claims(second).sub, 'u1');
    assert.notEqual(second, first);
    assert.deepEqual(calls.map((c) => c.path), ['/auth/anonymous/sign-up', '/auth/sessions/current/refresh']);
    assert.equal(calls[1]!.call?.headers?.[HEADERS.refreshToken], 'r1');
    assert.deepEqual(calls[1]!.call?.body, {});

    // A new page with the same storage refreshes instead of signing up again.
    const reloaded = tokenSource({ api, store, storeKey: KEY, anonymous: true, now: clock });
    assert.equal(claims(await reloaded.get()).sub, 'u1');
    assert.equal(calls.filter((c) => c.path === '/auth/anonymous/sign-up').length, 1);
  });

  test('a refused refresh (the session is gone) signs up a new anonymous user', async () => {
    const clock = () => T0;
    const { api, calls } = server({ clock, refresh: () => ({ outcome: 'drop', status: 401 }) });
    const store = memoryStore();
    store.set(KEY, 'r-old');
    const tokens = tokenSource({ api, store, storeKey: KEY, anonymous: true, now: clock });
    assert.equal(claims(await tokens.get()).sub, 'u1');
    assert.deepEqual(calls.map((c) => c.path), ['/auth/sessions/current/refresh', '/auth/anonymous/sign-up']);
    assert.equal(store.get(KEY), 'r1');
  });

  test('a refresh failing with 5xx or a network error returns null and keeps the refresh token', async () => {
    for (const status of [503, 0]) {
      let now = T0;
      const clock = () => now;
      const { api, calls } = server({ clock, refresh: () => ({ outcome: 'retry', status }) });
      const store = memoryStore();
      store.set(KEY, 'r7');
      const tokens = tokenSource({ api, store, storeKey: KEY, anonymous: true, now: clock });
      assert.equal(await tokens.get(), null);
      assert.equal(store.get(KEY), 'r7');
      assert.deepEqual(calls.map((c) => c.path), ['/auth/sessions/current/refresh']);
      // Nothing cached, and no new attempt for 5 s (not one per captured event); then it asks again.
      now += 4_999;
      assert.equal(await tokens.get(), null);
      assert.equal(calls.length, 1);
      now += 1;
      assert.equal(await tokens.get(), null);
      assert.equal(calls.length, 2);
    }
  });

  test('a failed sign-up returns null and stores nothing', async () => {
    const { api } = fakeApi(() => ({ outcome: 'retry', status: 500 }));
    const store = memoryStore();
    const tokens = tokenSource({ api, store, storeKey: KEY, anonymous: true });
    assert.equal(await tokens.get(), null);
    assert.equal(store.get(KEY), null);
  });

  test('concurrent get() calls share one request', async () => {
    const clock = () => T0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const inner = server({ clock });
    let requests = 0;
    const api = (async (path: string, call?: ApiCall) => {
      requests++;
      await gate;
      return inner.api(path, call);
    }) as Api;
    const tokens = tokenSource({ api, store: memoryStore(), storeKey: KEY, anonymous: true, now: clock });
    const all = Promise.all([tokens.get(), tokens.get(), tokens.get()]);
    await new Promise((resolve) => setImmediate(resolve));
    release();
    const [a, b, c] = await all;
    assert.equal(requests, 1);
    assert.ok(a);
    assert.equal(a, b);
    assert.equal(b, c);
  });

  test('a token is cached until 30 s before its exp; peek() sees only a valid one', async () => {
    let now = T0;
    const clock = () => now;
    const { api, calls } = server({ clock, ttlSeconds: 120 });
    const tokens = tokenSource({ api, store: memoryStore(), storeKey: KEY, anonymous: true, now: clock });
    assert.equal(tokens.peek(), null);
    const token = await tokens.get();
    const exp = Math.floor(T0 / 1000) * 1000 + 120_000;
    assert.equal(tokens.peek(), token);

    now = exp - 30_001;
    assert.equal(await tokens.get(), token);
    assert.equal(tokens.peek(), token);
    assert.equal(calls.length, 1);

    now = exp - 30_000;
    assert.equal(tokens.peek(), null);
    const renewed = await tokens.get();
    assert.notEqual(renewed, token);
    assert.equal(calls.length, 2);
  });

  test('an app token without exp stays usable for unload sends (peek) for a minute', async () => {
    let now = T0;
    const tokens = tokenSource({
      api: fakeApi(() => sent({})).api,
      store: memoryStore(),
      storeKey: KEY,
      getAccessToken: () => jwt({ sub: 'app-user', name: String(now) }),
      now: () => now,
    });
    const first = await tokens.get();
    now += 59_999;
    assert.equal(tokens.peek(), first);
    now += 1;
    assert.equal(tokens.peek(), null);
  });

  test('onSubject hears the sub of every new token', async () => {
    let now = T0;
    const clock = () => now;
    const subjects: (string | undefined)[] = [];
    const { api } = server({ clock, ttlSeconds: 60 });
    const store = memoryStore();
    const tokens = tokenSource({ api, store, storeKey: KEY, anonymous: true, now: clock, onSubject: (s) => subjects.push(s) });
    await tokens.get();
    await tokens.get(); // cached: no new token, no call
    now += 31_000;
    await tokens.get();
    tokens.forget();
    await tokens.get();
    assert.deepEqual(subjects, ['u1', 'u1', 'u2']);
  });

  test('forget() removes the stored refresh token and the cached token', async () => {
    const clock = () => T0;
    const { api, calls } = server({ clock });
    const store = memoryStore();
    const tokens = tokenSource({ api, store, storeKey: KEY, anonymous: true, now: clock });
    await tokens.get();
    store.set('other', 'kept');
    tokens.forget();
    assert.equal(store.get(KEY), null);
    assert.equal(store.get('other'), 'kept');
    assert.equal(tokens.peek(), null);
    assert.equal(claims(await tokens.get()).sub, 'u2');
    assert.equal(calls.filter((c) => c.path === '/auth/anonymous/sign-up').length, 2);
  });

  test('forget() during a sign-up in flight: the old user is neither returned nor stored', async () => {
    const clock = () => T0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const inner = server({ clock });
    const api = (async (path: string, call?: ApiCall) => {
      const result = await inner.api(path, call);
      if (inner.calls.length === 1) await gate;
      return result;
    }) as Api;
    const subjects: (string | undefined)[] = [];
    const store = memoryStore();
    const tokens = tokenSource({ api, store, storeKey: KEY, anonymous: true, now: clock, onSubject: (s) => subjects.push(s) });
    const before = tokens.get();
    await new Promise((resolve) => setImmediate(resolve));
    tokens.forget();
    const after = tokens.get();
    release();
    assert.equal(await before, null);
    assert.equal(claims(await after).sub, 'u2');
    assert.equal(store.get(KEY), 'r2');
    assert.deepEqual(subjects, ['u2']);
  });
});

describe('tokenSource (app tokens)', () => {
  test('asks getAccessToken for every send (a user switch shows at the next batch); peek() has the last one', async () => {
    let n = 0;
    const tokens = tokenSource({
      api: fakeApi(() => {
        throw new Error('the app supplies tokens: no API call');
      }).api,
      store: memoryStore(),
      storeKey: 'k',
      getAccessToken: async () => jwt({ sub: 'app', exp: Math.floor(Date.now() / 1000) + 3600, name: String(++n) }),
    });
    const first = await tokens.get();
    assert.equal(claims(first).name, '1');
    assert.equal(tokens.peek(), first);
    const second = await tokens.get();
    assert.equal(claims(second).name, '2');
    assert.equal(tokens.peek(), second);
    tokens.invalidate();
    assert.equal(tokens.peek(), null);
  });

  test('a getter that returns nothing or throws means no token', async () => {
    for (const getAccessToken of [() => null, () => undefined, () => '', () => Promise.reject(new Error('x')), () => {
      throw new Error('y');
    }]) {
      const tokens = tokenSource({ api: fakeApi(() => sent({})).api, store: memoryStore(), storeKey: 'k', getAccessToken });
      assert.equal(await tokens.get(), null);
    }
  });

  test('neither a getter nor anonymous: no token, no call', async () => {
    const { api, calls } = fakeApi(() => sent({}));
    const tokens = tokenSource({ api, store: memoryStore(), storeKey: 'k' });
    assert.equal(await tokens.get(), null);
    assert.equal(calls.length, 0);
  });

  test('a token that is not a JWT still works, with no subject', async () => {
    const subjects: (string | undefined)[] = [];
    const tokens = tokenSource({
      api: fakeApi(() => sent({})).api,
      store: memoryStore(),
      storeKey: 'k',
      getAccessToken: () => 'opaque',
      onSubject: (s) => subjects.push(s),
    });
    assert.equal(await tokens.get(), 'opaque');
    assert.deepEqual(subjects, [undefined]);
  });
});
