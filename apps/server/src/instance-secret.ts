import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type AdminSecret = { secret: string; created: boolean; file: string | undefined };

const FILE_NAME = 'admin-secret';

/**
 * The instance operator's secret: the configured one, else the one stored in
 * the data directory, else a new one written there (mode 0600) on first start.
 *
 * @example
 * const { secret, created } = loadOrCreateAdminSecret('./.sightline', undefined);
 */
export function loadOrCreateAdminSecret(dataDir: string, configured: string | undefined): AdminSecret {
  if (configured) return { secret: configured, created: false, file: undefined };
  const file = path.join(dataDir, FILE_NAME);
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length >= 16) return { secret: stored, created: false, file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = `sos_${randomBytes(32).toString('base64url')}`;
  // 'wx' fails if another process created it in between: never overwrite a secret.
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return { secret, created: true, file };
}
