import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { Window } from 'happy-dom';
import { jsonShapeProblem, MAX_DATA_DEPTH, MAX_DATA_KEYS } from '@sightline/protocol/limits';
import type { RecorderOptions } from './replay-loader.ts';
import { createTracker, type Tracker, type TrackerEnvironment, type TrackerOptions } from './tracker.ts';

/**
 * `createTracker`, the composition root, in a happy-dom page against a scripted
 * server: when the first request may leave, what a batch carries, sign-out and
 * user changes, the unload path with its persisted queue, and replays with a
 * stand-in recorder (ADR 0009). The real server, rrweb and Chromium's keepalive
 * path are covered end to end by e2e/sdk-*.test.ts.
 */

type Sent = { path: string; method: string; headers: Record<string, string>; body: any; keepalive: boolean };

/** An unsigned JWT for `sub`, valid for an hour (the SDK reads only `sub` and `exp`). */
const jwt = (sub: string) =>
  ['{"alg":"none"}', JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })]
    .map((part) => Buffer.from(part).toString('base64url'))
    .join('.') + '.sig';
const subOf = (token: string | undefined) => JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString()).sub;

/**
 * A scripted Sightline server: records every request and answers like the real one.
 * Sign-ups create users anon-1, anon-2…; a refresh answers for the user of its refresh token.
 * `configFailures` / `batchFailures` are the statuses of the next such requests (0 = network error).
 */
function fakeServer() {
  let users = 0;
  const server = {
    requests: [] as Sent[],
    enabled: true,
    configFailures: [] as number[],
    /** When set, the client-config answer waits for it. */
    configGate: undefined as Promise<unknown> | undefined,
    batchFailures: [] as number[],
    fetch: (async (url: string | URL | Request, init: RequestInit = {}) => {
      const headers = { ...(init.headers as Record<string, string>) };
      const path = new URL(String(url)).pathname;
      const body = init.body && JSON.parse(String(init.body));
      server.requests.push({ path, method: init.method ?? 'GET', headers, body, keepalive: !!init.keepalive });
      const answer = (status: number, json: object = {}) => {
        if (status === 0) throw new TypeError('Failed to fetch');
        return new Response(JSON.stringify(json), { status, headers: { 'content-type': 'application/json' } });
      };
      if (path.endsWith('/analytics/client-config')) {
        await server.configGate;
        return answer(server.configFailures.shift() ?? 200, { enabled: server.enabled });
      }
      if (path.endsWith('/auth/anonymous/sign-up')) {
        users++;
        return answer(200, { access_token: jwt(`anon-${users}`), refresh_token: `refresh-anon-${users}` });
      }
      if (path.endsWith('/auth/sessions/current/refresh')) {
        return answer(200, { access_token: jwt(headers['x-stack-refresh-token']!.replace('refresh-', '')) });
      }
      return answer(server.batchFailures.shift() ?? 200);
    }) as typeof fetch,
    /** Requests to paths ending with `suffix`, e.g. '/events/batch'. */
    to: (suffix: string) => server.requests.filter((r) => r.path.endsWith(suffix)),
    /** The event types of every event batch request, in order. */
    eventTypes: () => server.to('/events/batch').map((r) => r.body.events.map((e: { event_type: string }) => e.event_type)),
  };
  return server;
}

/** Lets fetch answers and the promise chains behind them run (setImmediate is never mocked here). */
const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};

