import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { StockWriter } from '../../ledger/writer.js';

declare module 'fastify' {
  interface FastifyInstance {
    stock: StockWriter;
  }
}

/** The app's one stock door (ledger/writer.ts), as `app.stock`. */
export default fp(
  async (app: FastifyInstance, options: { maxClockAheadMs?: number }) => {
    app.decorate('stock', new StockWriter(app.db, options));
  },
  { name: 'stock-writer', dependencies: ['db'] },
);
