import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import type { HubConfig } from '../config.js';

/*
 * PGlite lets a second process open a data directory that is already open, and two writers corrupt
 * it. Every command that opens the embedded database first takes this lock (proper-lockfile: an
 * atomic mkdir of <dataDir>/tillsync.lock whose mtime the holder refreshes every second). A lock
 * whose mtime is older than STALE_MS belongs to a process that died (kill -9, power loss): it is
 * taken over, so no crash ever leaves a lock that blocks the next start — which may wait up to
 * STALE_MS for it. A pid file could not tell: pids are reused (a container's hub is always pid 1).
 */

export const LOCK_FILE = 'tillsync.lock';
/** A lock not refreshed for this long is stale (its holder is gone). */
export const STALE_MS = 5_000;
const UPDATE_MS = 1_000;
/** Attempts (1 s apart) before refusing: together longer than STALE_MS, so a dead holder's lock goes stale. */
const ATTEMPTS = 7;

export interface DataDirLock {
  release(): Promise<void>;
}

const NO_LOCK: DataDirLock = { release: async () => undefined };

export async function lockDataDir(config: Pick<HubConfig, 'databaseUrl' | 'dataDir'>): Promise<DataDirLock> {
  if (config.databaseUrl || config.dataDir === ':memory:') return NO_LOCK;
  const path = join(config.dataDir, LOCK_FILE);
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(config.dataDir, {
      lockfilePath: path,
      realpath: false,
      stale: STALE_MS,
      update: UPDATE_MS,
      retries: { retries: ATTEMPTS - 1, factor: 1, minTimeout: 1_000, maxTimeout: 1_000 },
      onCompromised: (err) => {
        // Someone else holds it now: carrying on would mean two writers on one database.
        throw new Error(`lost the lock on ${config.dataDir} (${err.message}); stopping`);
      },
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
    throw new Error(
      `the data directory ${config.dataDir} is in use by another Tillsync process (embedded PGlite allows one at a time): stop it first`,
    );
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await release();
    },
  };
}
