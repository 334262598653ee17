import { createAdapter } from '@socket.io/postgres-adapter';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { ServerOptions } from 'socket.io';
import { PostgresDatabase } from '../db/postgres.js';

/*
 * Several hub instances on one Postgres: Socket.IO broadcasts (stock, reservations, device
 * disconnects) and `fetchSockets` reach the tills of every instance through LISTEN/NOTIFY
 * (@socket.io/postgres-adapter; one pool connection per instance stays checked out for LISTEN).
 * NOTIFY channels are per database, not per schema: the channel is named after the schema, so
 * hubs on different schemas of one database (each test has its own) never hear each other.
 * On PGlite there is no adapter: such a hub is a single instance.
 */

export type SyncAdapter = NonNullable<ServerOptions['adapter']>;

/** The cluster adapter for the app's database, or null where the hub runs alone (PGlite). */
export async function clusterAdapter(app: FastifyInstance): Promise<SyncAdapter | null> {
  const db = app.db;
  if (!(db instanceof PostgresDatabase)) return null;
  const { rows } = await db.query<{ schema: string | null }>('SELECT current_schema() AS schema');
  const pool = new ListenerPool(db.pool, () =>
    app.log.warn('Socket.IO cluster LISTEN connection lost; the adapter reconnects'),
  );
  const factory = createAdapter(pool.asPool(), {
    channelPrefix: `tillsync:${rows[0]?.schema ?? 'public'}`,
    errorHandler: (err) => app.log.warn({ err }, 'Socket.IO cluster adapter error'),
  });
  const open = new Set<unknown>();
  // Socket.IO calls this with `new`: a function, not an arrow.
  return function forNamespace(nsp: Parameters<typeof factory>[0]) {
    const adapter = factory(nsp);
    open.add(adapter);
    const close = adapter.close.bind(adapter);
    adapter.close = () => {
      close();
      open.delete(adapter);
      if (open.size === 0) pool.close();
    };
    return adapter;
  };
}

/**
 * The pool as the adapter sees it. The adapter takes its LISTEN connection asynchronously and
 * keeps it only once LISTEN is set up: one still being set up when the hub closes would stay
 * checked out for good (and `pool.end()` wait for it forever). Once the adapter is closed, this
 * hands back whatever it still holds, and a later request for a connection never settles, so the
 * adapter neither holds nor retries anything.
 *
 * A LISTEN connection that dies (Postgres restart, pg_terminate_backend) ends: the adapter then
 * takes a new one in about 2 s and LISTENs again, but never hands the dead one back, so this does,
 * or every loss would keep one of the pool's slots for good. (Its 'error' is heard by the pool's
 * own listener, db/postgres.ts.)
 */
class ListenerPool {
  private readonly held = new Set<pg.PoolClient>();
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly onLost: () => void,
  ) {}

  async connect(): Promise<pg.PoolClient> {
    const client = await this.pool.connect();
    if (this.closed) {
      client.release();
      return new Promise<never>(() => undefined);
    }
    const release = client.release.bind(client);
    let released = false;
    const done = (err?: Error | boolean) => {
      if (released) return;
      released = true;
      client.off('end', onEnd);
      this.held.delete(client);
      release(err);
    };
    const onEnd = () => {
      if (!this.closed) this.onLost();
      done(true);
    };
    client.release = done;
    client.once('end', onEnd);
    this.held.add(client);
    return client;
  }

  close(): void {
    this.closed = true;
    for (const client of [...this.held]) client.release();
  }

  /** The adapter calls only `connect` and `query` (promise forms). */
  asPool(): pg.Pool {
    return { connect: () => this.connect(), query: this.pool.query.bind(this.pool) } as unknown as pg.Pool;
  }
}
