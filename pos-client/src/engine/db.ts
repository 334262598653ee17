import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TillLockedError } from './errors.js';
import { MIGRATIONS } from './schema.js';

export type TillDb = Database.Database;

export interface OpenOptions {
  /**
   * FULL (default): a committed sale survives a power cut. NORMAL: survives a crash of the till
   * process but the last commits may be lost on power loss; faster.
   */
  synchronous?: 'FULL' | 'NORMAL';
}

/**
 * Open (creating if needed) the till database in `dataDir`. The connection takes SQLite's
 * exclusive lock for its whole life, so a second till process on the same directory is refused
 * by the operating system's file locks, and the lock vanishes with the process (no stale lock
 * file after a crash).
 */
export function openTillDb(dataDir: string, options: OpenOptions = {}): TillDb {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'till.sqlite'), { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    db.pragma('foreign_keys = ON');
    // The first write takes the exclusive lock now rather than at the first sale.
    db.exec('BEGIN IMMEDIATE; COMMIT;');
  } catch (err) {
    db.close();
    if (err instanceof Error && /locked|busy/i.test(err.message)) throw new TillLockedError(dataDir);
    throw err;
  }
  migrate(db);
  return db;
}

function migrate(db: TillDb): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
