import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Window } from 'happy-dom';
import { capturePageViews, type PageViewData } from './page-views.ts';

describe('capturePageViews', () => {
  let window: Window;
  let win: globalThis.Window;
  let views: PageViewData[];
  const emit = (data: PageViewData) => void views.push(data);

  beforeEach(() => {
    window = new Window({ url: 'https://shop.example/start?token=abc', width: 800, height: 600 });
    win = window as unknown as globalThis.Window;
    win.document.title = 'Shop';
    views = [];
  });
  afterEach(() => window.happyDOM.close());

  const prototypeOf = () => Object.getPrototypeOf(win.history) as History;
  /** Changes the URL without our wrapper, as the browser does on back/forward, then fires popstate. */
  const browserNavigates = (path: string) => {
    prototypeOf().pushState.call(win.history, null, '', path);
    win.dispatchEvent(new window.PopStateEvent('popstate') as unknown as Event);
  };

  test('initial, push, replace and pop views, each referring to the previous URL', () => {
    const stop = capturePageViews(win, emit, undefined);
    win.history.pushState({}, '', '/b?x=1');
    win.document.title = 'B2';
    win.history.replaceState({}, '', '/b?x=2');
    browserNavigates('/c');
    stop();
    assert.deepEqual(
      views.map((v) => [v.entry_type, v.url, v.path, v.referrer]),
      [
        ['initial', 'https://shop.example/start?token=', '/start', ''],
        ['push', 'https://shop.example/b?x=1', '/b', 'https://shop.example/start?token='],
        ['replace', 'https://shop.example/b?x=2', '/b', 'https://shop.example/b?x=1'],
        ['pop', 'https://shop.example/c', '/c', 'https://shop.example/b?x=2'],
      ],
    );
    assert.equal(views[0]!.title, 'Shop');
    assert.equal(views[2]!.title, 'B2');
    assert.deepEqual([views[0]!.viewport_width, views[0]!.viewport_height], [800, 600]);
  });

  test('pushState still does its job and returns what the original returns', () => {
    const stop = capturePageViews(win, emit, undefined);
    const result = win.history.pushState({ n: 1 }, '', '/next');
    assert.equal(result, undefined);
    assert.equal(win.location.pathname, '/next');
    assert.deepEqual(win.history.state, { n: 1 });
    stop();
  });

  test('the strip option applies to url and referrer', () => {
    const stop = capturePageViews(win, emit, ['x']);
    win.history.pushState({}, '', '/b?x=1&y=2');
    win.history.pushState({}, '', '/c');
    stop();
    assert.equal(views[1]!.url, 'https://shop.example/b?x=&y=2');
    assert.equal(views[2]!.referrer, 'https://shop.example/b?x=&y=2');
  });

  test('a navigation that leaves the URL unchanged is skipped', () => {
    const stop = capturePageViews(win, emit, undefined);
    win.history.pushState({ a: 1 }, '', '/start?token=abc');
    win.history.replaceState({ a: 2 }, '');
    win.dispatchEvent(new window.PopStateEvent('popstate') as unknown as Event);
    win.history.pushState({}, '', '/start?token=abc#part');
    stop();
    assert.deepEqual(
      views.map((v) => v.entry_type),
      ['initial', 'push'],
    );
  });

  test('stop() restores the inherited pushState/replaceState and removes the popstate listener', () => {
    const inheritedPush = win.history.pushState;
    const inheritedReplace = win.history.replaceState;
    assert.equal(Object.hasOwn(win.history, 'pushState'), false);
    const stop = capturePageViews(win, emit, undefined);
    assert.notEqual(win.history.pushState, inheritedPush);
    stop();
    assert.equal(Object.hasOwn(win.history, 'pushState'), false);
    assert.equal(Object.hasOwn(win.history, 'replaceState'), false);
    assert.equal(win.history.pushState, inheritedPush);
    assert.equal(win.history.replaceState, inheritedReplace);
    win.history.pushState({}, '', '/after');
    browserNavigates('/popped');
    assert.equal(views.length, 1);
  });

  test('stop() puts back a pushState that was an own property', () => {
    const calls: unknown[] = [];
    const inherited = prototypeOf().pushState;
    const own = function (this: History, ...args: Parameters<History['pushState']>) {
      calls.push(args[2]);
      return inherited.apply(this, args);
    };
    win.history.pushState = own;
    const stop = capturePageViews(win, emit, undefined);
    win.history.pushState({}, '', '/x');
    stop();
    assert.equal(Object.hasOwn(win.history, 'pushState'), true);
    assert.equal(win.history.pushState, own);
    assert.deepEqual(calls, ['/x']);
    assert.deepEqual(
      views.map((v) => v.entry_type),
      ['initial', 'push'],
    );
  });

  test("a wrapper installed by another script after ours survives our stop; ours goes quiet", () => {
    const stop = capturePageViews(win, emit, undefined);
    const ours = win.history.pushState;
    let theirs = 0;
    const wrapper = function (this: History, ...args: Parameters<History['pushState']>) {
      theirs++;
      return ours.apply(this, args);
    };
    win.history.pushState = wrapper;
    win.history.pushState({}, '', '/one');
    stop();
    assert.equal(win.history.pushState, wrapper);
    win.history.pushState({}, '', '/two');
    assert.equal(theirs, 2);
    assert.equal(win.location.pathname, '/two');
    assert.deepEqual(
      views.map((v) => v.path),
      ['/start', '/one'],
    );
  });

  test('works when window.history and window.screen are accessor properties', () => {
    const history = win.history;
    let historyReads = 0;
    Object.defineProperty(win, 'history', {
      configurable: true,
      get: () => (historyReads++, history),
    });
    Object.defineProperty(win, 'screen', {
      configurable: true,
      get: () => ({ width: 1920, height: 1080 }),
    });
    const stop = capturePageViews(win, emit, undefined);
    history.pushState({}, '', '/b');
    stop();
    assert.equal(historyReads, 1);
    assert.deepEqual(
      views.map((v) => [v.entry_type, v.screen_width, v.screen_height]),
      [
        ['initial', 1920, 1080],
        ['push', 1920, 1080],
      ],
    );
    assert.equal(Object.hasOwn(history, 'pushState'), false);
  });

  test('a missing screen reads as 0 × 0', () => {
    Object.defineProperty(win, 'screen', { configurable: true, get: () => undefined });
    const stop = capturePageViews(win, emit, undefined);
    stop();
    assert.deepEqual([views[0]!.screen_width, views[0]!.screen_height], [0, 0]);
  });
});
