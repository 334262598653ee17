export { buildApp } from './app.js';
export { configFromEnv, HubConfig } from './config.js';
export type { Database, Queryable } from './db/database.js';
export { migrate } from './db/migrate.js';
export { openDatabase } from './db/open.js';
export { PgliteDatabase } from './db/pglite.js';
export { PostgresDatabase } from './db/postgres.js';
export { type RunningHub, startHub } from './server.js';
export { createApiToken } from './services/tokens.js';
