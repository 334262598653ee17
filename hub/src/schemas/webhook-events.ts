import { LocationId, Sku } from '@tillsync/sync-protocol';
import { z } from 'zod';
import { EVENT_API_VERSION, type EventType } from '../services/events.js';
import { Conflict } from './conflicts.js';
import { OrderDetail, OrderStatus } from './orders.js';
import { Webhook } from './webhooks.js';

/*
 * The events webhooks deliver and GET /v1/events lists: one schema per event type, of the whole
 * event. `data` is the object as of the event, written in the transaction of the change, so a
 * receiver never has to call back to learn what happened. Events written before apiVersion
 * 2026-12-04 (kept 30 days) carry the thin payloads of that time.
 */

const OrderChange = z
  .object({
    from: OrderStatus.nullable().describe('The status before; null for a new order'),
    to: OrderStatus,
    reason: z.string().nullable().describe('"created", "reallocated", "at_risk", a cancel reason, …'),
    details: z.record(z.string(), z.unknown()).describe('What moved: allocations, the SKU and quantity, …'),
  })
  .meta({ id: 'OrderChange' });

/** An order as GET /v1/orders/{id} shows it after the change, and the change itself. */
const OrderEventData = OrderDetail.extend({ change: OrderChange }).meta({ id: 'OrderEventData' });

const StockRow = z
  .object({
    sku: Sku,
    onHand: z.number().int(),
    reserved: z.number().int(),
    available: z.number().int().describe('onHand − reserved'),
    incoming: z.number().int(),
    damaged: z.number().int(),
    version: z.number().int().describe('Bumped by every write to the row'),
  })
  .meta({ id: 'StockRowSnapshot' });

const StockChanged = z
  .object({ locationId: LocationId, rows: z.array(StockRow).describe('Every row the write changed') })
  .meta({ id: 'StockChangedData' });

const StockLow = StockRow.extend({ locationId: LocationId, reorderPoint: z.number().int() }).meta({
  id: 'StockLowData',
});

const TillEpisode = z
  .object({
    deviceId: z.string(),
    deviceName: z.string(),
    locationId: LocationId,
    offlineSince: z.string().nullable(),
    connectedAt: z.string().nullable(),
    outboxDepth: z.number().int().nullable(),
    oldestUnsyncedAgeMs: z.number().int().nullable(),
  })
  .meta({ id: 'TillAlertData' });

const SyncIncident = z
  .object({
    incidentId: z.number().int(),
    deviceId: z.string(),
    locationId: LocationId,
    hubSeq: z.number().int(),
    tillSeq: z.number().int(),
    resendFrom: z.number().int(),
    opsResent: z.number().int(),
    opsLost: z.number().int(),
    lostFrom: z.number().int().nullable(),
    lostTo: z.number().int().nullable(),
  })
  .meta({ id: 'SyncIncidentData' });

const DATA: Record<EventType, z.ZodType> = {
  'order.created': OrderEventData,
  'order.confirmed': OrderEventData,
  'order.processing': OrderEventData,
  'order.shipped': OrderEventData,
  'order.delivered': OrderEventData,
  'order.canceled': OrderEventData,
  'order.returned': OrderEventData,
  'order.at_risk': OrderEventData,
  'order.reallocated': OrderEventData,
  'stock.changed': StockChanged,
  'stock.low': StockLow,
  'conflict.opened': Conflict,
  'conflict.resolved': Conflict,
  'till.offline': TillEpisode,
  'till.online': TillEpisode,
  'till.lagging': TillEpisode,
  'sync.incident': SyncIncident,
  'webhook.test': z.object({ webhookId: z.uuid() }).meta({ id: 'WebhookTestData' }),
  'webhook.disabled': Webhook,
};

const componentId = (type: string) =>
  `${type
    .split(/[._]/)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('')}Event`;

/** The whole event of one type: the body of a webhook delivery, and an item of GET /v1/events. */
function envelope(type: EventType, data: z.ZodType): z.ZodType {
  return z
    .object({
      id: z.uuid().describe('The event id: also the webhook-id header, the same on every (re)delivery'),
      type: z.literal(type),
      timestamp: z.string().describe('When the change happened (ISO 8601, UTC)'),
      apiVersion: z.string().describe(`The payload shape's version; ${EVENT_API_VERSION} for this schema`),
      data,
    })
    .meta({ id: componentId(type) });
}

/** Event type → zod schema of the whole event (the OpenAPI `webhooks` section is generated from it). */
export const WEBHOOK_EVENT_PAYLOADS: Record<string, z.ZodType> = Object.fromEntries(
  Object.entries(DATA).map(([type, data]) => [type, envelope(type as EventType, data)]),
);

/** Any event, as GET /v1/events lists them. */
export const AnyEvent = z
  .object({
    id: z.uuid(),
    type: z.string().describe(Object.keys(DATA).join(', ')),
    timestamp: z.string(),
    apiVersion: z.string(),
    data: z.record(z.string(), z.unknown()).describe('The object as of the event: see the webhooks section'),
  })
  .meta({ id: 'Event' });
