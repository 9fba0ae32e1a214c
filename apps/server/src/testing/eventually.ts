/**
 * Polls `probe` every 200 ms until it returns a truthy value or `timeoutMs` passes
 * (then throws with the last value): for state that settles asynchronously (caches,
 * the users sync, a browser's deliveries).
 *
 * @example
 * await eventually(async () => (await count()) === 3, 10_000, 'three rows');
 */
export async function eventually<T>(probe: () => Promise<T>, timeoutMs = 15_000, label = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${label} not reached within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}
