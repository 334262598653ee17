import { z } from 'zod';
import type { EventType } from '../services/events.js';
import { PageQuery, QueryBool } from './common.js';

/*
 * Outbound webhooks: subscriptions to domain events, and the log of delivery attempts.
 */

type SubscribableType = Exclude<EventType, 'webhook.test'>;

/** A Record, not a list, so that a new EventType fails to compile until it is listed here. */
const SUBSCRIBABLE: Record<SubscribableType, true> = {
  'order.created': true,
  'order.confirmed': true,
  'order.processing': true,
  'order.shipped': true,
  'order.delivered': true,
  'order.canceled': true,
  'order.returned': true,
  'order.at_risk': true,
  'order.reallocated': true,
  'stock.changed': true,
  'stock.low': true,
  'conflict.opened': true,
  'conflict.resolved': true,
  'till.offline': true,
  'till.online': true,
  'till.lagging': true,
  'sync.incident': true,
};
const types = Object.keys(SUBSCRIBABLE);
const prefixPatterns = [...new Set(types.map((t) => `${t.slice(0, t.indexOf('.'))}.*`))];

/** An event type, or "<prefix>.*" for every type of that family ("order.*"). */
export const EventPattern = z.enum([...types, ...prefixPatterns] as [string, ...string[]]);

export const WebhookId = z.uuid();

export const WebhookCreate = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).max(2048),
    // Repeats are dropped when stored (services/webhooks/subscriptions.ts): no transform here, so
    // the OpenAPI component keeps its example.
    events: z.array(EventPattern).min(1).max(50),
    description: z.string().trim().max(200).optional(),
  })
  .meta({
    id: 'WebhookCreate',
    examples: [
      {
        url: 'https://shop.example.com/hooks/tillsync',
        events: ['order.*', 'stock.low'],
        description: 'Web shop',
      },
    ],
  });
export type WebhookCreate = z.infer<typeof WebhookCreate>;

export const Webhook = z
  .object({
    id: WebhookId,
    url: z.string(),
    events: z.array(z.string()),
    description: z.string().nullable(),
    active: z.boolean(),
    createdAt: z.string(),
    deactivatedAt: z.string().nullable(),
  })
  .meta({ id: 'Webhook' });
export type Webhook = z.infer<typeof Webhook>;

export const WebhookCreated = Webhook.extend({
  secret: z
    .string()
    .describe(
      'HMAC-SHA256 key (the text itself, UTF-8) for x-tillsync-signature; shown only in this response',
    ),
}).meta({ id: 'WebhookCreated' });

export const WebhookListQuery = PageQuery.extend({ active: QueryBool.optional() });
export type WebhookListQuery = z.infer<typeof WebhookListQuery>;

export const AttemptOutcome = z.enum(['delivered', 'retrying', 'failed']);
export type AttemptOutcome = z.infer<typeof AttemptOutcome>;

export const WebhookAttempt = z
  .object({
    id: z.number().int(),
    deliveryId: z.number().int(),
    eventId: z.string().describe('The same on every attempt of one event: receivers de-duplicate on it'),
    eventType: z.string(),
    attempt: z.number().int().describe('1 for the first attempt of this event to this webhook'),
    outcome: AttemptOutcome,
    statusCode: z.number().int().nullable().describe('The receiver’s HTTP status; null when none came'),
    error: z
      .string()
      .nullable()
      .describe(
        'What went wrong, in the hub’s words: "HTTP 503", "timed out after 10000 ms", "ECONNREFUSED: …", ' +
          '"webhook_target_refused: …". Never the receiver’s response body, which is not read.',
      ),
    durationMs: z.number().int(),
    nextAttemptAt: z.string().nullable().describe('When the next attempt is due, if retrying'),
    startedAt: z.string(),
    finishedAt: z.string(),
  })
  .meta({ id: 'WebhookAttempt' });
export type WebhookAttempt = z.infer<typeof WebhookAttempt>;

export const AttemptListQuery = PageQuery.extend({ eventId: z.uuid().optional() });
export type AttemptListQuery = z.infer<typeof AttemptListQuery>;

export const TestDelivery = z
  .object({ eventId: z.string(), deliveryId: z.number().int() })
  .meta({ id: 'WebhookTestDelivery' });
