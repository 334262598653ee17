import type { OpResult } from '@tillsync/sync-protocol';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Database, PoolStats } from '../../db/database.js';
import {
  OPEN_ORDER_STATUSES,
  openOrdersByStatus,
  outboxByLocation,
  pendingDeliveriesByWebhook,
  reservedUnitsByLocation,
} from '../../services/metrics-queries.js';

/*
 * Prometheus metrics (served by routes/metrics.ts). Each app has its own registry: tests build many
 * apps in one process, and two hubs must not count into each other. Counters and histograms move as
 * things happen; the gauges read their value when scraped.
 */

/** The route label of requests no route matched (any path would explode the label's values). */
export const UNMATCHED_ROUTE = 'unmatched';

export interface MetricSources {
  db: Database;
  /** Tills connected to this hub instance now. */
  connections(): number;
  log: FastifyBaseLogger;
}

let processRegistry: Registry | undefined;

/**
 * Node's process metrics (CPU, memory, event loop, GC) belong to the process, not to an app, and
 * their GC observer and event-loop monitor cannot be stopped: collected once per process, into a
 * registry of their own that every app's output includes.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class HubMetrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;

  readonly httpDuration = new Histogram({
    name: 'tillsync_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [this.registry],
  });

  readonly syncOps = new Counter({
    name: 'tillsync_sync_ops_total',
    help: 'Till ops answered in push acks, by result (applied, duplicate, rejected)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly pushBatchSize = new Histogram({
    name: 'tillsync_sync_push_batch_size',
    help: 'Ops per push batch',
    buckets: [1, 5, 10, 25, 50, 100, 250, 500],
    registers: [this.registry],
  });

  readonly pushApplySeconds = new Histogram({
    name: 'tillsync_sync_push_apply_seconds',
    help: 'Time to apply one push batch (one database transaction), in seconds',
    registers: [this.registry],
  });

  readonly webhookFailures = new Counter({
    name: 'tillsync_webhook_delivery_failures_total',
    help: 'Failed webhook delivery attempts, by outcome (retrying, or failed: given up)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** Pool occupancy taken as a scrape starts, before the scrape's own queries queue up. */
  private poolAtScrape: PoolStats | null = null;

  constructor(private readonly sources: MetricSources) {
    const { db, log } = sources;
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      read: (g: Gauge<L>) => Promise<void> | void,
    ) =>
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers: [this.registry],
        // A failing read leaves this metric out of the scrape, never the whole scrape.
        async collect() {
          this.reset();
          try {
            await read(this);
          } catch (err) {
            log.warn({ err, metric: name }, 'metric not collected');
          }
        },
      });

    gauge('tillsync_sync_connections', 'Tills connected to this hub instance', [], (g) =>
      g.set(sources.connections()),
    );
    gauge(
      'tillsync_outbox_depth',
      'Ops waiting in the outboxes of connected tills, per location (last heartbeat)',
      ['location'],
      async (g) => {
        for (const o of await outboxByLocation(db)) g.set({ location: o.locationId }, o.depth);
      },
    );
    gauge(
      'tillsync_outbox_oldest_unsynced_seconds',
      'Age of the oldest op waiting on a connected till, per location (last heartbeat)',
      ['location'],
      async (g) => {
        for (const o of await outboxByLocation(db)) g.set({ location: o.locationId }, o.oldestAgeMs / 1000);
      },
    );
    gauge(
      'tillsync_reserved_units',
      'Units held for online orders and channel holds, per location',
      ['location'],
      async (g) => {
        for (const r of await reservedUnitsByLocation(db)) g.set({ location: r.locationId }, r.units);
      },
    );
    gauge('tillsync_orders_open', 'Online orders still holding stock, by status', ['status'], async (g) => {
      const counts = await openOrdersByStatus(db);
      for (const status of OPEN_ORDER_STATUSES) g.set({ status }, counts[status]);
    });
    gauge(
      'tillsync_webhook_deliveries_pending',
      'Webhook deliveries not yet made (due, retrying after a failure, or in flight), per webhook',
      ['webhook'],
      async (g) => {
        for (const d of await pendingDeliveriesByWebhook(db)) g.set({ webhook: d.webhookId }, d.pending);
      },
    );
    const pool = (name: string, help: string, pick: (s: PoolStats) => number) =>
      gauge(name, help, [], (g) => g.set(pick(this.poolAtScrape ?? db.poolStats())));
    pool('tillsync_db_pool_connections', 'Open database connections (PGlite: 1)', (s) => s.total);
    pool('tillsync_db_pool_idle', 'Idle database connections', (s) => s.idle);
    pool(
      'tillsync_db_pool_waiting',
      'Queries waiting for a connection (PGlite: queued for its one connection)',
      (s) => s.waiting,
    );
  }

  /** One push batch answered: its ops by result, its size, how long it took. */
  observePush(results: readonly OpResult[], seconds: number): void {
    for (const r of results) this.syncOps.inc({ result: r.status });
    this.pushBatchSize.observe(results.length);
    this.pushApplySeconds.observe(seconds);
  }

  /** The exposition text: this app's metrics and the process's. */
  async text(): Promise<string> {
    this.poolAtScrape = this.sources.db.poolStats();
    try {
      return await Registry.merge([this.registry, processMetrics()]).metrics();
    } finally {
      this.poolAtScrape = null;
    }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: HubMetrics;
  }
}

/** Registered early, so the request-duration hook sees every route registered after it. */
export default fp(
  async (app: FastifyInstance) => {
    const metrics = new HubMetrics({
      db: app.db,
      connections: () => (app.hasDecorator('io') ? app.io.of('/').sockets.size : 0),
      log: app.log,
    });
    app.decorate('metrics', metrics);
    app.addHook('onResponse', async (request, reply) => {
      metrics.httpDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? UNMATCHED_ROUTE,
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
    });
  },
  { name: 'metrics', dependencies: ['db'] },
);
