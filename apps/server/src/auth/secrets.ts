import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type KeyKind = 'publishable_client' | 'secret_server' | 'super_secret_admin';

const PREFIX: Record<KeyKind, string> = {
  publishable_client: 'pck',
  secret_server: 'ssk',
  super_secret_admin: 'sak',
};

/**
 * A new high-entropy secret (256 bits) with a readable prefix.
 *
 * @example
 * newSecret('pck'); // "pck_3q2-7w…"
 */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** A new project key of the given kind: `pck_…`, `ssk_…` or `sak_…`. */
export function newProjectKey(kind: KeyKind): string {
  return newSecret(PREFIX[kind]);
}

/** SHA-256 of a secret: what is stored. High-entropy secrets need no slow hash. */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * Compares a presented secret with stored hashes in constant time per hash,
 * visiting every hash so the timing does not reveal which one matched.
 *
 * @example
 * matchesAnyHash('pck_…', [storedHash]); // true
 */
export function matchesAnyHash(secret: string, hashes: readonly Buffer[]): boolean {
  const presented = hashSecret(secret);
  let matched = false;
  for (const hash of hashes) {
    if (hash.length === presented.length && timingSafeEqual(hash, presented)) matched = true;
  }
  return matched;
}
