/**
 * Replaces lone UTF-16 surrogates with U+FFFD in every string and key of a JSON
 * value (JSON.parse accepts `"\ud800"`; ClickHouse expects valid UTF-8).
 * Iterative, so a deeply nested value cannot exhaust the stack.
 *
 * @example
 * wellFormedJson({ 'k\ud800': ['v\udc00'] }); // { 'k\ufffd': ['v\ufffd'] }
 */
export function wellFormedJson<T>(value: T): T {
  const fix = (text: string) => (text.isWellFormed() ? text : text.toWellFormed());
  if (typeof value === 'string') return fix(value) as T;
  if (value === null || typeof value !== 'object') return value;
  const root: unknown = Array.isArray(value) ? [] : {};
  const stack: [source: unknown, target: Record<string, unknown> | unknown[]][] = [[value, root as Record<string, unknown>]];
  while (stack.length > 0) {
    const [source, target] = stack.pop()!;
    const entries = Array.isArray(source) ? source.map((v, i) => [i, v] as const) : Object.entries(source as object);
    for (const [key, child] of entries) {
      let copy: unknown = child;
      if (typeof child === 'string') copy = fix(child);
      else if (child !== null && typeof child === 'object') {
        copy = Array.isArray(child) ? [] : {};
        stack.push([child, copy as Record<string, unknown>]);
      }
      if (Array.isArray(target)) target[key as number] = copy;
      else target[fix(String(key))] = copy;
    }
  }
  return root as T;
}
