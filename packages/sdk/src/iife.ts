import type { RecorderModule } from './replay-loader.ts';
import { createTracker as create, type Tracker, type TrackerOptions } from './tracker.ts';

declare global {
  interface Window {
    Sightline?: { createTracker(options: TrackerOptions): Tracker };
    /** Set by `sightline-recorder.iife.js` when it has loaded. */
    __sightlineRecorder?: RecorderModule;
  }
}

/** The recorder script sits next to this one unless `replays.recorderUrl` says otherwise. */
const scriptSrc = (document.currentScript as HTMLScriptElement | null)?.src ?? '';
let loading: Promise<RecorderModule> | undefined;

/** Loads `sightline-recorder.iife.js` once per page with a script tag (an IIFE build has no dynamic import). */
function loadRecorder(url: string): Promise<RecorderModule> {
  return (loading ??= new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = url;
    // Loaded or not, the script has run its course: the recorder is there, or replay stays off.
    script.onload = script.onerror = () => (window.__sightlineRecorder ? resolve(window.__sightlineRecorder) : reject(Error(url)));
    document.head.appendChild(script);
  }));
}

window.Sightline = {
  createTracker: (options) =>
    create(options, {
      loadRecorder: (replays) => loadRecorder(replays.recorderUrl ?? scriptSrc.replace(/[^/]*$/, 'sightline-recorder.iife.js')),
    }),
};
