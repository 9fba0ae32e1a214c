import { CUSTOM_EVENT_NAME, MAX_DATA_DEPTH, MAX_DATA_KEYS } from '@sightline/protocol/limits';
import { captureClicks } from './clicks.ts';
import { createDelivery, type Batch, type Delivery } from './delivery.ts';
import { apiClient, type Api } from './http.ts';
import { utf8Length, uuid } from './ids.ts';
import { capturePageViews } from './page-views.ts';
import type { StripQueryParams } from './privacy.ts';
import { startReplays, type RecorderModule, type ReplayControl, type ReplayMeta, type ReplayOptions } from './replay-loader.ts';
import { nextDelay, type Attempt } from './retry.ts';
import { webStore, type Store } from './store.ts';
import { tokenSource, type AccessTokenGetter } from './tokens.ts';

export type TrackedEvent = { event_type: string; event_at_ms: number; data: Record<string, unknown> };

export type TrackerOptions = {
  projectId: string;
  publishableClientKey: string;
  /** Where Sightline runs, e.g. `https://analytics.example.com`. */
  baseUrl: string;
  branchId?: string;
  /** The signed-in user's access token (null when signed out). */
  getAccessToken?: AccessTokenGetter;
  /** Without `getAccessToken`: sign in an anonymous user once and keep its session in localStorage. */
  anonymous?: boolean;
  /** Record session replays (opt-in). */
  replays?: boolean | ReplayOptions;
  /** Query parameters whose values are removed from captured URLs (see `stripUrl`). */
  stripQueryParams?: StripQueryParams;
  /** Drop click text that looks like an email or a card number (default true). */
  maskText?: boolean;
  /** Change an event, or return null to drop it. */
  beforeSend?: (event: TrackedEvent) => TrackedEvent | null | undefined;
};

export type Tracker = {
  /** Records a custom event (`[A-Za-z0-9_.:-]{1,64}`, no leading `$`). */
  track(eventType: string, data?: Record<string, unknown>): void;
  /** Sends what is buffered now instead of at the next threshold. */
  flush(): void;
  /** The user signed out: every buffer (memory, persisted, replay) is cleared and the anonymous session forgotten. */
  signOut(): void;
  /** Removes every listener, restores `history` and stops the recorder. */
  stop(): void;
  /** Whether the project records analytics, once the server answered. */
  readonly state: { enabled: boolean | undefined };
  /** Events stored, and dropped (malformed, over the queue bound, refused by the server), so far. */
  readonly stats: { readonly sent: number; readonly dropped: number };
};

/** Parts a build or a test supplies: how the recorder chunk loads, and the browser it runs in. */
export type TrackerEnvironment = {
  loadRecorder: (options: ReplayOptions) => Promise<RecorderModule>;
  window?: Window;
  fetch?: typeof fetch;
};

const EVENTS = { maxItems: 50, maxBytes: 60_000, intervalMs: 10_000, maxQueuedBytes: 1_000_000 };
const REPLAYS = { maxItems: 200, maxBytes: 512_000, intervalMs: 5_000, maxQueuedBytes: 8_000_000 };
/** Unload sends share the browser's 64 KiB keepalive budget; each piece stays under 60 KB. */
const UNLOAD_BUDGET_BYTES = 64_000;
/** Each piece under 60 KB; no single item over the server's body limit, less room for the envelope. */
const pieceLimits = { pieceBytes: 60_000, maxItemBytes: 900_000 };
/** Persisted batches: at most this much text… */
const PERSISTED_MAX_CHARS = 200_000;
/** …never older than the server's dedup window (1 h) once tried, nor a day in any case. */
const PERSISTED_TRIED_MAX_AGE_MS = 50 * 60_000;
const PERSISTED_MAX_AGE_MS = 24 * 3600_000;

type EventMeta = { segment: string };
/** What a page leaves in localStorage: its unsent batches and whose they are. */
type Persisted = { subject?: string; batches: Batch<EventMeta>[] };

