import { utf8Length, uuid } from './ids.ts';
import { nextDelay, type Attempt } from './retry.ts';

/**
 * Items sent together under one id. The id never changes once the batch exists:
 * every retry, the unload send and a re-send after a reload carry it, and the
 * server keeps one copy per id.
 */
export type Batch<M> = {
  id: string;
  /** What the whole batch shares (segment id, browser session…). */
  meta: M;
  items: unknown[];
  bytes: number;
  createdAt: number;
  /** Some attempt may have reached the server: set by `send` right before it goes on the wire. */
  tried?: boolean;
  /** An access token was refused once for this batch. */
  authRetried?: boolean;
};

/** A batch body's fixed part: ids, times and the JSON around the items (headers are not counted by browsers). */
const ENVELOPE_BYTES = 256;

export type DeliveryOptions<M> = {
  /**
   * Posts one batch; never rejects. Sets `batch.tried` before the request leaves (not when it
   * answers 'wait' without sending). `keepalive` is set for sends while the page goes away.
   */
  send: (batch: Batch<M>, keepalive: boolean) => Promise<Attempt>;
  /** Cut a batch at this many items… */
  maxItems: number;
  /** …or this many bytes… */
  maxBytes: number;
  /** …or this long after its first item. */
  intervalMs: number;
  /** Largest body of one send while the page goes away (browsers cap keepalive bodies at 64 KiB in total). */
  pieceBytes: number;
  /** Bound on everything waiting; beyond it the oldest batches are dropped (and counted). */
  maxQueuedBytes: number;
  /** Largest single item accepted at all (the server's body limit). */
  maxItemBytes: number;
  isOnline?: () => boolean;
  /** Called when a batch left the queue (stored or refused), e.g. to update a persisted copy. */
  onChange?: () => void;
  now?: () => number;
  random?: () => number;
};

export type Delivery<M> = {
  /** Adds an item; a change of `key` (e.g. a new browser session) closes the current batch. */
  add(item: unknown, bytes: number, meta: M, key: string): void;
  /** Closes the current batch now and sends what is waiting. */
  flush(): void;
  /** Sends now if a retry or a lack of token was waiting (the browser came back online, a user signed in). */
  wake(): void;
  /**
   * The page is going away: close the current batch and send pieces of at most
   * `pieceBytes` with keepalive until `budget.bytes` is spent. Returns nothing;
   * what did not fit stays queued (and persisted by the caller).
   */
  unload(budget: { bytes: number }): void;
  /** Every batch not known to be stored, oldest first (the items still being gathered are closed into a batch first, so they get their id now). */
  batches(): Batch<M>[];
  /** Puts batches from an earlier page back in front of the queue. */
  restore(batches: Batch<M>[]): void;
  /** Forgets everything (sign-out). */
  clear(): void;
  stop(): void;
  readonly stats: { sent: number; dropped: number };
};

/**
 * A batching queue with one request in flight, jittered exponential backoff on
 * network errors and 5xx, and a bounded backlog. It knows nothing about HTTP:
 * `send` is injected (and so are time and randomness, for tests).
 *
 * @example
 * const events = createDelivery({ send, maxItems: 50, maxBytes: 60_000, intervalMs: 10_000,
 *   pieceBytes: 60_000, maxQueuedBytes: 1_000_000, maxItemBytes: 900_000 });
 * events.add({ event_type: '$click' }, 120, { segment }, segment);
 */
