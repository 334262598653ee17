import { newOpId } from '@tillsync/sync-protocol';
import type { Queryable } from '../db/database.js';
import { BadRequestError } from '../errors.js';
import { decodeCursor, pageOf } from '../http/pagination.js';

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
  | 'webhook.test'
  /** An alert: a webhook's retries ran out and it was disabled (services/webhooks/delivery.ts). */
  | 'webhook.disabled';

/**
 * The payload shape events are written with now (schemas/webhook-events.ts); each event keeps the
 * version it was written with. The database triggers of migrations/019 write the same.
 */
export const EVENT_API_VERSION = '2026-12-04';

export interface HubEvent {
  eventId: string;
  type: EventType;
  locationId: string | null;
  payload: Record<string, unknown>;
}

/**
 * Record a domain event in the caller's transaction: it exists if and only if the change it
 * describes committed, and `data` is the object as of that change (not re-read at delivery).
 */
export async function emitEvent(
  tx: Queryable,
  type: EventType,
  data: Record<string, unknown>,
  locationId: string | null = null,
): Promise<HubEvent> {
  const eventId = newOpId();
  await tx.query(
    'INSERT INTO events (event_id, type, location_id, api_version, payload) VALUES ($1, $2, $3, $4, $5)',
    [eventId, type, locationId, EVENT_API_VERSION, JSON.stringify(data)],
  );
  return { eventId, type, locationId, payload: data };
}

/** Several events in one statement (a group commit's `stock.changed`, one per location). */
export async function emitEvents(
  tx: Queryable,
  events: ReadonlyArray<{ type: EventType; data: Record<string, unknown>; locationId: string | null }>,
): Promise<void> {
  if (events.length === 0) return;
  await tx.query(`WITH ${eventsInsertCte('inserted', '$1::jsonb')} SELECT 1`, [
    JSON.stringify(events.map((e) => eventRow(e.type, e.data, e.locationId))),
  ]);
}

/** An event as a row of `eventsInsertCte`'s document: what `emitEvent` writes, for many at once. */
export function eventRow(
  type: EventType,
  data: Record<string, unknown>,
  locationId: string | null = null,
): Record<string, unknown> {
  return {
    event_id: newOpId(),
    type,
    location_id: locationId,
    api_version: EVENT_API_VERSION,
    payload: data,
  };
}

/** A CTE (to follow a WITH) inserting the `eventRow`s of the jsonb array the SQL `source` gives. */
export function eventsInsertCte(name: string, source: string): string {
  return `${name} AS (
       INSERT INTO events (event_id, type, location_id, api_version, payload)
       SELECT * FROM jsonb_to_recordset(${source})
         AS e(event_id uuid, type text, location_id text, api_version text, payload jsonb))`;
}

/** An event as webhooks deliver it and GET /v1/events lists it (schemas/webhook-events.ts). */
export interface EventEnvelope {
  id: string;
  type: string;
  timestamp: string;
  apiVersion: string;
  data: Record<string, unknown>;
}

export interface EventRow {
  event_id: string;
  type: string;
  api_version: string;
  payload: Record<string, unknown>;
  created_at: Date;
}

export const toEnvelope = (r: EventRow): EventEnvelope => ({
  id: r.event_id,
  type: r.type,
  timestamp: r.created_at.toISOString(),
  apiVersion: r.api_version,
  data: r.payload,
});

export interface EventLogQuery {
  limit: number;
  cursor?: string | undefined;
  types?: string[] | undefined;
  since?: Date | undefined;
}

/**
 * The event log for backfill, oldest first: after the cursor (an id), of the given types, written
 * at or after `since`. webhook.test events (sent to one webhook) are left out.
 */
export async function listEvents(
  db: Queryable,
  q: EventLogQuery,
): Promise<{ items: EventEnvelope[]; nextCursor: string | null }> {
  const after = q.cursor ? decodeCursor(q.cursor, 1)[0] : null;
  if (after !== null && !Number.isSafeInteger(after))
    throw new BadRequestError('querystring.cursor: not a cursor returned by this endpoint', {
      field: 'cursor',
    });
  const { rows } = await db.query<EventRow & { id: number }>(
    `SELECT id::float8 AS id, event_id, type, api_version, payload, created_at FROM events
     WHERE type <> 'webhook.test' AND ($1::text[] IS NULL OR type = ANY($1::text[]))
       AND ($2::timestamptz IS NULL OR created_at >= $2) AND ($3::bigint IS NULL OR id > $3)
     ORDER BY id LIMIT $4`,
    [q.types ?? null, q.since ?? null, after, q.limit + 1],
  );
  return pageOf(rows, q.limit, (r) => [r.id], toEnvelope);
}
