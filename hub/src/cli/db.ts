import { configFromEnv, type HubConfig } from '../config.js';
import { GrantError, grantAppRole } from '../db/grants.js';
import { openCliDatabase } from './database.js';
import { type CliIo, type CliOutcome, say } from './io.js';

/** Schema changes and grants are the owner's: TILLSYNC_MIGRATION_DATABASE_URL, else DATABASE_URL. */
function ownerConfig(env: NodeJS.ProcessEnv): HubConfig {
  const config = configFromEnv(env);
  return {
    ...config,
    databaseUrl: config.migrationDatabaseUrl ?? config.databaseUrl,
    migrationDatabaseUrl: undefined,
  };
}

/** `migrate`: apply pending migrations as the owner (the hub itself may serve as a role that cannot). */
export async function migrateCommand(io: CliIo): Promise<CliOutcome> {
  const db = await openCliDatabase(ownerConfig(io.env));
  try {
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    say(io, `Schema up to date: ${rows[0]?.n ?? 0} migrations applied.`);
    return { exitCode: 0 };
  } finally {
    await db.close();
  }
}

/** `db grant --role <name>`: make <name> the restricted role the hub serves as (db/grants.ts). */
export async function grantCommand(io: CliIo, role: string): Promise<CliOutcome> {
  const db = await openCliDatabase(ownerConfig(io.env));
  try {
    const { schema } = await grantAppRole(db, role);
    say(io, `Role ${role} may now serve the hub in schema ${schema}: read and write its tables, read and`);
    say(io, 'append to the ledger (movements), nothing more (no TRUNCATE, no DDL, owns nothing).');
    say(io, 'Later migrations re-grant it. Serve with DATABASE_URL connecting as this role.');
    return { exitCode: 0 };
  } catch (err) {
    if (!(err instanceof GrantError)) throw err;
    io.stderr.write(`error: ${err.message}\n`);
    return { exitCode: 1 };
  } finally {
    await db.close();
  }
}
