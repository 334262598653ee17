import { mkdir } from 'node:fs/promises';
import type { HubConfig } from '../config.js';
import type { Database } from './database.js';
import { migrate } from './migrate.js';
import { PgliteDatabase } from './pglite.js';
import { PostgresDatabase } from './postgres.js';

/**
 * Open the configured database (Postgres if DATABASE_URL is set, else PGlite) and migrate it: through
 * the owner's TILLSYNC_MIGRATION_DATABASE_URL first when given (the hub then serves as a role that
 * may not migrate; db/grants.ts).
 */
export async function openDatabase(
  config: Pick<HubConfig, 'databaseUrl' | 'dataDir' | 'postgres'> &
    Partial<Pick<HubConfig, 'migrationDatabaseUrl'>>,
): Promise<Database> {
  let db: Database;
  if (config.databaseUrl && config.migrationDatabaseUrl) {
    const owner = await PostgresDatabase.connect({ connectionString: config.migrationDatabaseUrl, max: 1 });
    try {
      await migrate(owner);
    } finally {
      await owner.close();
    }
  }
  if (config.databaseUrl) {
    const { applicationName, ...timeouts } = config.postgres;
    db = await PostgresDatabase.connect({ connectionString: config.databaseUrl, applicationName, timeouts });
  } else {
    if (config.dataDir !== ':memory:') await mkdir(config.dataDir, { recursive: true });
    db = await PgliteDatabase.open(config.dataDir);
  }
  await migrate(db);
  return db;
}
