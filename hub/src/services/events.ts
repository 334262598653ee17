import { newOpId } from '@tillsync/sync-protocol';
import type { Queryable } from '../db/database.js';

/** Event types the hub emits; webhooks subscribe to them (exactly, or by prefix: "order.*"). */
export type EventType =
  | 'order.created'
  | 'order.confirmed'
  | 'order.processing'
  | 'order.shipped'
  | 'order.delivered'
  | 'order.canceled'
  | 'order.returned'
  | 'order.at_risk'
  | 'order.reallocated'
  | 'stock.changed'
  /** Alerts (services/health/alerts.ts; conflict.opened and stock.low come from database triggers). */
  | 'stock.low'
  | 'conflict.opened'
  | 'till.offline'
  | 'till.online'
  | 'till.lagging'
  /** A till was ahead of the hub (restored from an older backup): sync/restore-recovery.ts. */
  | 'sync.incident'
  /** HQ triage: a person settled a conflict (POST /v1/conflicts/{id}/resolve). */
  | 'conflict.resolved'
  /** Sent to one webhook on request (POST /v1/webhooks/{id}/test); nobody subscribes to it. */
  | 'webhook.test';

export interface HubEvent {
  eventId: string;
  type: EventType;
  locationId: string | null;
  payload: Record<string, unknown>;
}

/**
 * Record a domain event in the caller's transaction: it exists if and only if the change it
 * describes committed. Delivery happens later, from the `events` table.
 */
export async function emitEvent(
  tx: Queryable,
  type: EventType,
  payload: Record<string, unknown>,
  locationId: string | null = null,
): Promise<HubEvent> {
  const eventId = newOpId();
  await tx.query('INSERT INTO events (event_id, type, location_id, payload) VALUES ($1, $2, $3, $4)', [
    eventId,
    type,
    locationId,
    JSON.stringify(payload),
  ]);
  return { eventId, type, locationId, payload };
}
