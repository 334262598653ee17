import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from './app.js';
import type { HubConfig } from './config.js';
import type { Database } from './db/database.js';
import { openDatabase } from './db/open.js';
import { bootstrapAdmin } from './services/bootstrap-admin.js';

export interface RunningHub {
  app: FastifyInstance;
  db: Database;
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** The 0600 file this start wrote a new bootstrap admin token to (first start only), else null. */
  bootstrapTokenFile: string | null;
  close(): Promise<void>;
}

/** Open the database, migrate, check the admin token (services/bootstrap-admin.ts), build the app and listen. */
export async function startHub(config: HubConfig, database?: Database): Promise<RunningHub> {
  const db = database ?? (await openDatabase(config));
  let bootstrapTokenFile: string | null;
  try {
    bootstrapTokenFile = await bootstrapAdmin(db, config);
  } catch (err) {
    if (!database) await db.close();
    throw err;
  }
  // Synchronous like pino's stdout: a line is in the file before the hub goes on, none is lost at exit.
  const logFile =
    config.logFile && config.logFile !== '-' && config.logLevel !== 'silent'
      ? pino.destination({ dest: config.logFile, mkdir: true, append: true, mode: 0o600, sync: true })
      : undefined;
  const app = await buildApp({
    config,
    db,
    webhooks: { retryScheduleMs: config.webhooks.retryScheduleMs },
    ...(logFile ? { logStream: logFile } : {}),
  });
  let address: string;
  try {
    address = await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    // Ready hooks query the database (jobs, the cluster adapter): a failure there leaves nothing open.
    await app.close().catch(() => undefined);
    logFile?.end();
    if (!database) await db.close();
    throw err;
  }
  return {
    app,
    db,
    url: address.replace('[::1]', '127.0.0.1'),
    bootstrapTokenFile,
    async close() {
      await app.close();
      logFile?.end();
      await db.close();
    },
  };
}
