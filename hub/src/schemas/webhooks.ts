import { z } from 'zod';
import type { EventType } from '../services/events.js';
import { PageQuery, QueryTime } from './common.js';

/*
 * Outbound webhooks: subscriptions to domain events, secret rotation, the log of delivery attempts
 * and redelivery, and the event log (GET /v1/events). Event bodies: ./webhook-events.ts.
 */

/** webhook.test goes to one webhook; webhook.disabled is an alert (GET /v1/alerts, /v1/events). */
type SubscribableType = Exclude<EventType, 'webhook.test' | 'webhook.disabled'>;

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

const WebhookUrl = z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }).max(2048);
// Repeats are dropped when stored (services/webhooks/subscriptions.ts): no transform here, so the
// OpenAPI component keeps its example.
const Events = z.array(EventPattern).min(1).max(50);

export const WebhookCreate = z
  .strictObject({
    url: WebhookUrl,
    events: Events,
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

export const WebhookStatus = z
  .enum(['active', 'disabled', 'deactivated'])
  .describe(
    'active: delivering. disabled: its retries ran out (or an admin paused it); PATCH {status: "active"} ' +
      're-enables it. deactivated: DELETEd, final.',
  );
export type WebhookStatus = z.infer<typeof WebhookStatus>;

export const WebhookPatch = z
  .strictObject({
    url: WebhookUrl.optional(),
    events: Events.optional(),
    description: z.string().trim().max(200).nullable().optional(),
    status: z
      .enum(['active', 'disabled'])
      .optional()
      .describe('"active" re-enables a disabled webhook; "disabled" pauses it'),
  })
  .refine((p) => Object.keys(p).length > 0, 'give at least one of url, events, description, status')
  .meta({ id: 'WebhookPatch' });
export type WebhookPatch = z.infer<typeof WebhookPatch>;

export const Webhook = z
  .object({
    id: WebhookId,
    url: z.string(),
    events: z.array(z.string()),
    description: z.string().nullable(),
    status: WebhookStatus,
    createdAt: z.string(),
    disabledAt: z.string().nullable(),
    disabledReason: z.string().nullable().describe('Why it was disabled, when it is'),
    deactivatedAt: z.string().nullable(),
  })
  .meta({ id: 'Webhook' });
export type Webhook = z.infer<typeof Webhook>;

const Secret = z
  .string()
  .describe(
    'The Standard Webhooks signing secret (whsec_<base64 key>), for webhook-signature; shown only in this response',
  );

export const WebhookCreated = Webhook.extend({ secret: Secret }).meta({ id: 'WebhookCreated' });

export const WebhookListQuery = PageQuery.extend({ status: WebhookStatus.optional() });
export type WebhookListQuery = z.infer<typeof WebhookListQuery>;

/** How long a rotated-out secret keeps signing when the rotation does not say. */
export const DEFAULT_OVERLAP_SECONDS = 86_400;

export const SecretRotate = z
  .strictObject({
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400)
      .optional()
      .describe(
        `How long the previous secret keeps signing alongside the new one (default ${DEFAULT_OVERLAP_SECONDS})`,
      ),
  })
  .nullish()
  .describe('Optional')
  .meta({ id: 'WebhookSecretRotate' });

export const SecretRotated = z
  .object({
    secret: Secret,
    previousSecretExpiresAt: z.string().describe('Until then deliveries carry both signatures'),
  })
  .meta({ id: 'WebhookSecretRotated' });

export const DeliveryParams = z.strictObject({
  webhookId: WebhookId,
  deliveryId: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

export const RedeliverSince = z
  .strictObject({
    since: z.iso
      .datetime({ offset: true })
      .transform((v) => new Date(v))
      .describe('ISO 8601 time'),
  })
  .meta({ id: 'WebhookRedeliverSince' });

export const Redelivery = z
  .object({
    deliveries: z.number().int().describe('How many deliveries were queued again'),
  })
  .meta({ id: 'WebhookRedelivery' });

export const EventListQuery = PageQuery.extend({
  type: z
    .string()
    .max(1000)
    .transform((s) => s.split(',').map((t) => t.trim()))
    .pipe(z.array(z.enum(['webhook.disabled', ...types])))
    .optional()
    .describe('Comma-separated event types'),
  since: QueryTime.optional().describe('Events written at or after this time'),
}).strict();
export type EventListQuery = z.infer<typeof EventListQuery>;

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
