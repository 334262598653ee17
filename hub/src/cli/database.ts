import { mkdir } from 'node:fs/promises';
import type { HubConfig } from '../config.js';
import type { Database } from '../db/database.js';
import { openDatabase } from '../db/open.js';
import { lockDataDir } from './data-dir-lock.js';

/** The configured database, migrated and (for PGlite) locked to this process until closed. */
export async function openCliDatabase(config: HubConfig): Promise<Database> {
  if (!config.databaseUrl && config.dataDir !== ':memory:') await mkdir(config.dataDir, { recursive: true });
  const lock = await lockDataDir(config);
  let db: Database;
  try {
    db = await openDatabase(config);
  } catch (err) {
    await lock.release();
    throw err;
  }
  const close = db.close.bind(db);
  return Object.assign(db, {
    async close() {
      try {
        await close();
      } finally {
        await lock.release();
      }
    },
  });
}

export function describeDatabase(config: HubConfig): string {
  return config.databaseUrl ? 'Postgres (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`;
}
