/**
 * One-at-a-time execution per key inside this process. PGlite is a single
 * session, where `pg_advisory_lock` is re-entrant and so excludes nothing.
 *
 * @example
 * const mutex = keyedMutex();
 * await mutex('migrations', async () => migrate());
 */
export function keyedMutex(): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return async (key, fn) => {
    const previous = tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
