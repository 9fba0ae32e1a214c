import { uuid, utf8Length } from './ids.ts';
import type { Store } from './store.ts';

export type ReplayOptions = {
  /** Share of browser sessions recorded, 0–1 (default 1). */
  sampleRate?: number;
  /** Mask every input's value (default true; password fields are always masked). */
  maskAllInputs?: boolean;
  /** Elements with this class are replaced by a placeholder. */
  blockClass?: string;
  /** Elements matching this selector are replaced by a placeholder (`[data-sightline-no-capture]` always is). */
  blockSelector?: string;
  /** Where the IIFE build loads the recorder from (default: next to the tracker script). */
  recorderUrl?: string;
};

/** The replay options as the app gave them, and where recorded events go; `recorder.ts` applies the privacy defaults. */
export type RecorderOptions = ReplayOptions & { emit: (event: unknown) => void };

export type Recording = { stop(): void; snapshot(): void };
/** The lazily loaded chunk (`recorder.ts`). */
export type RecorderModule = { startRecorder(options: RecorderOptions): Recording };

/** `rotate()` ends the browser session (sign-out, another user): the next events start a new one with a full snapshot. */
export type ReplayControl = { stop(): void; rotate(): void };

export type ReplayMeta = { browserSessionId: string; startedAt: number };

type BrowserSession = { id: string; startedAt: number; lastActiveAt: number; sampled: boolean };

/** A browser session ends after this long without activity; the next one starts with a full snapshot. */
export const IDLE_ROTATION_MS = 3 * 60_000;
/** Activity is written back at most this often (every rrweb event would be a localStorage write). */
const WRITE_EVERY_MS = 5_000;

/**
 * The eager half of session replay: keeps the browser session (shared by the
 * tabs of a browser through `store`, rotated after 3 idle minutes), decides
 * whether this session is recorded, and only then imports the recorder chunk.
 * Recorded events go to `deliver` with the session they belong to.
 *
 * @example
 * const replay = startReplays({ store, storeKey, options: {}, load: () => import('./recorder.ts'), deliver });
 */
export function startReplays(args: {
  store: Store;
  storeKey: string;
  options: ReplayOptions;
  load: () => Promise<RecorderModule>;
  deliver: (event: unknown, bytes: number, meta: ReplayMeta, key: string) => void;
  now?: () => number;
  random?: () => number;
}): ReplayControl {
  const now = args.now ?? Date.now;
  const rate = args.options.sampleRate ?? 1;
  let session: BrowserSession | undefined;
  let writtenAt = 0;
  let recording: Recording | undefined;
  let stopped = false;

  const read = (): BrowserSession | undefined => {
    try {
      return JSON.parse(args.store.get(args.storeKey) ?? 'null') ?? undefined;
    } catch {
      return undefined;
    }
  };
  const write = (at: number) => {
    writtenAt = at;
    args.store.set(args.storeKey, JSON.stringify(session));
  };

  const begin = (at: number) => {
    session = { id: uuid(), startedAt: at, lastActiveAt: at, sampled: recording !== undefined || (args.random ?? Math.random)() < rate };
    write(at);
  };

  /** Marks activity; true when a new browser session had to start. */
  const touch = (at: number): boolean => {
    if (!session || at - session.lastActiveAt > IDLE_ROTATION_MS) {
      // Another tab may have kept the session alive meanwhile.
      const stored = read();
      if (stored && at - stored.lastActiveAt <= IDLE_ROTATION_MS) session = stored;
      else {
        begin(at);
        return true;
      }
    }
    session.lastActiveAt = at;
    if (at - writtenAt > WRITE_EVERY_MS) write(at);
    return false;
  };

  touch(now());
  if (!session!.sampled) return { stop() {}, rotate() {} };

  const emit = (event: unknown) => {
    if (touch(now())) {
      // An incremental event cannot open a session: drop it and start the new one with a full snapshot.
      setTimeout(() => recording?.snapshot(), 0);
      return;
    }
    const s = session!;
    args.deliver(event, utf8Length(JSON.stringify(event)), { browserSessionId: s.id, startedAt: s.startedAt }, s.id);
  };

  args.load().then(
    (recorder) => {
      if (!stopped) recording = recorder.startRecorder({ ...args.options, emit });
    },
    () => undefined, // The recorder chunk could not load (blocked, offline): no replay, events unaffected.
  );

  return {
    stop() {
      stopped = true;
      recording?.stop();
      recording = undefined;
    },
    rotate() {
      // Another user from here on: their replay starts in a new session, with a full snapshot.
      begin(now());
      recording?.snapshot();
    },
  };
}
