import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IDLE_ROTATION_MS, startReplays, type RecorderOptions, type ReplayMeta } from './replay-loader.ts';
import { memoryStore } from './store.ts';

/**
 * The loader's decisions with a stand-in recorder (the real rrweb recorder is
 * exercised in Chromium by e2e/sdk-delivery.test.ts): which session each event
 * belongs to, idle rotation with a fresh full snapshot, sampling, lazy loading.
 */
function harness(options: { sampleRate?: number; random?: number; stored?: object } = {}) {
  let clock = 1_000_000;
  const store = memoryStore();
  if (options.stored) store.set('bs', JSON.stringify(options.stored));
  const delivered: { event: unknown; meta: ReplayMeta; key: string }[] = [];
  let recorder: RecorderOptions | undefined;
  let snapshots = 0;
  let loads = 0;
  const replay = startReplays({
    store,
    storeKey: 'bs',
    options: { sampleRate: options.sampleRate, blockSelector: '.secret' },
    load: async () => {
      loads++;
      return {
        startRecorder: (o) => {
          recorder = o;
          return { stop: () => (recorder = undefined), snapshot: () => snapshots++ };
        },
      };
    },
    deliver: (event, _bytes, meta, key) => delivered.push({ event, meta, key }),
    now: () => clock,
    random: () => options.random ?? 0,
  });
  return {
    store,
    delivered,
    stop: replay.stop,
    rotate: replay.rotate,
    get loads() {
      return loads;
    },
    get snapshots() {
      return snapshots;
    },
    recorder: async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return recorder;
    },
    advance: (ms: number) => (clock += ms),
  };
}

test("events carry the browser session; the recorder gets the app's replay options", async () => {
  const h = harness();
  const recorder = (await h.recorder())!;
  assert.equal(recorder.blockSelector, '.secret');
  recorder.emit({ type: 2 });
  recorder.emit({ type: 3 });
  assert.equal(h.delivered.length, 2);
  const session = JSON.parse(h.store.get('bs')!);
  assert.equal(h.delivered[0]!.meta.browserSessionId, session.id);
  assert.equal(h.delivered[0]!.key, session.id);
  assert.equal(h.delivered[0]!.meta.startedAt, session.startedAt);
});

test('after 3 idle minutes a new browser session starts with a full snapshot', async () => {
  const h = harness();
  const recorder = (await h.recorder())!;
  recorder.emit({ type: 3, n: 1 });
  h.advance(IDLE_ROTATION_MS - 1);
  recorder.emit({ type: 3, n: 2 }); // still the same session
  h.advance(IDLE_ROTATION_MS + 1);
  recorder.emit({ type: 3, n: 3 }); // opens a new session: dropped, a snapshot follows
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(h.snapshots, 1);
  recorder.emit({ type: 2, n: 4 });
  const ids = h.delivered.map((d) => d.meta.browserSessionId);
  assert.deepEqual(h.delivered.map((d) => (d.event as { n: number }).n), [1, 2, 4]);
  assert.equal(ids[0], ids[1]);
  assert.notEqual(ids[1], ids[2]);
  assert.equal(JSON.parse(h.store.get('bs')!).id, ids[2]);
});

test('a session another tab kept alive is joined, not rotated', async () => {
  const h = harness({ stored: { id: 'shared', startedAt: 5, lastActiveAt: 1_000_000 - 1_000, sampled: true } });
  const recorder = (await h.recorder())!;
  recorder.emit({ type: 2 });
  assert.equal(h.delivered[0]!.meta.browserSessionId, 'shared');
  assert.equal(h.delivered[0]!.meta.startedAt, 5);
});

test('an unsampled session never loads the recorder chunk', async () => {
  const h = harness({ sampleRate: 0.25, random: 0.5 });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(h.loads, 0);
  assert.equal(JSON.parse(h.store.get('bs')!).sampled, false);
  const sampled = harness({ sampleRate: 0.25, random: 0.1 });
  assert.ok(await sampled.recorder());
  assert.equal(sampled.loads, 1);
});

test('stop() stops the recorder, also when it arrives after stop', async () => {
  const h = harness();
  h.stop();
  assert.equal(await h.recorder(), undefined);
  const running = harness();
  assert.ok(await running.recorder());
  running.stop();
  assert.equal(await running.recorder(), undefined);
});

test('rotate() (sign-out, another user) starts a new browser session at once, with a full snapshot', async () => {
  const h = harness();
  const recorder = (await h.recorder())!;
  recorder.emit({ type: 2, n: 1 });
  h.advance(1_000);
  h.rotate();
  assert.equal(h.snapshots, 1);
  recorder.emit({ type: 2, n: 2 }); // the snapshot rotate() asked for
  const [before, after] = h.delivered.map((d) => d.meta);
  assert.notEqual(after!.browserSessionId, before!.browserSessionId);
  assert.equal(after!.startedAt, before!.startedAt + 1_000);
  assert.equal(JSON.parse(h.store.get('bs')!).id, after!.browserSessionId);
});

test('rotate() before the recorder chunk arrived: the new session begins with its first snapshot', async () => {
  const h = harness();
  const first = JSON.parse(h.store.get('bs')!).id;
  h.rotate();
  const recorder = (await h.recorder())!;
  recorder.emit({ type: 2 });
  assert.equal(h.snapshots, 0);
  assert.notEqual(h.delivered[0]!.meta.browserSessionId, first);
});
