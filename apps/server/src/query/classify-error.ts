import { AnalyticsQueryError, AnalyticsQueryTimeout, type KnownError } from '@sightline/protocol';

/**
 * ClickHouse codes whose messages cannot reveal anything the tenant may not
 * see: syntax (62), timeout (159), read-only (164), too many rows or bytes
 * (158, 396), and 636 (cannot extract a table structure from the input).
 */
const SAFE_CODES = new Set([62, 158, 159, 164, 396, 636]);
const TIMEOUT_CODES = new Set([159, 160]);

export const GENERIC_QUERY_ERROR = 'Error during execution of this query.';

/**
 * Turns an engine error into the known error a tenant sees.
 *
 * @example
 * classifyClickHouseError({ code: 159, message: '…' }, { timeoutMs: 1000, development: false });
 */
export function classifyClickHouseError(
  error: { code: number; message: string },
  options: { timeoutMs: number; development: boolean },
): { known: KnownError; reviewed: boolean } {
  if (TIMEOUT_CODES.has(error.code)) return { known: new AnalyticsQueryTimeout(options.timeoutMs), reviewed: true };
  if (SAFE_CODES.has(error.code)) return { known: new AnalyticsQueryError(cleanMessage(error.message)), reviewed: true };
  const detail = options.development ? ` (code ${error.code}: ${cleanMessage(error.message)})` : '';
  return { known: new AnalyticsQueryError(`${GENERIC_QUERY_ERROR}${detail}`), reviewed: false };
}

/** Drops the engine's stack-trace tail and version banner from a message. */
export function cleanMessage(message: string): string {
  return message
    .replace(/\.?\s*Stack trace:[\s\S]*$/, '')
    .replace(/Code: \d+\. DB::Exception: /g, '')
    .replace(/\s*\(version [^)]*\)/g, '')
    .replace(/(\([A-Z_]+\))\.\s*\1\s*$/, '$1')
    .trim();
}
