import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { DEFAULT_ORDER_TTL_SECONDS } from '../../config.js';
import { expireDueOrders, type OrderContext, orderCreations } from '../../services/orders/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** What the order routes and jobs share: database, stock writer, reservation feed, order TTL, the group commit of new orders. */
    orders: OrderContext;
  }
}

const EXPIRY_INTERVAL_MS = 15_000;

/** Online orders: their context for the routes, and the reservation-expiry job. */
export default fp(
  async (app: FastifyInstance, opts: { ttlSeconds?: number }) => {
    const parts = {
      db: app.db,
      stock: app.stock,
      feed: app.reservationFeed,
      ttlSeconds: opts.ttlSeconds ?? DEFAULT_ORDER_TTL_SECONDS,
    };
    const ctx: OrderContext = { ...parts, creations: orderCreations(parts) };
    app.decorate('orders', ctx);
    app.jobs.register({
      name: 'reservation-expiry',
      intervalMs: EXPIRY_INTERVAL_MS,
      run: () => expireDueOrders(ctx),
    });
  },
  { name: 'orders', dependencies: ['db', 'jobs', 'stock-writer', 'reservation-feed'] },
);