export function createDelivery<M>({
  send,
  maxItems,
  maxBytes,
  intervalMs,
  pieceBytes,
  maxQueuedBytes,
  maxItemBytes,
  isOnline,
  onChange,
  now = Date.now,
  random,
}: DeliveryOptions<M>): Delivery<M> {
  let pending: unknown[] = [];
  let pendingBytes = 0;
  let pendingMeta: M | undefined;
  let pendingKey = '';
  let queue: Batch<M>[] = [];
  let inFlight: Batch<M> | undefined;
  let attempt = 0;
  let cutTimer: ReturnType<typeof setTimeout> | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const stats = { sent: 0, dropped: 0 };
  /** Batches a keepalive send is carrying right now. */
  const unloading = new WeakSet<Batch<M>>();

  const remove = (batch: Batch<M>) => {
    queue = queue.filter((b) => b !== batch);
    onChange?.();
  };

  const close = () => {
    clearTimeout(cutTimer);
    cutTimer = undefined;
    if (pending.length === 0) return;
    queue.push({ id: uuid(), meta: pendingMeta as M, items: pending, bytes: pendingBytes, createdAt: now() });
    pending = [];
    pendingBytes = 0;
    let queued = queue.reduce((sum, b) => sum + b.bytes, 0);
    while (queued > maxQueuedBytes && queue.length > 1) {
      const oldest = queue.find((b) => b !== inFlight)!;
      remove(oldest);
      queued -= oldest.bytes;
      stats.dropped += oldest.items.length;
    }
  };

  const schedule = (ms: number) => {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      pump();
    }, ms);
  };

  const pump = () => {
    if (stopped || inFlight || retryTimer || queue.length === 0) return;
    if (isOnline && !isOnline()) return;
    const batch = queue[0]!;
    inFlight = batch;
    send(batch, false).then(({ outcome, retryAfterMs }) => {
      inFlight = undefined;
      if (stopped) return;
      // A batch gone meanwhile (cleared, or stored by an unload send) says nothing about the next one.
      if (queue.includes(batch)) {
        // Waiting for a token is not a failure: poll at the batching interval, no backoff growth.
        if (outcome === 'wait') return schedule(intervalMs);
        // Retry-After is a floor, not a replacement: a proxy answering `0` must not cause a tight loop.
        if (outcome === 'retry') return schedule(Math.max(retryAfterMs ?? 0, nextDelay(attempt++, random)));
        remove(batch);
        stats[outcome === 'sent' ? 'sent' : 'dropped'] += batch.items.length;
      }
      attempt = 0;
      pump();
    });
  };

  const flush = () => {
    close();
    pump();
  };

  const clear = () => {
    clearTimeout(cutTimer);
    clearTimeout(retryTimer);
    cutTimer = retryTimer = undefined;
    pending = [];
    pendingBytes = 0;
    queue = [];
    attempt = 0;
  };

  /** Pieces of at most `pieceBytes`; a batch that may already be stored (or is being sent) keeps its id and is never re-cut. */
  const pieces = (batch: Batch<M>): Batch<M>[] => {
    if (batch.tried || batch === inFlight || batch.bytes <= pieceBytes || batch.items.length === 1) return [batch];
    const out: Batch<M>[] = [];
    let current: Batch<M> | undefined;
    for (const item of batch.items) {
      const bytes = utf8Length(JSON.stringify(item));
      if (!current || (current.bytes + bytes > pieceBytes && current.items.length > 0)) {
        current = { id: uuid(), meta: batch.meta, items: [], bytes: 0, createdAt: batch.createdAt };
        out.push(current);
      }
      current.items.push(item);
      current.bytes += bytes;
    }
    return out;
  };

  return {
    stats,
    add(item, bytes, meta, key) {
      if (stopped) return;
      if (bytes > maxItemBytes) {
        stats.dropped++;
        return;
      }
      if (pending.length > 0 && (key !== pendingKey || pendingBytes + bytes > maxBytes)) close();
      pending.push(item);
      pendingBytes += bytes;
      pendingMeta = meta;
      pendingKey = key;
      if (pending.length >= maxItems || pendingBytes >= maxBytes) close();
      else cutTimer ??= setTimeout(flush, intervalMs);
      // A batch closed above (limit reached, a key change, an overflow) goes now.
      pump();
    },
    flush,
    wake() {
      if (!retryTimer) return pump();
      clearTimeout(retryTimer);
      retryTimer = undefined;
      pump();
    },
    unload(budget) {
      close();
      // Offline, a keepalive send can only fail, and would mark batches tried for nothing.
      if (isOnline && !isOnline()) return;
      queue = queue.flatMap(pieces);
      for (const batch of [...queue]) {
        // Already on its way from an earlier unload (hidden, then pagehide): not twice.
        if (unloading.has(batch)) continue;
        // The request's envelope (ids, times, keys) counts against the browser's keepalive budget too.
        const cost = batch.bytes + ENVELOPE_BYTES;
        if (cost > budget.bytes) break;
        budget.bytes -= cost;
        unloading.add(batch);
        send(batch, true).then(({ outcome }) => {
          unloading.delete(batch);
          if (outcome !== 'sent' || !queue.includes(batch)) return;
          remove(batch);
          stats.sent += batch.items.length;
        });
      }
    },
    batches: () => {
      close();
      return [...queue];
    },
    restore(batches) {
      queue = [...batches, ...queue];
      pump();
    },
    clear,
    stop() {
      clear();
      stopped = true;
    },
  };
}
