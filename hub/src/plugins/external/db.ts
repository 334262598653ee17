import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Database } from '../../db/database.js';
import { PostgresDatabase } from '../../db/postgres.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Database;
  }
}

/** Exposes the (already opened and migrated) database; closing it is the owner's job. */
export default fp(
  async (app: FastifyInstance, opts: { db: Database }) => {
    app.decorate('db', opts.db);
    if (opts.db instanceof PostgresDatabase) {
      // The pool has already dropped the dead connection and opens a new one when next needed.
      const off = opts.db.onConnectionError((err) =>
        app.log.warn({ err }, 'Postgres connection lost; the pool replaces it'),
      );
      app.addHook('onClose', async () => off());
    }
  },
  { name: 'db' },
);
