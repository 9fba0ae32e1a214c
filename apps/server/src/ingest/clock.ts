/** Events may be at most this far in the past, after clock correction. */
export const MAX_EVENT_AGE_MS = 7 * 24 * 3600 * 1000;
/** …and at most this far in the future. */
export const MAX_EVENT_LEAD_MS = 5 * 60 * 1000;

/**
 * The server-side time of a client event: the client's clock is shifted by
 * the offset between its `sent_at_ms` and our receipt, then clamped to
 * [received − 7 days, received + 5 minutes].
 *
 * @example
 * correctEventTime(1_000, 2_000, 10_000); // 9_000: the client's clock ran 8 s slow
 */
export function correctEventTime(eventAtMs: number, sentAtMs: number | undefined, receivedAt: number): number {
  const shifted = sentAtMs === undefined ? eventAtMs : eventAtMs + (receivedAt - sentAtMs);
  return Math.min(Math.max(shifted, receivedAt - MAX_EVENT_AGE_MS), receivedAt + MAX_EVENT_LEAD_MS);
}
