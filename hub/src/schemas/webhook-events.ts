import { z } from 'zod';
import type { EventType } from '../services/events.js';
import { OrderStatus } from './orders.js';

/*
 * The body of every webhook delivery, per event type: `{eventId, type, createdAt, data}`
 * (services/webhooks/sender.ts), `data` being the payload the emitting code records
 * (services/events.ts `emitEvent`, and the triggers of migrations/006_health.sql). The OpenAPI
 * document's `webhooks` section is generated from WEBHOOK_EVENT_PAYLOADS, one entry per type.
 */

const Placement = z.object({ locationId: z.string(), sku: z.string(), qty: z.number().int() });

const OrderTransition = z.looseObject({
  orderId: z.string(),
  status: OrderStatus,
  previousStatus: OrderStatus,
  channel: z.string(),
  reason: z.string().nullable(),
});

const TillEpisode = z.object({
  deviceId: z.string(),
  deviceName: z.string().nullable(),
  locationId: z.string(),
  offlineSince: z.string().nullable(),
  connectedAt: z.string().nullable(),
  outboxDepth: z.number().int().nullable(),
  oldestUnsyncedAgeMs: z.number().int().nullable(),
});

const envelope = <T extends EventType>(type: T, data: z.ZodType, description: string) =>
  z
    .object({
      eventId: z.string().describe('Unique per event: de-duplicate on it (delivery is at-least-once)'),
      type: z.literal(type),
      createdAt: z.string().describe('When the event was recorded (ISO 8601)'),
      data,
    })
    .describe(description);

export const WEBHOOK_EVENT_PAYLOADS = {
  'order.created': envelope(
    'order.created',
    z.object({
      orderId: z.string(),
      status: z.literal('pending'),
      channel: z.string(),
      lines: z.array(z.object({ sku: z.string(), qty: z.number().int() })),
      allocations: z.array(Placement),
    }),
    'An order was created and its stock reserved',
  ),
  'order.confirmed': envelope('order.confirmed', OrderTransition, 'Payment received: pending → confirmed'),
  'order.processing': envelope('order.processing', OrderTransition, 'Picking started'),
  'order.shipped': envelope('order.shipped', OrderTransition, 'The order left its locations'),
  'order.delivered': envelope('order.delivered', OrderTransition, 'Delivered or handed over'),
  'order.canceled': envelope('order.canceled', OrderTransition, 'Canceled (or expired unpaid)'),
  'order.returned': envelope('order.returned', OrderTransition, 'Returned units were restocked'),
  'order.at_risk': envelope(
    'order.at_risk',
    z.object({
      orderId: z.string(),
      kind: z.enum(['order', 'external']),
      sku: z.string(),
      short: z.number().int(),
      fulfilment: z.enum(['shipping', 'pickup']),
      locationId: z.string(),
    }),
    'An offline sale took units the order held, and they could not be moved elsewhere',
  ),
  'order.reallocated': envelope(
    'order.reallocated',
    z.object({
      orderId: z.string(),
      from: z.string(),
      sku: z.string(),
      qty: z.number().int(),
      to: z.array(Placement),
    }),
    'Held units lost to an offline sale were moved to other locations',
  ),
  'stock.changed': envelope(
    'stock.changed',
    z.object({
      locationId: z.string(),
      rows: z.array(
        z.object({
          sku: z.string(),
          onHand: z.number().int(),
          reserved: z.number().int(),
          available: z.number().int(),
          incoming: z.number().int(),
          damaged: z.number().int(),
          version: z.number().int(),
        }),
      ),
    }),
    'Stock rows at one location changed (one event per location and transaction)',
  ),
  'stock.low': envelope(
    'stock.low',
    z.object({
      locationId: z.string(),
      sku: z.string(),
      onHand: z.number().int(),
      reserved: z.number().int(),
      available: z.number().int(),
      reorderPoint: z.number().int(),
    }),
    'A row fell to or below its reorder point',
  ),
  'conflict.opened': envelope(
    'conflict.opened',
    z.object({
      conflictId: z.number().int(),
      locationId: z.string(),
      kind: z.string(),
      sku: z.string().nullable(),
      opId: z.string().nullable(),
      details: z.unknown(),
    }),
    'The hub settled a conflict (an oversell, a mismatch) that HQ should look at',
  ),
  'conflict.resolved': envelope(
    'conflict.resolved',
    z.object({
      conflictId: z.number().int(),
      locationId: z.string(),
      kind: z.string(),
      sku: z.string().nullable(),
      opId: z.string().nullable(),
      resolvedAt: z.string().nullable(),
      resolvedBy: z.string().nullable(),
      resolution: z.string().nullable(),
    }),
    'A person resolved a conflict',
  ),
  'till.offline': envelope('till.offline', TillEpisode, 'A till went quiet past the offline threshold'),
  'till.online': envelope('till.online', TillEpisode, 'An offline till is back'),
  'till.lagging': envelope(
    'till.lagging',
    TillEpisode,
    "A till's unsynced ops are older than the lag threshold",
  ),
  'sync.incident': envelope(
    'sync.incident',
    z.object({
      incidentId: z.number().int(),
      deviceId: z.string(),
      locationId: z.string(),
      hubSeq: z.number().int(),
      tillSeq: z.number().int(),
      resendFrom: z.number().int(),
      opsResent: z.number().int(),
      opsLost: z.number().int(),
      lostFrom: z.number().int().nullable(),
      lostTo: z.number().int().nullable(),
    }),
    'A till was found ahead of the hub (restored from an older backup)',
  ),
  'webhook.test': envelope(
    'webhook.test',
    z.object({ webhookId: z.string() }),
    'Sent to one webhook on request (POST /v1/webhooks/{webhookId}/test)',
  ),
} satisfies Record<EventType, z.ZodType>;
