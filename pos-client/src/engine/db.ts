import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TillDamagedError, TillLockedError } from './errors.js';
import { ensurePrivateDir, ensurePrivateFile, restrictExisting } from './private-files.js';
import { MIGRATIONS } from './schema.js';

export const TILL_DB_FILE = 'till.sqlite';

/** The database and the files SQLite keeps beside it. */
export function tillDbFiles(dataDir: string): string[] {
  const db = join(dataDir, TILL_DB_FILE);
  return [db, `${db}-wal`, `${db}-shm`, `${db}-journal`];
}

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
 * file after a crash). The directory is made 0700 and the files 0600 (see private-files.ts).
 * A file failing `PRAGMA quick_check` is refused with TillDamagedError.
 */
export function openTillDb(dataDir: string, options: OpenOptions = {}): TillDb {
  ensurePrivateDir(dataDir);
  const files = tillDbFiles(dataDir);
  // SQLite gives its -wal/-shm the database file's mode, so a 0600 database keeps them 0600.
  ensurePrivateFile(files[0]!);
  restrictExisting(files);
  const db = new Database(files[0], { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    db.pragma('foreign_keys = ON');
    // The first write takes the exclusive lock now rather than at the first sale.
    db.exec('BEGIN IMMEDIATE; COMMIT;');
    const problems = integrityProblems(db);
    if (problems.length > 0) throw new TillDamagedError(dataDir, problems);
  } catch (err) {
    db.close();
    if (err instanceof TillDamagedError) throw err;
    if (isCorruption(err)) throw new TillDamagedError(dataDir, [(err as Error).message]);
    if (err instanceof Error && /locked|busy/i.test(err.message)) throw new TillLockedError(dataDir);
    throw err;
  }
  restrictExisting(files);
  migrate(db);
  return db;
}

/**
 * SQLite's quick_check (every page and cell well-formed, without matching indexes to tables: a
 * few ms for a till's file). Empty when the file is sound.
 */
function integrityProblems(db: TillDb): string[] {
  const rows = db.pragma('quick_check(20)', { simple: false }) as Array<{ quick_check: string }>;
  const lines = rows.map((r) => r.quick_check);
  return lines.length === 1 && lines[0] === 'ok' ? [] : lines;
}

/** SQLITE_CORRUPT* or SQLITE_NOTADB: the file is damaged, not merely busy. */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
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
