import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { PgliteDatabase } from '../../src/db/pglite.js';
import { PostgresDatabase, quoteIdent } from '../../src/db/postgres.js';

export type TestDbKind = 'pglite' | 'postgres';

/** Which database this test project runs on (vitest.config.ts sets it per project). */
export function testDbKind(): TestDbKind {
  return process.env.TILLSYNC_TEST_DB === 'postgres' ? 'postgres' : 'pglite';
}

export function testDatabaseUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is required for the Postgres test project');
  return url;
}

/**
 * How a test's Postgres backends show in pg_stat_activity: named after its schema, so a test can
 * find (and kill) exactly its own hub's connections on a server other tests share.
 */
export function testApplicationName(schema: string): string {
  return `tillsync-test-${schema}`;
}

export interface TestDatabase {
  db: Database;
  /** Postgres only: the schema this database lives in. */
  schema: string | null;
  drop(): Promise<void>;
}

// PGlite's initdb takes seconds; loading a dump of an already migrated database takes a fraction.
let pgliteTemplate: Promise<Blob> | undefined;

function migratedPgliteTemplate(): Promise<Blob> {
  pgliteTemplate ??= (async () => {
    const db = await PgliteDatabase.open(':memory:');
    await migrate(db);
    const dump = await db.raw.dumpDataDir('none');
    await db.close();
    return dump;
  })();
  return pgliteTemplate;
}

/** A fresh, migrated database: in-memory PGlite, or a new schema on the test Postgres server. */
export async function createTestDatabase(kind: TestDbKind = testDbKind()): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const db = await PgliteDatabase.open(':memory:', { loadDataDir: await migratedPgliteTemplate() });
    await migrate(db);
    return { db, schema: null, drop: () => db.close() };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const url = testDatabaseUrl();
  const db = await PostgresDatabase.connect({
    connectionString: url,
    schema,
    max: 10,
    applicationName: testApplicationName(schema),
  });
  await migrate(db);
  return {
    db,
    schema,
    async drop() {
      await db.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
