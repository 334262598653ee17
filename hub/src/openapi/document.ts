import { buildApp } from '../app.js';
import { PgliteDatabase } from '../db/pglite.js';

/**
 * The OpenAPI document exactly as the hub serves it at /openapi.json, without a running server:
 * the app is built on a throwaway in-memory PGlite (no migrations, nothing listens) and asked for
 * its document.
 */
export async function buildOpenapiDocument(): Promise<Record<string, unknown>> {
  const db = await PgliteDatabase.open(':memory:');
  try {
    const app = await buildApp({
      config: { logLevel: 'silent', bodyLimit: 1_048_576, rateLimitPerMinute: 600 },
      db,
      jobs: false,
    });
    try {
      await app.ready();
      return structuredClone(app.swagger()) as Record<string, unknown>;
    } finally {
      await app.close();
    }
  } finally {
    await db.close();
  }
}
