import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HubConfig } from '../config.js';

/*
 * PGlite lets a second process open a data directory that is already open, and two writers corrupt
 * it. Every command that opens the embedded database first takes this lock file (holding its pid);
 * a lock left by a process that no longer exists is taken over.
 */

export const LOCK_FILE = 'tillsync.lock';

export interface DataDirLock {
  release(): Promise<void>;
}

const NO_LOCK: DataDirLock = { release: async () => undefined };

export async function lockDataDir(config: Pick<HubConfig, 'databaseUrl' | 'dataDir'>): Promise<DataDirLock> {
  if (config.databaseUrl || config.dataDir === ':memory:') return NO_LOCK;
  const path = join(config.dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' });
      return { release: () => rm(path, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(holder) && isAlive(holder))
        throw new Error(
          `the data directory ${config.dataDir} is in use by another Tillsync process (pid ${holder}); ` +
            `stop it first (embedded PGlite allows one process at a time), or delete ${path} if that pid is not Tillsync`,
        );
      await rm(path, { force: true });
    }
  }
  throw new Error(`could not lock ${path}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
