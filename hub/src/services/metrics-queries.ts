import type { Queryable } from '../db/database.js';

/*
 * What /metrics reads from the database at scrape time. Each is one aggregate over a small or
 * indexed set: device_status (a row per till), held allocations (partial index), open orders
 * (partial index, migration 008), webhook deliveries not yet settled (partial index, migration 005).
 */

export interface LocationOutbox {
  locationId: string;
  /** Ops waiting on the connected tills of the location, as of their last heartbeat. */
  depth: number;
  /** The oldest of those ops' age, as of that heartbeat (0 when nothing waits). */
  oldestAgeMs: number;
}

export async function outboxByLocation(db: Queryable): Promise<LocationOutbox[]> {
  const { rows } = await db.query<{ location_id: string; depth: number; oldest_ms: number | null }>(
    `SELECT d.location_id, sum(s.outbox_depth)::int AS depth, max(s.oldest_unsynced_age_ms) AS oldest_ms
     FROM device_status s JOIN devices d ON d.id = s.device_id
     WHERE s.connected AND s.outbox_depth IS NOT NULL
     GROUP BY d.location_id`,
  );
  return rows.map((r) => ({ locationId: r.location_id, depth: r.depth, oldestAgeMs: r.oldest_ms ?? 0 }));
}

/** Units held for online orders and channel holds, per location. */
export async function reservedUnitsByLocation(
  db: Queryable,
): Promise<Array<{ locationId: string; units: number }>> {
  const { rows } = await db.query<{ location_id: string; units: number }>(
    `SELECT location_id, sum(qty)::int AS units FROM allocations WHERE status = 'held' GROUP BY location_id`,
  );
  return rows.map((r) => ({ locationId: r.location_id, units: r.units }));
}

/** The order statuses that still hold stock. */
export const OPEN_ORDER_STATUSES = ['pending', 'confirmed', 'processing'] as const;
export type OpenOrderStatus = (typeof OPEN_ORDER_STATUSES)[number];

/** Online orders (not channel holds) still holding stock, by status; every status present. */
export async function openOrdersByStatus(db: Queryable): Promise<Record<OpenOrderStatus, number>> {
  const { rows } = await db.query<{ status: OpenOrderStatus; n: number }>(
    `SELECT status, count(*)::int AS n FROM orders
     WHERE kind = 'order' AND status IN ('pending', 'confirmed', 'processing')
     GROUP BY status`,
  );
  const counts = { pending: 0, confirmed: 0, processing: 0 };
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}

/** Webhook deliveries still to be made (due, retrying, or claimed and in flight), by webhook. */
export async function pendingDeliveriesByWebhook(
  db: Queryable,
): Promise<Array<{ webhookId: string; pending: number }>> {
  const { rows } = await db.query<{ webhook_id: string; n: number }>(
    `SELECT webhook_id, count(*)::int AS n FROM webhook_deliveries
     WHERE status IN ('pending', 'sending') GROUP BY webhook_id`,
  );
  return rows.map((r) => ({ webhookId: r.webhook_id, pending: r.n }));
}
