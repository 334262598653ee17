import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Database } from '../../db/database.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Database;
  }
}

/** Exposes the (already opened and migrated) database; closing it is the owner's job. */
export default fp(
  async (app: FastifyInstance, opts: { db: Database }) => {
    app.decorate('db', opts.db);
  },
  { name: 'db' },
);
