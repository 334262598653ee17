import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { HubConfig } from './config.js';
import type { Database } from './db/database.js';
import { openDatabase } from './db/open.js';
import { ensureBootstrapAdmin } from './services/tokens.js';

export interface RunningHub {
  app: FastifyInstance;
  db: Database;
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** The bootstrap admin token if this start created it (first start only), else null. */
  bootstrapToken: string | null;
  close(): Promise<void>;
}

/** Open the database, migrate, build the app and listen. */
export async function startHub(config: HubConfig, database?: Database): Promise<RunningHub> {
  const db = database ?? (await openDatabase(config));
  const bootstrapToken = await ensureBootstrapAdmin(db);
  const { retryBaseMs, retryMaxMs, maxAttempts } = config.webhooks;
  const app = await buildApp({
    config,
    db,
    webhooks: { baseDelayMs: retryBaseMs, maxDelayMs: retryMaxMs, maxAttempts },
  });
  const address = await app.listen({ host: config.host, port: config.port });
  return {
    app,
    db,
    url: address.replace('[::1]', '127.0.0.1'),
    bootstrapToken,
    async close() {
      await app.close();
      await db.close();
    },
  };
}
