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

/**
 * A syntax error's position counted in the tenant's own text. The engine
 * counts in the statement the server built around it (`EXPLAIN AST <text>`),
 * `prefix` characters longer on its first line; later lines are the tenant's.
 *
 * @example
 * atTenantPosition('Syntax error: failed at position 19 (count): …', 12); // '… failed at position 7 (count): …'
 */
export function atTenantPosition(message: string, prefix: number): string {
  return message
    .replace(/failed at position (\d+)/, (_, n: string) => `failed at position ${Number(n) - prefix}`)
    .replace(/\(line 1, col (\d+)\)/, (_, n: string) => `(line 1, col ${Number(n) - prefix})`);
}
