import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { createDelivery, type Batch, type DeliveryOptions } from './delivery.ts';
import type { Attempt } from './retry.ts';

type Meta = { segment: string };

/** One call of the injected `send`, answered by the test. */
type Call = { id: string; items: unknown[]; keepalive: boolean; batch: Batch<Meta>; answer: (attempt: Attempt) => Promise<void> };

/** Lets the promise callbacks of answered sends run (setImmediate is not mocked). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** An item whose JSON is exactly `bytes` long (the unload splitter measures JSON). */
const item = (tag: string, bytes = 100) => tag.padEnd(bytes - 2, '.');
const tags = (items: unknown[]) => items.map((i) => String(i).replace(/\.+$/, ''));

function harness(overrides: Partial<DeliveryOptions<Meta>> = {}) {
  const calls: Call[] = [];
  let online = true;
  const delivery = createDelivery<Meta>({
    // Like the tracker's sender: the batch is marked tried as it goes on the wire.
    send: (batch, keepalive) =>
      new Promise<Attempt>((resolve) => {
        batch.tried = true;
        calls.push({
          id: batch.id,
          items: [...batch.items],
          keepalive,
          batch,
          answer: (attempt) => (resolve(attempt), settle()),
        });
      }),
    maxItems: 5,
    maxBytes: 1_000,
    intervalMs: 10_000,
    pieceBytes: 300,
    maxQueuedBytes: 100_000,
    maxItemBytes: 5_000,
    isOnline: () => online,
    random: () => 0,
    ...overrides,
  });
  const add = (tag: string, bytes = 100, key = 's1') => delivery.add(item(tag, bytes), bytes, { segment: key }, key);
  return {
    delivery,
    calls,
    add,
    setOnline: (value: boolean) => void (online = value),
    last: () => calls[calls.length - 1]!,
  };
}

