/** What became of one delivery attempt. */
export type Outcome =
  /** Stored (2xx). */
  | 'sent'
  /** Network error, 5xx or 429: try again later with the same batch id. */
  | 'retry'
  /** Refused for good (any other 4xx): retrying cannot help. */
  | 'drop'
  /** Not sent: no access token yet (signed out); try again later, not counted as a failure. */
  | 'wait';

export type Attempt = { outcome: Outcome; retryAfterMs?: number };

const BASE_MS = 1_000;
const MAX_MS = 60_000;

/**
 * Delay before retry number `attempt` (0-based): exponential from 1 s, capped at
 * 60 s, with "equal jitter" (half fixed, half random) so a fleet of browsers that
 * failed together does not retry together.
 *
 * @example
 * nextDelay(0); // 500–1000 ms
 * nextDelay(10); // 30–60 s
 */
export function nextDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_MS, BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * The outcome of an HTTP status (`0` for a network error). 429 is retried: it
 * means "not now", not "bad batch" (ADR 0009).
 *
 * @example
 * outcomeOf(503); // 'retry'
 * outcomeOf(400); // 'drop'
 */
export function outcomeOf(status: number): Outcome {
  if (status >= 200 && status < 300) return 'sent';
  return status === 0 || status === 429 || status >= 500 ? 'retry' : 'drop';
}

/**
 * A `Retry-After` header in milliseconds (delta seconds or an HTTP date), capped
 * at the backoff ceiling; undefined when absent or unreadable.
 *
 * @example
 * retryAfterMs('2', Date.now()); // 2000
 */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  // Strict: `Number(' ')` is 0 and V8's `Date.parse('abc 5')` a day in 2001, and "retry now" on every
  // garbage header would skip the backoff. HTTP dates end in GMT.
  const ms = /^\d+$/.test(header ?? '') ? Number(header) * 1000 : / GMT$/.test(header ?? '') ? Date.parse(header!) - now : NaN;
  return Number.isFinite(ms) ? Math.min(MAX_MS, Math.max(0, ms)) : undefined;
}
