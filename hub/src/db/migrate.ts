import { readdir, readFile } from 'node:fs/promises';
import type { Database, Queryable } from './database.js';
import { regrantAppRoles } from './grants.js';

const MIGRATIONS_DIR = new URL('../../migrations/', import.meta.url);
/** Any constant: serializes migration runs of several hub instances starting at once. */
const MIGRATION_LOCK = 7_345_001;
/** insufficient_privilege, invalid_schema_name ("no schema has been selected to create in"). */
const NOT_ALLOWED = new Set(['42501', '3F000']);

export class MigrationError extends Error {}

/**
 * Apply `migrations/NNN_name.sql` files not applied yet, in order, all in one transaction (a hub
 * never starts on a half-migrated schema). The same files run on PGlite and Postgres. Nothing
 * pending: no DDL at all, so a hub serving as a restricted role (db/grants.ts) starts on a schema
 * its owner migrated; something pending that this role may not apply: a MigrationError saying so.
 */
export async function migrate(db: Database): Promise<string[]> {
  const files = await migrationFiles();
  let pending = files;
  const applied: string[] = [];
  try {
    pending = await pendingOf(db, files);
    if (pending.length === 0) return [];
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        name text PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const done = await appliedNames(tx);
      for (const file of files) {
        if (done.has(file)) continue;
        const sql = await readFile(new URL(file, MIGRATIONS_DIR), 'utf8');
        await tx.exec(sql);
        await tx.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
        applied.push(file);
      }
      if (applied.length > 0) await regrantAppRoles(tx);
    });
  } catch (err) {
    if (!NOT_ALLOWED.has(String((err as { code?: unknown }).code))) throw err;
    throw new MigrationError(
      `${pending.length} migration(s) not applied (first ${pending[0]}) and this database role may not apply them ` +
        `(${(err as Error).message}): run \`tillsync-hub migrate\` as the schema owner, or set TILLSYNC_MIGRATION_DATABASE_URL`,
    );
  }
  return applied;
}

async function migrationFiles(): Promise<string[]> {
  return (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
}

/** Migrations this hub ships that the database has not applied (readiness: none may be). */
export async function pendingMigrations(db: Queryable): Promise<string[]> {
  return pendingOf(db, await migrationFiles());
}

async function pendingOf(db: Queryable, files: string[]): Promise<string[]> {
  const { rows } = await db.query<{ present: boolean }>(
    "SELECT to_regclass('schema_migrations') IS NOT NULL AS present",
  );
  if (!rows[0]?.present) return files;
  const done = await appliedNames(db);
  return files.filter((f) => !done.has(f));
}

async function appliedNames(db: Queryable): Promise<Set<string>> {
  return new Set(
    (await db.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
  );
}