describe('createDelivery', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  describe('cutting batches', () => {
    test('at maxItems', () => {
      const h = harness();
      for (const tag of ['a', 'b', 'c', 'd']) h.add(tag);
      assert.equal(h.calls.length, 0);
      h.add('e');
      assert.equal(h.calls.length, 1);
      assert.deepEqual(tags(h.calls[0]!.items), ['a', 'b', 'c', 'd', 'e']);
      assert.equal(h.calls[0]!.keepalive, false);
      assert.equal(h.calls[0]!.batch.bytes, 500);
    });

    test('at maxBytes: reaching it cuts, overflowing it sends what came before', () => {
      const h = harness();
      h.add('big', 1_000);
      assert.deepEqual(tags(h.last().items), ['big']);

      const g = harness();
      g.add('a', 600);
      g.add('b', 300);
      assert.equal(g.calls.length, 0);
      g.add('c', 200); // 1100 > 1000: [a, b] is a batch and goes now, c starts the next one
      assert.equal(g.calls.length, 1);
      assert.deepEqual(tags(g.calls[0]!.items), ['a', 'b']);
      assert.deepEqual(
        g.delivery.batches().map((b) => tags(b.items)),
        [['a', 'b'], ['c']],
      );
    });

    test('at the interval after the first item', async () => {
      const h = harness();
      h.add('a');
      mock.timers.tick(4_000);
      h.add('b');
      mock.timers.tick(5_999);
      assert.equal(h.calls.length, 0);
      mock.timers.tick(1);
      assert.equal(h.calls.length, 1);
      assert.deepEqual(tags(h.last().items), ['a', 'b']);
      assert.equal(h.last().batch.createdAt, 1_010_000);
      // The next item starts a new interval.
      await h.last().answer({ outcome: 'sent' });
      h.add('c');
      mock.timers.tick(9_999);
      assert.equal(h.calls.length, 1);
      mock.timers.tick(1);
      assert.deepEqual(tags(h.last().items), ['c']);
    });

    test('flush() cuts and sends at once', () => {
      const h = harness();
      h.add('a');
      h.delivery.flush();
      assert.deepEqual(tags(h.last().items), ['a']);
    });

    test('a key change closes the current batch, each batch with its own meta', async () => {
      const h = harness();
      h.add('a', 100, 'one');
      h.add('b', 100, 'one');
      h.add('c', 100, 'two');
      assert.equal(h.calls.length, 1);
      assert.deepEqual(tags(h.calls[0]!.items), ['a', 'b']);
      assert.deepEqual(h.calls[0]!.batch.meta, { segment: 'one' });
      await h.calls[0]!.answer({ outcome: 'sent' });
      h.delivery.flush();
      assert.deepEqual(tags(h.last().items), ['c']);
      assert.deepEqual(h.last().batch.meta, { segment: 'two' });
    });

    test('an item above maxItemBytes is dropped and counted', () => {
      const h = harness();
      h.add('huge', 5_001);
      h.delivery.flush();
      assert.equal(h.calls.length, 0);
      assert.equal(h.delivery.stats.dropped, 1);
    });
  });

  describe('sending', () => {
    test('only one request in flight; the next batch goes when it is answered', async () => {
      const h = harness({ maxItems: 1 });
      h.add('a');
      h.add('b');
      h.add('c');
      assert.equal(h.calls.length, 1);
      mock.timers.tick(60_000);
      assert.equal(h.calls.length, 1);
      await h.calls[0]!.answer({ outcome: 'sent' });
      assert.equal(h.calls.length, 2);
      assert.deepEqual(tags(h.calls[1]!.items), ['b']);
      await h.calls[1]!.answer({ outcome: 'sent' });
      await h.calls[2]!.answer({ outcome: 'sent' });
      assert.deepEqual(h.calls.map((c) => tags(c.items)[0]), ['a', 'b', 'c']);
      assert.deepEqual(h.delivery.stats, { sent: 3, dropped: 0 });
      assert.deepEqual(h.delivery.batches(), []);
    });

    test("'retry' sends the same batch id again after a growing backoff", async () => {
      const h = harness({ maxItems: 1 });
      h.add('a');
      h.add('b');
      const id = h.calls[0]!.id;
      // random() = 0: the low end of each jitter range, 500, 1000, 2000, 4000 ms.
      for (const delay of [500, 1_000, 2_000, 4_000]) {
        await h.last().answer({ outcome: 'retry' });
        const before = h.calls.length;
        mock.timers.tick(delay - 1);
        assert.equal(h.calls.length, before, `not before ${delay} ms`);
        mock.timers.tick(1);
        assert.equal(h.calls.length, before + 1, `after ${delay} ms`);
        assert.equal(h.last().id, id);
        assert.deepEqual(tags(h.last().items), ['a']);
      }
      await h.last().answer({ outcome: 'sent' });
      assert.deepEqual(tags(h.last().items), ['b']);
      assert.notEqual(h.last().id, id);
      // Success resets the backoff: the next failure waits 500 ms again.
      await h.last().answer({ outcome: 'retry' });
      const before = h.calls.length;
      mock.timers.tick(500);
      assert.equal(h.calls.length, before + 1);
      assert.deepEqual(h.delivery.stats, { sent: 1, dropped: 0 });
    });

    test('the jitter comes from the injected random', async () => {
      const h = harness({ random: () => 1 });
      h.add('a');
      h.delivery.flush();
      await h.last().answer({ outcome: 'retry' });
      mock.timers.tick(999);
      assert.equal(h.calls.length, 1);
      mock.timers.tick(1);
      assert.equal(h.calls.length, 2);
    });

    test('Retry-After is honoured instead of the backoff', async () => {
      const h = harness();
      h.add('a');
      h.delivery.flush();
      await h.last().answer({ outcome: 'retry', retryAfterMs: 7_000 });
      mock.timers.tick(6_999);
      assert.equal(h.calls.length, 1);
      mock.timers.tick(1);
      assert.equal(h.calls.length, 2);
      assert.equal(h.calls[1]!.id, h.calls[0]!.id);
    });

    test("'drop' removes the batch without retrying and counts its items", async () => {
      const h = harness({ maxItems: 2 });
      h.add('a');
      h.add('b');
      h.add('c');
      h.add('d');
      await h.calls[0]!.answer({ outcome: 'drop' });
      assert.equal(h.calls.length, 2);
      assert.deepEqual(tags(h.calls[1]!.items), ['c', 'd']);
      await h.calls[1]!.answer({ outcome: 'sent' });
      mock.timers.tick(120_000);
      assert.equal(h.calls.length, 2);
      assert.deepEqual(h.delivery.stats, { sent: 2, dropped: 2 });
      assert.deepEqual(h.delivery.batches(), []);
    });

    test("'wait' (no token) polls at the batching interval without growing", async () => {
      const h = harness();
      h.add('a');
      h.delivery.flush();
      for (let i = 0; i < 4; i++) {
        await h.last().answer({ outcome: 'wait' });
        const before = h.calls.length;
        mock.timers.tick(9_999);
        assert.equal(h.calls.length, before);
        mock.timers.tick(1);
        assert.equal(h.calls.length, before + 1);
      }
      assert.equal(new Set(h.calls.map((c) => c.id)).size, 1);
      assert.deepEqual(h.delivery.stats, { sent: 0, dropped: 0 });
    });

    test('offline pauses sending; wake() resumes', () => {
      const h = harness({ maxItems: 1 });
      h.setOnline(false);
      h.add('a');
      h.add('b');
      mock.timers.tick(120_000);
      assert.equal(h.calls.length, 0);
      h.setOnline(true);
      h.delivery.wake();
      assert.equal(h.calls.length, 1);
      assert.deepEqual(tags(h.last().items), ['a']);
    });

    test('wake() cuts a retry wait short', async () => {
      const h = harness();
      h.add('a');
      h.delivery.flush();
      await h.last().answer({ outcome: 'retry', retryAfterMs: 60_000 });
      h.delivery.wake();
      assert.equal(h.calls.length, 2);
      assert.equal(h.calls[1]!.id, h.calls[0]!.id);
      // The cancelled timer does not send a second copy later.
      mock.timers.tick(60_000);
      assert.equal(h.calls.length, 2);
    });

    test('the bounded queue drops the oldest batches and counts their items', () => {
      const h = harness({ maxItems: 2, maxQueuedBytes: 700 });
      h.setOnline(false);
      for (const tag of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) h.add(tag);
      // Four batches of 200 bytes; 800 > 700, so [a, b] went.
      assert.deepEqual(
        h.delivery.batches().map((b) => tags(b.items)),
        [['c', 'd'], ['e', 'f'], ['g', 'h']],
      );
      assert.equal(h.delivery.stats.dropped, 2);
    });

    test('the bounded queue never drops the batch in flight', () => {
      const h = harness({ maxItems: 2, maxQueuedBytes: 500 });
      for (const tag of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) h.add(tag);
      assert.equal(h.calls.length, 1);
      const left = h.delivery.batches().map((b) => tags(b.items));
      assert.deepEqual(left[0], ['a', 'b']);
      assert.deepEqual(left.at(-1), ['g', 'h']);
      assert.ok(left.length <= 2, JSON.stringify(left));
      assert.equal(h.delivery.stats.dropped, 8 - 2 * left.length);
    });
  });

  describe('unload', () => {
    test('offline: nothing is sent, and nothing is marked tried (it keeps its 24 hours when persisted)', () => {
      const h = harness({ maxItems: 2 });
      h.setOnline(false);
      for (const tag of ['a', 'b', 'c']) h.add(tag);
      h.delivery.unload({ bytes: 64_000 });
      assert.equal(h.calls.length, 0);
      assert.deepEqual(h.delivery.batches().map((b) => [tags(b.items), b.tried ?? false]), [[['a', 'b'], false], [['c'], false]]);
    });

    test('re-splits never-tried batches into keepalive pieces of at most pieceBytes, with new ids', () => {
      const h = harness({ maxItems: 100 });
      h.setOnline(false);
      for (let i = 0; i < 10; i++) h.add(`i${i}`);
      const [whole] = h.delivery.batches();
      assert.equal(whole!.bytes, 1_000);
      h.setOnline(true);
      h.delivery.unload({ bytes: 64_000 });
      assert.ok(h.calls.length >= 4, `${h.calls.length} pieces`);
      for (const call of h.calls) {
        assert.equal(call.keepalive, true);
        assert.ok(call.batch.bytes <= 300, `${call.batch.bytes} bytes`);
        assert.notEqual(call.id, whole!.id);
        assert.deepEqual(call.batch.meta, whole!.meta);
      }
      assert.equal(new Set(h.calls.map((c) => c.id)).size, h.calls.length);
      assert.deepEqual(tags(h.calls.flatMap((c) => c.items)), tags(whole!.items));
    });

    test('a batch that was tried keeps its id and is sent whole', () => {
      const h = harness();
      for (const tag of ['a', 'b', 'c', 'd', 'e']) h.add(tag); // 500 bytes, in flight
      const id = h.calls[0]!.id;
      h.setOnline(true);
      h.delivery.unload({ bytes: 64_000 });
      assert.equal(h.calls.length, 2);
      assert.equal(h.calls[1]!.id, id);
      assert.equal(h.calls[1]!.keepalive, true);
      assert.deepEqual(tags(h.calls[1]!.items), ['a', 'b', 'c', 'd', 'e']);
    });

    test('a second unload (hidden, then pagehide) sends only what a keepalive is not already carrying', async () => {
      const h = harness({ maxItems: 2 });
      const keepalives = () => h.calls.filter((c) => c.keepalive);
      h.setOnline(false);
      for (const tag of ['a', 'b']) h.add(tag);
      h.setOnline(true);
      h.delivery.unload({ bytes: 64_000 });
      assert.deepEqual(keepalives().map((c) => tags(c.items)), [['a', 'b']]);
      h.add('c'); // tracked while hidden
      h.delivery.unload({ bytes: 64_000 });
      assert.deepEqual(keepalives().map((c) => tags(c.items)), [['a', 'b'], ['c']]);
      // A keepalive send that failed leaves its batch to the next unload.
      await keepalives()[1]!.answer({ outcome: 'retry' });
      h.delivery.unload({ bytes: 64_000 });
      assert.deepEqual(keepalives().map((c) => tags(c.items)), [['a', 'b'], ['c'], ['c']]);
    });

    test('sends in order until the budget is spent; the rest stays queued', () => {
      const h = harness({ maxItems: 2 });
      h.setOnline(false);
      for (const tag of ['a', 'b', 'c', 'd', 'e']) h.add(tag);
      // Each piece costs its items and the request envelope (256 bytes).
      const budget = { bytes: 2 * (200 + 256) + 50 };
      h.setOnline(true);
      h.delivery.unload(budget);
      assert.deepEqual(
        h.calls.map((c) => tags(c.items)),
        [['a', 'b'], ['c', 'd']],
      );
      assert.equal(budget.bytes, 50);
      assert.deepEqual(
        h.delivery.batches().map((b) => tags(b.items)),
        [['a', 'b'], ['c', 'd'], ['e']],
      );
    });

    test('a batch that does not fit stops the sending, even if a later one would fit', () => {
      const h = harness({ maxItems: 3, pieceBytes: 300 });
      h.setOnline(false);
      for (const tag of ['a', 'b', 'c']) h.add(tag); // 300 bytes
      h.add('d');
      h.setOnline(true);
      h.delivery.unload({ bytes: 300 + 256 - 1 });
      assert.equal(h.calls.length, 0);
    });

    test('pieces answered sent leave the queue; others stay, marked tried', async () => {
      const h = harness({ maxItems: 2 });
      h.setOnline(false);
      for (const tag of ['a', 'b', 'c', 'd']) h.add(tag);
      h.setOnline(true);
      h.delivery.unload({ bytes: 64_000 });
      await h.calls[0]!.answer({ outcome: 'sent' });
      await h.calls[1]!.answer({ outcome: 'retry' });
      const left = h.delivery.batches();
      assert.deepEqual(left.map((b) => [tags(b.items), b.tried]), [[['c', 'd'], true]]);
      assert.equal(left[0]!.id, h.calls[1]!.id);
      assert.equal(h.delivery.stats.sent, 2);
    });
  });

  describe('persistence and reset', () => {
    test('batches() and restore() round-trip ids, items and meta, in front of newer batches', async () => {
      const first = harness({ maxItems: 2 });
      first.setOnline(false);
      for (const tag of ['a', 'b', 'c']) first.add(tag);
      const saved = JSON.parse(JSON.stringify(first.delivery.batches())) as Batch<Meta>[];
      assert.deepEqual(
        saved.map((b) => tags(b.items)),
        [['a', 'b'], ['c']],
      );

      const second = harness({ maxItems: 1 });
      second.setOnline(false);
      second.add('z');
      second.delivery.restore(saved);
      assert.deepEqual(
        second.delivery.batches().map((b) => b.id).slice(0, 2),
        saved.map((b) => b.id),
      );
      second.setOnline(true);
      second.delivery.wake();
      for (let i = 0; i < 3; i++) await second.last().answer({ outcome: 'sent' });
      assert.deepEqual(
        second.calls.map((c) => c.id).slice(0, 2),
        saved.map((b) => b.id),
      );
      assert.deepEqual(
        second.calls.map((c) => tags(c.items)),
        [['a', 'b'], ['c'], ['z']],
      );
      assert.deepEqual(second.calls[0]!.batch.meta, { segment: 's1' });
    });

    test('clear() forgets pending items, queued batches and timers', async () => {
      const h = harness({ maxItems: 2 });
      h.add('a');
      h.add('b'); // in flight
      h.add('c');
      h.add('d'); // queued
      h.add('e'); // pending, cut timer running
      await h.calls[0]!.answer({ outcome: 'retry' }); // retry timer running
      h.delivery.clear();
      assert.deepEqual(h.delivery.batches(), []);
      mock.timers.tick(120_000);
      assert.equal(h.calls.length, 1);
      h.add('f');
      h.delivery.flush();
      assert.deepEqual(tags(h.last().items), ['f']);
    });

    test('an answer for a batch cleared while in flight neither counts nor delays the next batch', async () => {
      const h = harness();
      h.add('a');
      h.delivery.flush();
      h.delivery.clear();
      h.add('b');
      h.delivery.flush();
      assert.equal(h.calls.length, 1); // still one request in flight
      await h.calls[0]!.answer({ outcome: 'retry' });
      assert.equal(h.calls.length, 2);
      assert.deepEqual(tags(h.last().items), ['b']);
      await h.last().answer({ outcome: 'sent' });
      assert.deepEqual(h.delivery.stats, { sent: 1, dropped: 0 });
    });

    test('stop() sends nothing more', async () => {
      const h = harness();
      h.add('a');
      h.delivery.flush();
      h.delivery.stop();
      await h.calls[0]!.answer({ outcome: 'retry' });
      h.add('b');
      h.delivery.flush();
      mock.timers.tick(120_000);
      assert.equal(h.calls.length, 1);
    });
  });
});
