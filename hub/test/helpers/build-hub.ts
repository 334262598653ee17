import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/app.js';
import type { HubConfig } from '../../src/config.js';
import { type ApiRole, createApiToken, ensureBootstrapAdmin } from '../../src/services/tokens.js';
import { createTestDatabase, type TestDatabase } from './test-db.js';

/** An injected response with its JSON body parsed. */
export type TestResponse = Omit<LightMyRequestResponse, 'body'> & { body: unknown; text: string };

export interface TestHub {
  app: FastifyInstance;
  /** Start listening on a free loopback port (for real socket clients); returns the base URL. */
  listen(): Promise<string>;
  database: TestDatabase;
  adminToken: string;
  /** A new token of this role (store managers need their location). */
  token(role: ApiRole, locationId?: string): Promise<string>;
  /** `app.inject` with the token as bearer (admin unless given) and JSON parsed. */
  request(opts: InjectOptions & { token?: string | null }): Promise<TestResponse>;
  close(): Promise<void>;
}

/** Tests' webhook receivers listen on loopback: allow-listed as an operator would (README). */
export const TEST_WEBHOOK_ALLOW_HOSTS = ['127.0.0.1'];

/** The real hub app on a fresh database (PGlite or a fresh Postgres schema); no listening socket. */
export async function buildTestHub(
  options: {
    rateLimitPerMinute?: number;
    webhookAllowHosts?: string[];
    http?: HubConfig['http'];
    idempotencyWaitMs?: number;
  } = {},
): Promise<TestHub> {
  const database = await createTestDatabase();
  const app = await buildApp({
    config: {
      logLevel: 'silent',
      bodyLimit: 1_048_576,
      rateLimitPerMinute: options.rateLimitPerMinute ?? 100_000,
      webhookAllowHosts: options.webhookAllowHosts ?? TEST_WEBHOOK_ALLOW_HOSTS,
      ...(options.http ? { http: options.http } : {}),
    },
    db: database.db,
    // Background jobs run when a test calls app.jobs.runNow(name), never on a timer.
    jobs: false,
    idempotencyWaitMs: options.idempotencyWaitMs,
  });
  await app.ready();
  const adminToken = (await ensureBootstrapAdmin(database.db))!;
  return {
    app,
    listen: () => app.listen({ host: '127.0.0.1', port: 0 }),
    database,
    adminToken,
    token: async (role, locationId) =>
      (await createApiToken(database.db, { name: `test ${role}`, role, locationId: locationId ?? null }))
        .token,
    async request({ token, ...opts }) {
      const headers = { ...(opts.headers ?? {}) } as Record<string, string>;
      const bearer = token === undefined ? adminToken : token;
      if (bearer) headers.authorization = `Bearer ${bearer}`;
      const res = await app.inject({ ...opts, headers });
      const text = res.body;
      let body: unknown = text;
      if (String(res.headers['content-type'] ?? '').includes('json') && text) body = JSON.parse(text);
      return Object.assign(res, { body, text });
    },
    async close() {
      await app.close();
      await database.drop();
    },
  };
}
