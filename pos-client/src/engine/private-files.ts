import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';

/*
 * The till's data directory holds its device token and every unsynced sale: only the till's own
 * user may read it. Modes are set with chmod after creation (mkdir and open are subject to the
 * umask) and again on every open, so a directory made by an older version (0755/0644) is fixed.
 */

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Create `dir` (and parents) if needed and make it 0700. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  chmodSync(dir, PRIVATE_DIR_MODE);
}

/** Create `file` empty if needed (never truncating it) and make it 0600. */
export function ensurePrivateFile(file: string): void {
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  chmodSync(file, PRIVATE_FILE_MODE);
}

/** Make each of `files` that exists 0600 (SQLite's -wal/-shm/-journal come and go). */
export function restrictExisting(files: readonly string[]): void {
  for (const f of files) if (existsSync(f)) chmodSync(f, PRIVATE_FILE_MODE);
}
