import { timingSafeEqual } from 'node:crypto';
import { InvalidOperatorSecret, OperatorAuthenticationRequired } from '@sightline/protocol';
import type { AuthenticateOperator } from '../http/route.ts';
import { hashSecret } from './secrets.ts';

/**
 * Checks `authorization: Bearer <SIGHTLINE_ADMIN_SECRET>` in constant time.
 *
 * @example
 * const authenticateOperator = operatorAuthenticator(adminSecret);
 */
export function operatorAuthenticator(adminSecret: string): AuthenticateOperator {
  const expected = hashSecret(adminSecret);
  return (request) => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) throw new OperatorAuthenticationRequired();
    if (!timingSafeEqual(hashSecret(match[1]), expected)) throw new InvalidOperatorSecret();
  };
}
