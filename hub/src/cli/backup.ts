import { configFromEnv } from '../config.js';
import type { CliIo, CliOutcome } from './io.js';
import { backupPglite, restorePglite } from './pglite-backup.js';
import { backupPostgres, restorePostgres } from './postgres-backup.js';

/** `backup <file>`: Postgres through pg_dump, embedded PGlite through its data-dir tarball. */
export async function backup(io: CliIo, file: string): Promise<CliOutcome> {
  const config = configFromEnv(io.env);
  return config.databaseUrl ? backupPostgres(io, config.databaseUrl, file) : backupPglite(io, config, file);
}

/** `restore <file> [--force]`: into an empty database; --force replaces a non-empty one. */
export async function restore(io: CliIo, file: string, force: boolean): Promise<CliOutcome> {
  const config = configFromEnv(io.env);
  return config.databaseUrl
    ? restorePostgres(io, config.databaseUrl, file, force)
    : restorePglite(io, config, file, force);
}
