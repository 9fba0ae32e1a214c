import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const FILE_NAME = 'sightline.lock';

export type LockHolder = { pid: number; url?: string | undefined; startedAt: string };

/** The embedded data directory is in use by another live process. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `The data directory ${dataDir} is in use by process ${holder.pid}${holder.url ? ` (a server at ${holder.url})` : ''}. ` +
        'Embedded PGlite and chDB allow one process per directory: stop it, or talk to it over HTTP.',
    );
  }
}

export type DataDirLock = { update(holder: Partial<LockHolder>): void; release(): void };

/**
 * Takes the embedded data directory for this process. PGlite has no lock of
 * its own and two processes on one directory corrupt it; chDB refuses the
 * second opener only once it has started. A stale lock (dead pid) is taken over.
 *
 * @example
 * const lock = lockDataDir('./.sightline');
 * try { … } finally { lock.release(); }
 */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, FILE_NAME);
  let holder: LockHolder = { pid: process.pid, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(holder), { flag: 'wx' });
      return {
        update(patch) {
          holder = { ...holder, ...patch };
          writeFileSync(file, JSON.stringify(holder));
        },
        release() {
          const current = readLockHolder(dataDir);
          if (current?.pid === process.pid) rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const current = readLockHolder(dataDir);
      if (current && current.pid !== process.pid && isAlive(current.pid)) throw new DataDirInUseError(dataDir, current);
      rmSync(file, { force: true });
    }
  }
  throw new Error(`could not lock ${file}`);
}

/** Who holds the data directory, if anyone alive does. */
export function readLockHolder(dataDir: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(path.join(dataDir, FILE_NAME), 'utf8')) as LockHolder;
    return isAlive(holder.pid) ? holder : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