/**
 * Starts Sightline in a page: auto-captured page views and clicks, custom
 * events, reliable batched delivery, and (opt-in) session replay. Asks the
 * server once whether the project records analytics and stops completely if not.
 *
 * @example
 * const tracker = createTracker({ projectId, publishableClientKey, baseUrl: 'https://analytics.example.com', anonymous: true },
 *   { loadRecorder: () => import('./recorder.ts') });
 * tracker.track('signup-started', { plan: 'pro' });
 */
export function createTracker(options: TrackerOptions, env: TrackerEnvironment): Tracker {
  const win = env.window ?? window;
  const now = () => Date.now();
  const api = apiClient(options, env.fetch ?? win.fetch.bind(win), now);
  const local = webStore(() => win.localStorage);
  const prefix = `sightline:${options.projectId}:`;
  const segment = tabSegment(webStore(() => win.sessionStorage), prefix);
  const cleanups: (() => void)[] = [];
  let replay: ReplayControl | undefined;
  let stopped = false;
  let subject: string | undefined;
  /** Batches earlier pages persisted, waiting for the first token to tell whose they are. */
  let held: Persisted[] = [];
  /** Bumped whenever buffers are cleared, so a send that was waiting for a token can tell. */
  let generation = 0;

  const tokens = tokenSource({
    api,
    store: local,
    storeKey: `${prefix}refresh`,
    getAccessToken: options.getAccessToken,
    anonymous: options.anonymous,
    onSubject: (next) => {
      // Another user's token: what was buffered belongs to the previous one and must not be sent as this one.
      if (subject !== undefined && next !== subject) clearBuffers();
      subject = next;
      // Batches an earlier page left go out once we know they are this user's.
      events.restore(held.filter((saved) => saved.subject === undefined || saved.subject === next).flatMap((saved) => saved.batches));
      held = [];
    },
  });

  const sender = <M>(path: string, body: (batch: Batch<M>) => object) => async (batch: Batch<M>, keepalive: boolean): Promise<Attempt> => {
    const before = generation;
    const accessToken = keepalive ? tokens.peek() : await tokens.get();
    // Buffers were cleared meanwhile (another user's token arrived): this batch is not theirs to send.
    if (before !== generation) return { outcome: 'drop' };
    if (!accessToken) return { outcome: 'wait' };
    batch.tried = true;
    const result = await api(path, { body: { ...body(batch), batch_id: batch.id, sent_at_ms: now() }, accessToken, keepalive });
    if (result.status === 401 && !batch.authRetried) {
      // An expired or revoked token: one more try with a fresh one, then the batch is dropped like any 4xx.
      batch.authRetried = true;
      tokens.invalidate();
      return { outcome: 'retry' };
    }
    return result;
  };

  const online = () => win.navigator.onLine !== false;
  const events: Delivery<EventMeta> = createDelivery({
    ...EVENTS,
    ...pieceLimits,
    onChange: () => hidden && persistSoon(),
    send: sender<EventMeta>('/analytics/events/batch', (b) => ({ session_replay_segment_id: b.meta.segment, events: b.items })),
    isOnline: online,
  });
  const replays: Delivery<ReplayMeta> = createDelivery({
    ...REPLAYS,
    ...pieceLimits,
    send: sender<ReplayMeta>('/session-replays/batch', (b) => ({
      browser_session_id: b.meta.browserSessionId,
      session_replay_segment_id: segment,
      started_at_ms: b.meta.startedAt,
      events: b.items,
    })),
    isOnline: online,
  });

  const state: Tracker['state'] = { enabled: undefined };

  // Until the server has answered, captured events wait here (nothing is sent before we know).
  let early: TrackedEvent[] | undefined = [];
  const enqueue = (eventType: string, data: Record<string, unknown>) => {
    if (stopped) return;
    let event: TrackedEvent | null | undefined = { event_type: eventType, event_at_ms: now(), data };
    let json: string | undefined;
    try {
      if (options.beforeSend) event = options.beforeSend(event);
      // Checked here, one event at a time: the server judges a batch whole, and one bad event would lose its neighbours.
      if (event && wellFormed(event)) json = JSON.stringify((event = { event_type: event.event_type, event_at_ms: event.event_at_ms, data: event.data }));
    } catch {
      // A throwing beforeSend, data JSON cannot hold (cycles, BigInt) or beyond the server's limits: this event only.
    }
    if (!json) {
      if (event) events.stats.dropped++;
      return;
    }
    if (early) {
      if (early.length < EVENTS.maxItems * 4) early.push(event!);
      else events.stats.dropped++;
      return;
    }
    add(event!, utf8Length(json));
  };
  const add = (event: TrackedEvent, bytes: number) => {
    // Unload sends cannot wait for a token: keep one ready whenever something is waiting to go.
    if (!tokens.peek()) void tokens.get();
    events.add(event, bytes, { segment }, segment);
    if (hidden) persistSoon();
  };

  const queueKey = `${prefix}queue:${segment}`;
  const persist = () => {
    // Each batch with the user it was captured for: a later page sends it only under the same user.
    const entries: Persisted[] = [...held, { subject, batches: events.batches() }].filter((entry) => entry.batches.length > 0);
    let text = JSON.stringify(entries);
    // Over the cap the oldest go first: earlier pages' batches, then this page's oldest (as in the memory queue).
    while (text.length > PERSISTED_MAX_CHARS && entries.length > 0) {
      if (entries.length > 1) entries.shift();
      else entries[0]!.batches.shift();
      text = JSON.stringify(entries);
    }
    if (entries.length === 0) local.remove(queueKey);
    else local.set(queueKey, text);
  };
  // While hidden, changes are written within a second: a burst of events makes one write, not one each.
  let persistTimer: ReturnType<typeof setTimeout> | undefined;
  const persistSoon = () =>
    (persistTimer ??= setTimeout(() => {
      persistTimer = undefined;
      if (hidden && !stopped) persist();
    }, 1_000));
  const clearBuffers = () => {
    generation++;
    early = early && [];
    held = [];
    events.clear();
    replays.clear();
    replay?.rotate();
    for (const key of local.keys(`${prefix}queue:`)) local.remove(key);
  };

  // Set while the page is hidden: the persisted copy then follows every change of the queue.
  let hidden = false;
  const onHide = () => {
    // Before the server's answer nothing was restored yet: writing now would erase the last page's batches.
    // Hidden already (a closing tab fires visibilitychange, then pagehide): what was added since goes too.
    if (stopped || early) return;
    hidden = true;
    const budget = { bytes: UNLOAD_BUDGET_BYTES };
    events.unload(budget);
    replays.unload(budget);
    persist();
  };
  const onVisibility = () => {
    if (win.document.visibilityState === 'hidden') return onHide();
    hidden = false;
    // The page lives on: its memory queue is the truth again, the persisted copy would only be re-sent.
    if (!early) local.remove(queueKey);
  };
  const wake = () => {
    events.wake();
    replays.wake();
  };

  const installCapture = () => {
    const strip = options.stripQueryParams;
    cleanups.push(
      capturePageViews(win, (data) => enqueue('$page-view', data), strip),
      captureClicks(win, (data) => enqueue('$click', data), { maskText: options.maskText ?? true, stripQueryParams: strip }),
      listen(win, 'pagehide', onHide),
      listen(win.document, 'visibilitychange', onVisibility),
      listen(win, 'online', wake),
    );
  };

  const startDelivery = () => {
    const waiting = early ?? [];
    early = undefined;
    void tokens.get();
    held = takePersisted(local, `${prefix}queue:`, now());
    for (const event of waiting) add(event, utf8Length(JSON.stringify(event)));
    if (options.replays) {
      const replayOptions = options.replays === true ? {} : options.replays;
      replay = startReplays({
        store: local,
        storeKey: `${prefix}browser-session`,
        options: replayOptions,
        load: () => env.loadRecorder(replayOptions),
        deliver: (event, bytes, meta, key) => !stopped && replays.add(event, bytes, meta, key),
      });
      cleanups.push(replay.stop);
    }
  };

  let askTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearTimeout(askTimer);
    for (const cleanup of cleanups.splice(0)) cleanup();
    events.stop();
    replays.stop();
  };

  const ask = (attempt: number) =>
    api('/analytics/client-config').then((answer) => {
      if (stopped) return;
      if (answer.outcome === 'retry') return void (askTimer = setTimeout(() => ask(attempt + 1), Math.max(answer.retryAfterMs ?? 0, nextDelay(attempt))));
      if (answer.outcome === 'drop') console.warn('Sightline: keys refused', answer.status);
      state.enabled = answer.outcome === 'sent' && answer.json?.enabled === true;
      if (state.enabled) startDelivery();
      else stop();
    });

  installCapture();
  void ask(0);

  return {
    state,
    stats: events.stats,
    track: (eventType, data = {}) => enqueue(eventType, data),
    flush: () => {
      events.flush();
      replays.flush();
    },
    signOut: () => {
      // The token first: the replay's new snapshot (taken while buffers clear) must wait for the next user's.
      tokens.forget();
      subject = undefined;
      clearBuffers();
    },
    stop,
  };
}

