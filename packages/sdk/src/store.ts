/** The small key-value surface the SDK persists through (localStorage, sessionStorage or memory). */
export type Store = {
  get(key: string): string | null;
  /** False when the browser refused (quota, privacy mode). */
  set(key: string, value: string): boolean;
  remove(key: string): void;
  /** Keys starting with `prefix`. */
  keys(prefix: string): string[];
};

/**
 * A Store over Web Storage. Every access may throw (Safari private mode, a sandboxed
 * iframe, a full quota): the SDK then behaves as if nothing was stored.
 *
 * @example
 * const local = webStore(() => window.localStorage);
 */
export function webStore(storage: () => Storage): Store {
  const attempt = <T>(fn: (s: Storage) => T, fallback: T): T => {
    try {
      return fn(storage());
    } catch {
      return fallback;
    }
  };
  return {
    get: (key) => attempt((s) => s.getItem(key), null),
    set: (key, value) => attempt((s) => (s.setItem(key, value), true), false),
    remove: (key) => attempt((s) => s.removeItem(key), undefined),
    keys: (prefix) =>
      attempt((s) => {
        const found: string[] = [];
        for (let i = 0; i < s.length; i++) {
          const key = s.key(i);
          if (key?.startsWith(prefix)) found.push(key);
        }
        return found;
      }, []),
  };
}

/**
 * A Store in memory, for tests and for pages where Web Storage is unavailable.
 *
 * @example
 * const store = memoryStore();
 */
export function memoryStore(): Store {
  const map = new Map<string, string>();
  return {
    get: (key) => map.get(key) ?? null,
    set: (key, value) => (map.set(key, value), true),
    remove: (key) => void map.delete(key),
    keys: (prefix) => [...map.keys()].filter((k) => k.startsWith(prefix)),
  };
}
