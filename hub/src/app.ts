import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { DestinationStream } from 'pino';
import { type HubConfig, HubConfig as HubConfigSchema } from './config.js';
import type { Database } from './db/database.js';
import { attachHqFeed } from './hq/feed.js';
import hqPage from './hq/page.js';
import { frameworkErrors, installErrorHandler } from './http/error-handler.js';
import idempotency, { type IdempotencyOptions } from './http/idempotency.js';
import { genReqId, installRequestIdHeader } from './http/request-id.js';
import reservationFeed from './ledger/reservation-feed.js';
import { installDrain, installLifecycle } from './lifecycle.js';
import auth from './plugins/app/auth.js';
import health from './plugins/app/health.js';
import jobs from './plugins/app/jobs.js';
import metrics from './plugins/app/metrics.js';
import orders from './plugins/app/orders.js';
import retention, { type RetentionPluginOptions } from './plugins/app/retention.js';
import stockWriter from './plugins/app/stock-writer.js';
import webhooks, { type WebhookPluginOptions } from './plugins/app/webhooks.js';
import db from './plugins/external/db.js';
import rateLimit from './plugins/external/rate-limit.js';
import swagger from './plugins/external/swagger.js';
import metricsRoute from './routes/metrics.js';
import probes from './routes/probes.js';
import v1 from './routes/v1/index.js';
import { clusterAdapter } from './sync/cluster.js';
import { attachSyncServer } from './sync/socket-server.js';

export interface BuildOptions {
  config: Pick<HubConfig, 'logLevel' | 'bodyLimit' | 'rateLimitPerMinute'> &
    Partial<
      Pick<
        HubConfig,
        'orderTtlSeconds' | 'health' | 'maxClockAheadMs' | 'webhookAllowHosts' | 'retention' | 'http'
      >
    >;
  db: Database;
  /** Start background jobs on ready (default true; tests run them by hand). */
  jobs?: boolean;
  /** Webhook delivery tuning (tests shorten the timeout and backoff). */
  webhooks?: WebhookPluginOptions;
  /** Retention chunking (tests make chunks small); the windows come from config. */
  retention?: RetentionPluginOptions;
  /** How long a request waits for another with its Idempotency-Key (tests shorten it). */
  idempotencyWaitMs?: number;
  /** Where the pino JSON log goes (default stdout; tests capture it). */
  logStream?: DestinationStream;
}

/** The hub's HTTP application (not listening yet): plugins, then routes. */
export async function buildApp({
  config,
  db: database,
  jobs: runJobs = true,
  webhooks: webhookOptions = {},
  retention: retentionOptions = {},
  idempotencyWaitMs,
  logStream,
}: BuildOptions): Promise<FastifyInstance> {
  const timeouts = config.http ?? HubConfigSchema.shape.http.parse(undefined);
  const app = Fastify({
    logger:
      config.logLevel === 'silent'
        ? false
        : { level: config.logLevel, ...(logStream ? { stream: logStream } : {}) },
    genReqId,
    frameworkErrors,
    bodyLimit: config.bodyLimit,
    // A slow or stalled client cannot hold a connection open: the request must arrive in time.
    requestTimeout: timeouts.requestTimeoutMs,
    connectionTimeout: timeouts.connectionTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    // Given to Node at creation too: its headers timeout then defaults to at most this (else 60 s
    // wins), and it checks on an interval (default 30 s) fine enough for the timeout.
    http: {
      requestTimeout: timeouts.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(30_000, Math.ceil(timeouts.requestTimeoutMs / 2)),
    },
    // Reject bodies/queries with prototype-polluting keys outright.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // lifecycle.ts answers requests that arrive while the hub drains (our error shape, probes let through).
    return503OnClosing: false,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);
  installRequestIdHeader(app);
  installLifecycle(app);

  await app.register(db, { db: database });
  await app.register(metrics);
  await app.register(rateLimit, { perMinute: config.rateLimitPerMinute });
  await app.register(swagger);
  await app.register(auth);
  // Before any route: it wraps every POST/PATCH route registered after it.
  const keys: IdempotencyOptions = { ttlMs: config.retention?.idempotencyKeysMs, waitMs: idempotencyWaitMs };
  await app.register(idempotency, keys);
  await app.register(stockWriter, { maxClockAheadMs: config.maxClockAheadMs });
  await app.register(reservationFeed);
  await app.register(jobs, { autoStart: runJobs });
  await app.register(orders, { ttlSeconds: config.orderTtlSeconds });
  await app.register(webhooks, { allowHosts: config.webhookAllowHosts ?? [], ...webhookOptions });
  await app.register(health, { thresholds: config.health });
  await app.register(retention, { ...config.retention, ...retentionOptions });

  await app.register(probes);
  await app.register(metricsRoute);
  await app.register(v1, { prefix: '/v1' });
  await app.register(hqPage);
  app.decorate('io', attachSyncServer(app, await clusterAdapter(app)));
  attachHqFeed(app);
  installDrain(app);
  return app;
}
