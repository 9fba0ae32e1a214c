import { createTracker as create, type Tracker, type TrackerOptions } from './tracker.ts';

export type { Tracker, TrackerOptions, TrackedEvent } from './tracker.ts';
export type { ReplayOptions } from './replay-loader.ts';
export type { StripQueryParams } from './privacy.ts';

/**
 * Starts the tracker (ESM build): the recorder chunk is a dynamic import, so
 * bundlers split it off and it is fetched only when a session is recorded.
 *
 * @example
 * import { createTracker } from '@sightline/sdk';
 * createTracker({ projectId, publishableClientKey, baseUrl: 'https://analytics.example.com', anonymous: true });
 */
export function createTracker(options: TrackerOptions): Tracker {
  return create(options, { loadRecorder: () => import('./recorder.ts') });
}