const OPTIONS: TrackerOptions = { projectId: 'proj', publishableClientKey: 'pck_1', baseUrl: 'https://sightline.example/', anonymous: true };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('createTracker', () => {
  const pages: Window[] = [];
  const trackers: Tracker[] = [];
  after(() => Promise.all(pages.map((page) => page.happyDOM.close())));
  // A failing test must not leave timers behind: every tracker is stopped.
  afterEach(() => trackers.splice(0).forEach((tracker) => tracker.stop()));

  const newPage = (url = 'https://shop.example/') => {
    const page = new Window({ url, width: 800, height: 600 });
    pages.push(page);
    return { page, win: page as unknown as globalThis.Window };
  };
  type Server = ReturnType<typeof fakeServer>;
  const start = (win: globalThis.Window, server: Server, options: Partial<TrackerOptions> = {}, env: Partial<TrackerEnvironment> = {}) => {
    const loadRecorder = () => Promise.reject(new Error('no replays'));
    const tracker = createTracker({ ...OPTIONS, ...options }, { window: win, fetch: server.fetch, loadRecorder, ...env });
    trackers.push(tracker);
    return tracker;
  };
  const segmentOf = (win: globalThis.Window) => win.sessionStorage.getItem('sightline:proj:segment');
  const fire = (page: Window, target: 'window' | 'document', type: string) =>
    (target === 'window' ? page : page.document).dispatchEvent(new page.Event(type));

  test('nothing leaves before the client-config answer; what was captured meanwhile goes out in one authenticated batch', async () => {
    const { win } = newPage('https://shop.example/pricing');
    const server = fakeServer();
    let answer!: () => void;
    server.configGate = new Promise<void>((resolve) => (answer = resolve));
    const tracker = start(win, server);
    tracker.track('signup-started', { plan: 'pro' });
    tracker.flush();
    await settle();
    assert.deepEqual(server.requests.map((r) => [r.method, r.path]), [['GET', '/api/v1/analytics/client-config']]);
    assert.equal(server.requests[0]!.headers['x-stack-access-token'], undefined);
    assert.equal(tracker.state.enabled, undefined);

    answer();
    await settle();
    assert.equal(tracker.state.enabled, true);
    tracker.flush();
    await settle();
    assert.deepEqual(server.requests.map((r) => `${r.method} ${r.path}`), [
      'GET /api/v1/analytics/client-config',
      'POST /api/v1/auth/anonymous/sign-up',
      'POST /api/v1/analytics/events/batch',
    ]);
    const batch = server.to('/events/batch')[0]!;
    const signUp = server.to('/sign-up')[0]!;
    const headers = ['x-stack-project-id', 'x-stack-publishable-client-key', 'x-stack-access-type'];
    assert.deepEqual(headers.map((h) => [signUp.headers[h], batch.headers[h]]), [['proj', 'proj'], ['pck_1', 'pck_1'], ['client', 'client']]);
    assert.equal(subOf(batch.headers['x-stack-access-token']), 'anon-1');
    assert.match(batch.body.batch_id, UUID);
    assert.ok(Math.abs(batch.body.sent_at_ms - Date.now()) < 5_000);
    assert.match(segmentOf(win)!, UUID);
    assert.equal(batch.body.session_replay_segment_id, segmentOf(win));
    assert.deepEqual(batch.body.events.map((e: any) => [e.event_type, e.data.path ?? e.data.plan]), [
      ['$page-view', '/pricing'],
      ['signup-started', 'pro'],
    ]);
    assert.equal(batch.body.events[0].data.entry_type, 'initial');
  });

  test('before the answer at most 200 events wait; the rest are dropped and counted', async () => {
    const server = fakeServer();
    let answer!: () => void;
    server.configGate = new Promise<void>((resolve) => (answer = resolve));
    const tracker = start(newPage().win, server);
    for (let i = 0; i < 249; i++) tracker.track('early', { i }); // after the initial page view: 250 in all
    assert.equal(tracker.stats.dropped, 50);
    answer();
    await settle();
    tracker.flush();
    await settle();
    assert.equal(server.eventTypes().flat().length, 200);
  });

  test('{enabled: false}: one request ever, history restored, nothing captured, nothing stored', async () => {
    const { page, win } = newPage();
    const [push, replace] = [win.history.pushState, win.history.replaceState];
    const server = fakeServer();
    server.enabled = false;
    const tracker = start(win, server);
    assert.notEqual(win.history.pushState, push);
    await settle();
    assert.equal(tracker.state.enabled, false);
    assert.deepEqual([win.history.pushState, win.history.replaceState], [push, replace]);

    tracker.track('after-off');
    win.history.pushState({}, '', '/next');
    win.document.body.innerHTML = '<button>Buy</button>';
    win.document.querySelector('button')!.click();
    fire(page, 'window', 'pagehide');
    tracker.flush();
    await settle();
    assert.equal(server.requests.length, 1);
    assert.equal(win.localStorage.length, 0);
  });

  test('a failed client-config request (503, network error) is retried; stop() ends the retries', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const server = fakeServer();
    server.configFailures = [503, 0];
    const tracker = start(newPage().win, server);
    await settle();
    assert.equal(server.requests.length, 1);
    t.mock.timers.tick(1_000); // first backoff: 0.5–1 s
    await settle();
    assert.equal(server.requests.length, 2);
    t.mock.timers.tick(2_000); // second: 1–2 s
    await settle();
    assert.equal(tracker.state.enabled, true);
    assert.deepEqual(server.requests.slice(0, 3).map((r) => r.path), Array(3).fill('/api/v1/analytics/client-config'));
    tracker.stop();

    // stop() while the request is out, or while waiting to retry it: no further request either way.
    for (const inFlight of [true, false]) {
      const stopping = fakeServer();
      stopping.configFailures = [503];
      let answer = () => {};
      if (inFlight) stopping.configGate = new Promise<void>((resolve) => (answer = resolve));
      const stopped = start(newPage().win, stopping);
      await settle();
      stopped.stop();
      answer();
      await settle();
      t.mock.timers.tick(120_000);
      await settle();
      assert.equal(stopping.requests.length, 1);
      assert.equal(stopped.state.enabled, undefined);
    }
  });

  test('a malformed event, or a throwing beforeSend, drops only that event; track() never throws', async () => {
    const server = fakeServer();
    const tracker = start(newPage().win, server, {
      beforeSend: (event) => {
        if (event.event_type === 'throws') throw new Error('app bug');
        if (event.event_type === 'private') return null;
        if (event.event_type === 'priced') return { ...event, data: { ...event.data, currency: 'EUR' }, extra: 1 } as typeof event;
        return event;
      },
    });
    await settle();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const badNames = [['$custom'], [''], ['x'.repeat(65)], ['has space']];
    const bad = [...badNames, ['ok', 'text'], ['ok', [1]], ['ok', null], ['ok', cyclic], ['ok', { n: 1n }], ['throws']] as [string, never][];
    for (const [name, data] of bad) assert.doesNotThrow(() => tracker.track(name, data));
    tracker.track('private'); // dropped by the app: not counted
    tracker.track('priced', { amount: 5 });
    tracker.track('y'.repeat(64));
    assert.equal(tracker.stats.dropped, bad.length);
    tracker.flush();
    await settle();
    assert.deepEqual(server.eventTypes(), [['$page-view', 'priced', 'y'.repeat(64)]]);
    const priced = server.to('/events/batch')[0]!.body.events[1];
    assert.deepEqual(Object.keys(priced), ['event_type', 'event_at_ms', 'data']);
    assert.deepEqual(priced.data, { amount: 5, currency: 'EUR' });
  });

  test("data beyond the server's depth or key limits drops that event, not its batch", async () => {
    const server = fakeServer();
    const tracker = start(newPage().win, server);
    await settle();
    const nested = (levels: number) => {
      // Objects and arrays alternate (arrays count as levels too); the outermost is an object.
      let data: unknown = {};
      for (let i = 1; i < levels; i++) data = (levels - i) % 2 === 1 ? { deeper: data } : [data];
      return data as Record<string, unknown>;
    };
    const withKeys = (n: number) => ({ a: Object.fromEntries(Array.from({ length: n - 1 }, (_, i) => [`k${i}`, i])) });
    tracker.track('deep', nested(MAX_DATA_DEPTH + 1));
    tracker.track('many', withKeys(MAX_DATA_KEYS + 1));
    tracker.track('deepest', nested(MAX_DATA_DEPTH));
    tracker.track('most', withKeys(MAX_DATA_KEYS));
    tracker.flush();
    await settle();
    assert.equal(tracker.stats.dropped, 2);
    assert.deepEqual(server.eventTypes(), [['$page-view', 'deepest', 'most']]);
    // What the tracker lets through, the server's own check accepts.
    for (const event of server.to('/events/batch')[0]!.body.events) assert.equal(jsonShapeProblem(event.data), undefined);
  });

  test('pushState, replaceState and popstate are page views; stop() restores history and removes every listener', async (t) => {
    const { page, win } = newPage('https://shop.example/a');
    const inherited = Object.getPrototypeOf(win.history) as History;
    const listeners = [win, win.document].map((target) => ({
      add: t.mock.method(target, 'addEventListener'),
      remove: t.mock.method(target, 'removeEventListener'),
    }));
    const server = fakeServer();
    const seen: string[] = [];
    const tracker = start(win, server, { beforeSend: (event) => (seen.push(event.event_type), event) });
    await settle();
    win.history.pushState({}, '', '/b');
    win.history.replaceState({}, '', '/b?tab=2');
    inherited.pushState.call(win.history, null, '', '/c'); // the browser navigates (back/forward)…
    win.dispatchEvent(new page.PopStateEvent('popstate') as unknown as Event); // …and fires popstate
    win.document.body.innerHTML = '<button id="buy">Buy</button>';
    win.document.querySelector('button')!.click();
    tracker.flush();
    await settle();
    const events = server.to('/events/batch').flatMap((r) => r.body.events);
    assert.deepEqual(events.map((e: any) => [e.event_type, e.data.entry_type ?? e.data.selector, e.data.path ?? e.data.text]), [
      ['$page-view', 'initial', '/a'],
      ['$page-view', 'push', '/b'],
      ['$page-view', 'replace', '/b'],
      ['$page-view', 'pop', '/c'],
      ['$click', '#buy', 'Buy'],
    ]);
    assert.equal(events[3].data.referrer, 'https://shop.example/b?tab=2');

    tracker.stop();
    assert.equal(Object.hasOwn(win.history, 'pushState'), false);
    assert.deepEqual([win.history.pushState, win.history.replaceState], [inherited.pushState, inherited.replaceState]);
    for (const { add, remove } of listeners) {
      const calls = (mock: typeof add) => mock.mock.calls.map((c) => c.arguments).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      assert.ok(add.mock.callCount() > 0);
      assert.deepEqual(calls(remove), calls(add));
    }
    const before = seen.length;
    win.document.querySelector('button')!.click();
    win.history.pushState({}, '', '/d');
    fire(page, 'window', 'pagehide');
    await settle();
    assert.equal(seen.length, before);
    assert.equal(server.to('/events/batch').length, 1);
  });

  test('pagehide sends unsent events with keepalive and persists them; the next page sends them once, same batch_id', async () => {
    const { page, win } = newPage();
    const server = fakeServer();
    const first = start(win, server);
    await settle();
    first.track('checkout', { step: 1 });
    server.batchFailures = [0]; // the keepalive send is lost
    fire(page, 'window', 'pagehide');
    const unload = server.to('/events/batch');
    const described = unload.map((r) => [r.keepalive, subOf(r.headers['x-stack-access-token']), r.body.events.map((e: any) => e.event_type)]);
    assert.deepEqual(described, [[true, 'anon-1', ['$page-view', 'checkout']]]);
    const key = `sightline:proj:queue:${segmentOf(win)}`;
    const persisted = JSON.parse(win.localStorage.getItem(key)!).map((p: any) => [p.subject, p.batches.map((b: any) => [b.id, b.tried])]);
    assert.deepEqual(persisted, [['anon-1', [[unload[0]!.body.batch_id, true]]]]);
    first.stop();
    await settle();

    // The next page of the tab (same storage): it refreshes anon-1's session and sends the batch first.
    const second = start(win, server);
    await settle();
    assert.equal(win.localStorage.getItem(key), null);
    second.flush();
    await settle();
    const resent = server.to('/events/batch').slice(1);
    assert.deepEqual(resent.map((r) => [r.keepalive, r.body.batch_id === unload[0]!.body.batch_id]), [[false, true], [false, false]]);
    assert.deepEqual(resent[0]!.body.events, unload[0]!.body.events);
    assert.equal(subOf(resent[0]!.headers['x-stack-access-token']), 'anon-1');
    assert.equal(server.to('/sign-up').length, 1);
  });

  test('batches persisted for another user are dropped, not sent under the new one', async () => {
    const { page, win } = newPage();
    const server = fakeServer();
    const first = start(win, server);
    await settle();
    first.track('anonymous-step');
    server.batchFailures = [503];
    fire(page, 'window', 'pagehide');
    first.stop();
    assert.ok(win.localStorage.getItem(`sightline:proj:queue:${segmentOf(win)}`));

    const second = start(win, server, { anonymous: false, getAccessToken: () => jwt('user-b') });
    await settle();
    second.flush();
    await settle();
    assert.deepEqual(server.eventTypes().slice(1), [['$page-view']]);
    assert.equal(subOf(server.to('/events/batch')[1]!.headers['x-stack-access-token']), 'user-b');
    assert.equal(win.localStorage.getItem(`sightline:proj:queue:${segmentOf(win)}`), null);
  });

  test('an event tracked after visibilitychange → hidden is still sent or persisted at pagehide', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] }); // the page is gone after pagehide: its timers never fire
    const { page, win } = newPage();
    const server = fakeServer();
    const tracker = start(win, server);
    await settle();
    Object.defineProperty(win.document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    fire(page, 'document', 'visibilitychange'); // tab closing: hidden first…
    tracker.track('tab-hidden'); // …the app's own visibilitychange handler…
    fire(page, 'window', 'pagehide'); // …then pagehide; no timer runs after it
    const persisted = win.localStorage.getItem(`sightline:proj:queue:${segmentOf(win)}`) ?? '';
    const keepalive = server.to('/events/batch').filter((r) => r.keepalive).flatMap((r) => r.body.events);
    const kept = persisted.includes('tab-hidden') || keepalive.some((e: any) => e.event_type === 'tab-hidden');
    assert.ok(kept, 'tab-hidden was neither sent with keepalive nor persisted');
  });

  test('signOut() clears what was unsent, forgets the anonymous session, and later events go out as a new user', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { win } = newPage();
    const server = fakeServer();
    const tracker = start(win, server);
    await settle();
    assert.equal(win.localStorage.getItem('sightline:proj:refresh'), 'refresh-anon-1');
    server.batchFailures = [503];
    tracker.track('before-sign-out');
    tracker.flush();
    await settle(); // refused with 503: a retry is scheduled
    tracker.signOut();
    assert.equal(win.localStorage.getItem('sightline:proj:refresh'), null);
    tracker.track('after-sign-out');
    tracker.flush();
    await settle();
    t.mock.timers.tick(120_000); // any retry left behind would fire now
    await settle();
    assert.deepEqual(server.eventTypes(), [['$page-view', 'before-sign-out'], ['after-sign-out']]);
    assert.equal(subOf(server.to('/events/batch')[1]!.headers['x-stack-access-token']), 'anon-2');
    assert.equal(server.to('/sign-up').length, 2);
    assert.equal(win.localStorage.getItem('sightline:proj:refresh'), 'refresh-anon-2');
  });

  test("a token of another user (getAccessToken) clears what was buffered for the previous one", async () => {
    const { page, win } = newPage();
    const server = fakeServer();
    let token = jwt('user-a');
    const tracker = start(win, server, { anonymous: false, getAccessToken: () => token });
    await settle();
    tracker.track('a-1');
    tracker.flush();
    await settle();
    server.batchFailures = [503];
    tracker.track('a-2');
    tracker.flush();
    await settle(); // refused: waiting for a retry
    token = jwt('user-b');
    fire(page, 'window', 'online'); // retry now, with the app's new token
    await settle();
    tracker.track('b-1');
    tracker.flush();
    await settle();
    const sent = server.to('/events/batch').map((r) => [subOf(r.headers['x-stack-access-token']), r.body.events.map((e: any) => e.event_type)]);
    assert.deepEqual(sent, [
      ['user-a', ['$page-view', 'a-1']],
      ['user-a', ['a-2']],
      ['user-b', ['b-1']],
    ]);
  });

  test('replays: recorded events go to /session-replays/batch; signOut() takes a snapshot and starts a new browser session', async () => {
    const { win } = newPage();
    const server = fakeServer();
    let recorder: RecorderOptions | undefined;
    const calls = { snapshot: 0, stop: 0 };
    const loadRecorder = async () => ({
      startRecorder: (options: RecorderOptions) => {
        recorder = options;
        return { stop: () => void calls.stop++, snapshot: () => void calls.snapshot++ };
      },
    });
    const tracker = start(win, server, { replays: true }, { loadRecorder });
    await settle();
    recorder!.emit({ type: 4, data: { href: 'https://shop.example/' } });
    recorder!.emit({ type: 2, data: { node: 1 } });
    tracker.flush();
    await settle();
    const [first] = server.to('/session-replays/batch');
    assert.equal(subOf(first!.headers['x-stack-access-token']), 'anon-1');
    assert.deepEqual(first!.body.events.map((e: any) => e.type), [4, 2]);
    assert.match(first!.body.browser_session_id, UUID);
    assert.equal(first!.body.browser_session_id, JSON.parse(win.localStorage.getItem('sightline:proj:browser-session')!).id);
    assert.ok(Math.abs(first!.body.started_at_ms - Date.now()) < 5_000);
    assert.match(first!.body.batch_id, UUID);
    assert.equal(first!.body.session_replay_segment_id, segmentOf(win));
    assert.equal(server.to('/events/batch')[0]!.body.session_replay_segment_id, segmentOf(win));

    tracker.signOut();
    assert.equal(calls.snapshot, 1);
    recorder!.emit({ type: 2, data: { node: 2 } }); // the snapshot signOut() asked for
    tracker.flush();
    await settle();
    const second = server.to('/session-replays/batch')[1]!;
    assert.notEqual(second.body.browser_session_id, first!.body.browser_session_id);
    assert.equal(second.body.session_replay_segment_id, segmentOf(win));
    assert.equal(subOf(second.headers['x-stack-access-token']), 'anon-2');
    tracker.stop();
    assert.equal(calls.stop, 1);
  });

  test('a sign-out snapshot that fills a replay batch by itself goes out as the next user', async () => {
    const { win } = newPage();
    const server = fakeServer();
    // Like rrweb's takeFullSnapshot, emitted synchronously; a large page's snapshot can exceed 512 KB.
    const loadRecorder = async () => ({
      startRecorder: ({ emit }: RecorderOptions) => ({ stop() {}, snapshot: () => emit({ type: 2, data: 'x'.repeat(520_000) }) }),
    });
    const tracker = start(win, server, { replays: true }, { loadRecorder });
    await settle();
    tracker.signOut();
    await settle();
    const senders = server.to('/session-replays/batch').map((r) => subOf(r.headers['x-stack-access-token']));
    assert.deepEqual(senders, ['anon-2']);
  });
});
