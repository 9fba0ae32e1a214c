/**
 * Limits of event data and names, shared by the server's schemas and the browser
 * SDK (which checks an event before it joins a batch, so one bad event cannot
 * get a whole batch refused). No zod here: the SDK's bundle must not carry it.
 */
export const CUSTOM_EVENT_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
export const MAX_BATCH_EVENTS = 500;
export const MAX_SERVER_EVENTS = 1000;
export const MAX_DATA_DEPTH = 16;
export const MAX_DATA_KEYS = 2000;

/**
 * Counts keys and depth of a JSON value without recursion (a hostile body can
 * nest far deeper than the stack). Returns the first limit exceeded, if any.
 */
export function jsonShapeProblem(value: unknown, limits = { depth: MAX_DATA_DEPTH, keys: MAX_DATA_KEYS }): string | undefined {
  const stack: [unknown, number][] = [[value, 1]];
  let keys = 0;
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > limits.depth) return `is nested too deeply (at most ${limits.depth} levels)`;
    const children = Array.isArray(current) ? current : Object.values(current);
    if (!Array.isArray(current)) keys += children.length;
    if (keys > limits.keys) return `has too many keys (at most ${limits.keys})`;
    for (const child of children) stack.push([child, depth + 1]);
  }
  return undefined;
}
