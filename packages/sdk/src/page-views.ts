import { stripUrl, type StripQueryParams } from './privacy.ts';

export type EntryType = 'initial' | 'push' | 'replace' | 'pop';

export type PageViewData = {
  url: string;
  path: string;
  referrer: string;
  title: string;
  entry_type: EntryType;
  viewport_width: number;
  viewport_height: number;
  screen_width: number;
  screen_height: number;
};

/**
 * Emits `$page-view` now and on every history navigation that changes the URL:
 * `pushState`, `replaceState` (both wrapped) and `popstate` (back/forward, fragment
 * links). The returned function restores `history` and removes the listener. If
 * another script wrapped `history` after us, our wrapper stays in its chain but
 * goes quiet instead of breaking theirs.
 *
 * @example
 * const stop = capturePageViews(window, (data) => enqueue('$page-view', data), undefined);
 */
export function capturePageViews(win: Window, emit: (data: PageViewData) => void, strip: StripQueryParams | undefined): () => void {
  // Read once: `window.history`/`screen` are accessors, and pages or test harnesses may redefine them.
  const history = win.history;
  let active = true;
  let lastUrl: string | undefined;

  const view = (entryType: EntryType) => {
    const href = win.location.href;
    if (!active || href === lastUrl) return;
    const referrer = lastUrl ?? win.document.referrer;
    lastUrl = href;
    const screen = win.screen;
    emit({
      url: stripUrl(href, strip),
      path: win.location.pathname,
      referrer: stripUrl(referrer, strip),
      title: win.document.title,
      entry_type: entryType,
      viewport_width: win.innerWidth,
      viewport_height: win.innerHeight,
      screen_width: screen?.width ?? 0,
      screen_height: screen?.height ?? 0,
    });
  };

  const wrap = (name: 'pushState' | 'replaceState', entryType: EntryType) => {
    const original = history[name];
    const own = history.hasOwnProperty(name);
    const wrapper = function (this: History, ...args: Parameters<History['pushState']>) {
      const result = original.apply(this, args);
      view(entryType);
      return result;
    };
    history[name] = wrapper;
    return () => {
      if (history[name] !== wrapper) return;
      if (own) history[name] = original;
      else delete (history as Partial<History>)[name];
    };
  };

  const unwrapPush = wrap('pushState', 'push');
  const unwrapReplace = wrap('replaceState', 'replace');
  const onPop = () => view('pop');
  win.addEventListener('popstate', onPop);
  view('initial');

  return () => {
    active = false;
    unwrapPush();
    unwrapReplace();
    win.removeEventListener('popstate', onPop);
  };
}
