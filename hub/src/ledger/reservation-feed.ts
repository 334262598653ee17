import { EventEmitter } from 'node:events';
import type { ReservationChange } from '@tillsync/sync-protocol';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Queryable } from '../db/database.js';
import { afterCommit } from '../db/request-transaction.js';

/** One allocation's new state at a location, as the tills of that location must learn it. */
export interface ReservationChangeAt {
  locationId: string;
  orderId: string;
  sku: string;
  qty: number;
  status: 'held' | 'released' | 'fulfilled';
  expiresAt: number | null;
}

/**
 * Reservation changes, announced after the transaction that made them commits; the sync layer
 * forwards them to the tills of each location.
 */
export class ReservationFeed extends EventEmitter<{ changes: [ReservationChangeAt[]] }> {
  publish(changes: readonly ReservationChangeAt[]): void {
    if (changes.length === 0) return;
    const copy = [...changes];
    afterCommit(() => this.emit('changes', copy));
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    reservationFeed: ReservationFeed;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    app.decorate('reservationFeed', new ReservationFeed());
  },
  { name: 'reservation-feed' },
);

/** Everything held at a location now: the snapshot a till gets after hello. */
export async function heldReservations(db: Queryable, locationId: string): Promise<ReservationChange[]> {
  const { rows } = await db.query<{ order_id: string; sku: string; qty: number; expires_at: Date | null }>(
    `SELECT a.order_id, a.sku, sum(a.qty)::int AS qty, o.expires_at
     FROM allocations a JOIN orders o ON o.id = a.order_id
     WHERE a.location_id = $1 AND a.status = 'held'
     GROUP BY a.order_id, a.sku, o.expires_at
     ORDER BY a.order_id, a.sku`,
    [locationId],
  );
  return rows.map((r) => ({
    orderId: r.order_id,
    sku: r.sku,
    qty: r.qty,
    status: 'held',
    expiresAt: r.expires_at?.getTime() ?? null,
  }));
}
