import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

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
    if (changes.length > 0) this.emit('changes', [...changes]);
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
