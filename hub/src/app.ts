import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { HubConfig } from './config.js';
import type { Database } from './db/database.js';
import { installErrorHandler } from './http/error-handler.js';
import auth from './plugins/app/auth.js';
import jobs from './plugins/app/jobs.js';
import orders from './plugins/app/orders.js';
import stockWriter from './plugins/app/stock-writer.js';
import webhooks, { type WebhookPluginOptions } from './plugins/app/webhooks.js';
import db from './plugins/external/db.js';
import rateLimit from './plugins/external/rate-limit.js';
import swagger from './plugins/external/swagger.js';
import v1 from './routes/v1/index.js';
import reservationFeed from './sync/reservation-feed.js';
import { attachSyncServer } from './sync/socket-server.js';

export interface BuildOptions {
  config: Pick<HubConfig, 'logLevel' | 'bodyLimit' | 'rateLimitPerMinute'> &
    Partial<Pick<HubConfig, 'orderTtlSeconds'>>;
  db: Database;
  /** Start background jobs on ready (default true; tests run them by hand). */
  jobs?: boolean;
  /** Webhook delivery tuning (tests shorten the timeout and backoff). */
  webhooks?: WebhookPluginOptions;
}

/** The hub's HTTP application (not listening yet): plugins, then routes. */
export async function buildApp({
  config,
  db: database,
  jobs: runJobs = true,
  webhooks: webhookOptions = {},
}: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    bodyLimit: config.bodyLimit,
    // Reject bodies/queries with prototype-polluting keys outright.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);

  await app.register(db, { db: database });
  await app.register(rateLimit, { perMinute: config.rateLimitPerMinute });
  await app.register(swagger);
  await app.register(auth);
  await app.register(stockWriter);
  await app.register(reservationFeed);
  await app.register(jobs, { autoStart: runJobs });
  await app.register(orders, { ttlSeconds: config.orderTtlSeconds });
  await app.register(webhooks, webhookOptions);

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  await app.register(v1, { prefix: '/v1' });
  app.decorate('io', attachSyncServer(app));
  return app;
}
