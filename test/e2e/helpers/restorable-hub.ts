import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../../hub/src/app.js';
import type { Database } from '../../../hub/src/db/database.js';
import { migrate } from '../../../hub/src/db/migrate.js';
import { PgliteDatabase } from '../../../hub/src/db/pglite.js';
import { PostgresDatabase, quoteIdent } from '../../../hub/src/db/postgres.js';
import { ensureBootstrapAdmin } from '../../../hub/src/services/tokens.js';
import { type CliRun, runCliCaptured } from '../../../hub/test/helpers/run-cli.js';
import { testDatabaseUrl, testDbKind } from '../../../hub/test/helpers/test-db.js';
import { requestEnrolmentCode } from './test-hub-server.js';

/**
 * A real hub on a database the hub CLI can back up and restore (a PGlite data directory, or its
 * own Postgres schema), listening on one port across stops and restarts, as an operator runs it.
 */
export class RestorableHub {
  app: FastifyInstance | null = null;
  db: Database | null = null;
  port = 0;
  adminToken = '';
  private readonly dir = mkdtempSync(join(tmpdir(), 'tillsync-restorable-'));
  private readonly schema = `rh_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;

  /** What the hub CLI (`backup`, `restore`) is run with to reach this hub's database. */
  readonly env: NodeJS.ProcessEnv =
    testDbKind() === 'postgres'
      ? { DATABASE_URL: this.schemaUrl(), LOG_LEVEL: 'silent' }
      : { TILLSYNC_DATA_DIR: join(this.dir, 'data'), LOG_LEVEL: 'silent' };

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private schemaUrl(): string {
    const url = new URL(testDatabaseUrl());
    url.searchParams.set('options', `-c search_path=${this.schema}`);
    return url.toString();
  }

  async start(): Promise<void> {
    const db =
      testDbKind() === 'postgres'
        ? await PostgresDatabase.connect({
            connectionString: testDatabaseUrl(),
            schema: this.schema,
            max: 10,
          })
        : await PgliteDatabase.open(this.env.TILLSYNC_DATA_DIR ?? '');
    await migrate(db);
    this.adminToken = (await ensureBootstrapAdmin(db)) ?? this.adminToken;
    const app = await buildApp({
      config: { logLevel: 'silent', bodyLimit: 1_048_576, rateLimitPerMinute: 100_000 },
      db,
    });
    await app.listen({ host: '127.0.0.1', port: this.port });
    this.port = (app.server.address() as { port: number }).port;
    this.app = app;
    this.db = db;
  }

  /** Take the hub down and close its database (tills see their connections cut). */
  async stop(): Promise<void> {
    const { app, db } = this;
    this.app = null;
    this.db = null;
    app?.io.disconnectSockets(true);
    await app?.close();
    await db?.close();
  }

  cli(...argv: string[]): Promise<CliRun> {
    return runCliCaptured(argv, this.env);
  }

  backupFile(name: string): string {
    return join(this.dir, testDbKind() === 'postgres' ? `${name}.dump` : `${name}.tar.gz`);
  }

  enrolmentCode(locationId: string, id?: string): Promise<string> {
    return requestEnrolmentCode(this.url, this.adminToken, locationId, id);
  }

  /** GET a REST path as admin. */
  async get<T>(path: string): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      headers: { authorization: `Bearer ${this.adminToken}` },
    });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async close(): Promise<void> {
    await this.stop();
    if (testDbKind() === 'postgres') {
      const client = new pg.Client({ connectionString: testDatabaseUrl() });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(this.schema)} CASCADE`);
      } finally {
        await client.end();
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
