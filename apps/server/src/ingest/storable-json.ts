const INT64_MIN = -(2 ** 63);
const UINT64_LIMIT = 2 ** 64;

const storableNumber = (n: number) => !(Number.isInteger(n) && Math.abs(n) < 1e21 && (n < INT64_MIN || n >= UINT64_LIMIT));

/** Whether `storableJson` would return an equal value: no lone surrogates, no integers beyond 64 bits. */
function isStorable(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === 'string') {
      if (!current.isWellFormed()) return false;
    } else if (typeof current === 'number') {
      if (!storableNumber(current)) return false;
    } else if (Array.isArray(current)) {
      for (const child of current) stack.push(child);
    } else if (current !== null && typeof current === 'object') {
      for (const key of Object.keys(current)) {
        if (!key.isWellFormed()) return false;
        stack.push((current as Record<string, unknown>)[key]);
      }
    }
  }
  return true;
}

/**
 * Makes a JSON value storable in a ClickHouse `JSON` column without changing
 * its meaning: lone UTF-16 surrogates in strings and keys become U+FFFD
 * (JSON.parse accepts `"\ud800"`; ClickHouse wants valid UTF-8), and integers
 * no 64-bit type holds (which ClickHouse refuses to parse) are kept as their
 * decimal text. Iterative, so a deeply nested value cannot exhaust the stack.
 * A value that needs no repair is returned as it is (not copied).
 *
 * @example
 * storableJson({ 'k\ud800': ['v\udc00'], big: 1e20 }); // { 'k\ufffd': ['v\ufffd'], big: '100000000000000000000' }
 */
export function storableJson<T>(value: T): T {
  // Nearly every event is storable as it is: check first, copy only when something needs repair.
  if (isStorable(value)) return value;
  const fix = (text: string) => (text.isWellFormed() ? text : text.toWellFormed());
  // JSON.stringify writes integers below 1e21 digit by digit (ClickHouse then reads an
  // integer and fails past 64 bits); from 1e21 on it writes exponents, read as Float64.
  const number = (n: number): number | string =>
    Number.isInteger(n) && Math.abs(n) < 1e21 && (n < INT64_MIN || n >= UINT64_LIMIT) ? String(n) : n;
  if (typeof value === 'string') return fix(value) as T;
  if (typeof value === 'number') return number(value) as T;
  if (value === null || typeof value !== 'object') return value;
  const root: unknown = Array.isArray(value) ? [] : {};
  const stack: [source: unknown, target: Record<string, unknown> | unknown[]][] = [[value, root as Record<string, unknown>]];
  while (stack.length > 0) {
    const [source, target] = stack.pop()!;
    const entries = Array.isArray(source) ? source.map((v, i) => [i, v] as const) : Object.entries(source as object);
    for (const [key, child] of entries) {
      let copy: unknown = child;
      if (typeof child === 'string') copy = fix(child);
      else if (typeof child === 'number') copy = number(child);
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
