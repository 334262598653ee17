import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HubConfig } from '../config.js';
import { PgliteDatabase } from '../db/pglite.js';
import { LOCK_FILE, lockDataDir } from './data-dir-lock.js';
import { type CliIo, type CliOutcome, say } from './io.js';
import { checkRestored } from './restore-check.js';

/*
 * The embedded database is a directory that one process at a time may open. A backup takes the
 * data-dir lock like `serve` does, so it refuses while a hub runs on that directory: the copy is
 * then a cluster that nobody is writing to, consistent by construction.
 */

function hasCluster(dataDir: string): boolean {
  return existsSync(join(dataDir, 'PG_VERSION'));
}

/** Write PGlite's own tarball of the data directory (gzip). */
export async function backupPglite(io: CliIo, config: HubConfig, file: string): Promise<CliOutcome> {
  const lock = await lockDataDir(config);
  try {
    if (!hasCluster(config.dataDir)) {
      io.stderr.write(`error: no hub database in ${config.dataDir} (set TILLSYNC_DATA_DIR)\n`);
      return { exitCode: 1 };
    }
    const db = await PgliteDatabase.open(config.dataDir);
    try {
      const dump = await db.raw.dumpDataDir('gzip');
      await writeFile(file, Buffer.from(await dump.arrayBuffer()));
      say(io, `Backed up embedded PGlite in ${config.dataDir} to ${file} (${dump.size} bytes)`);
      return { exitCode: 0 };
    } finally {
      await db.close();
    }
  } finally {
    await lock.release();
  }
}

/** Unpack a backup tarball into an empty data directory (or, with force, one emptied first). */
export async function restorePglite(
  io: CliIo,
  config: HubConfig,
  file: string,
  force: boolean,
): Promise<CliOutcome> {
  const tarball = new Blob([await readFile(file)]);
  await mkdir(config.dataDir, { recursive: true });
  const lock = await lockDataDir(config);
  try {
    if (hasCluster(config.dataDir)) {
      if (!force) {
        io.stderr.write(
          `error: ${config.dataDir} already holds a hub database; a restore replaces it entirely. ` +
            'Re-run with --force to overwrite it, or set TILLSYNC_DATA_DIR to an empty directory.\n',
        );
        return { exitCode: 1 };
      }
      for (const entry of await readdir(config.dataDir)) {
        if (entry !== LOCK_FILE) await rm(join(config.dataDir, entry), { recursive: true, force: true });
      }
    }
    const db = await PgliteDatabase.open(config.dataDir, { loadDataDir: tarball });
    try {
      say(io, `Restored ${file} into embedded PGlite in ${config.dataDir}`);
      return { exitCode: (await checkRestored(db, io)) ? 0 : 1 };
    } finally {
      await db.close();
    }
  } finally {
    await lock.release();
  }
}