/** One segment id per tab: sessionStorage survives reloads of the tab and is not shared with other tabs. */
function tabSegment(session: Store, prefix: string): string {
  const key = `${prefix}segment`;
  const existing = session.get(key);
  if (existing) return existing;
  const id = uuid();
  session.set(key, id);
  return id;
}

/** Takes (and removes) the batches earlier pages of this browser left unsent, with the user they were for. */
function takePersisted(store: Store, prefix: string, now: number): Persisted[] {
  const out: Persisted[] = [];
  for (const key of store.keys(prefix)) {
    const text = store.get(key);
    store.remove(key);
    try {
      for (const entry of JSON.parse(text!) as Persisted[]) {
        // A tried batch older than the server's dedup window might be stored already: sending it could duplicate.
        const fresh = entry.batches.filter((b) => now - b.createdAt < (b.tried ? PERSISTED_TRIED_MAX_AGE_MS : PERSISTED_MAX_AGE_MS));
        out.push({ subject: entry.subject, batches: fresh });
      }
    } catch {
      // A corrupt entry (not JSON, not the shape written) is dropped with the key.
    }
  }
  return out;
}

/** What the server accepts of a browser event: checked per event, so a bad one cannot get its batch refused. */
function wellFormed({ event_type: type, event_at_ms: at, data }: TrackedEvent): boolean {
  return (
    typeof type === 'string' &&
    (type === '$page-view' || type === '$click' || CUSTOM_EVENT_NAME.test(type)) &&
    Number.isSafeInteger(at) &&
    at >= 0 &&
    typeof data === 'object' &&
    data !== null &&
    !Array.isArray(data) &&
    withinLimits(data)
  );
}

/**
 * Whether `data` keeps to the server's depth and key limits. Keys JSON leaves out (undefined,
 * functions) count too, so it never lets through what the server refuses; a cycle goes past
 * the depth limit and fails.
 */
function withinLimits(data: object): boolean {
  let keys = 0;
  const fits = (value: unknown, depth: number): boolean =>
    !value ||
    typeof value != 'object' ||
    (depth <= MAX_DATA_DEPTH &&
      (Array.isArray(value) || (keys += Object.keys(value).length) <= MAX_DATA_KEYS) &&
      Object.values(value).every((child) => fits(child, depth + 1)));
  return fits(data, 1);
}

function listen(target: EventTarget, type: string, handler: () => void): () => void {
  target.addEventListener(type, handler);
  return () => target.removeEventListener(type, handler);
}
