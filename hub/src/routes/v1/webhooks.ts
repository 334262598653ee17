import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errors, page } from '../../schemas/common.js';
import {
  AttemptListQuery,
  DEFAULT_OVERLAP_SECONDS,
  DeliveryParams,
  RedeliverSince,
  Redelivery,
  SecretRotate,
  SecretRotated,
  TestDelivery,
  Webhook,
  WebhookAttempt,
  WebhookCreate,
  WebhookCreated,
  WebhookId,
  WebhookListQuery,
  WebhookPatch,
} from '../../schemas/webhooks.js';
import {
  createWebhook,
  deactivateWebhook,
  enqueueTestEvent,
  getWebhook,
  listAttempts,
  listWebhooks,
  redeliverFailedSince,
  redeliverOne,
  rotateSecret,
  updateWebhook,
} from '../../services/webhooks/subscriptions.js';

const Params = z.strictObject({ webhookId: WebhookId });
const tags = ['webhooks'];
const WRITERS = ['admin'] as const;
const READERS = ['admin', 'hq'] as const;

const delivery =
  'Each delivery is a POST of the event {id, type, timestamp, apiVersion, data} (data: the object as of ' +
  'the event; the OpenAPI webhooks section has each type), signed per Standard Webhooks: headers ' +
  'webhook-id (the event id), webhook-timestamp (unix seconds) and webhook-signature ' +
  '(v1,<base64 HMAC-SHA256 of "id.timestamp.body">; space-separated, one per secret, during a rotation). ' +
  'A 2xx answer within 10 s delivers it; anything else is retried after 5 s, 5 min, 30 min, 2 h, 5 h, ' +
  '10 h and 10 h (±10 %, configurable); when that runs out and nothing reached the webhook meanwhile, it ' +
  'is disabled and a webhook.disabled alert raised. Delivery is at-least-once: de-duplicate on webhook-id.';

const targets =
  'The URL must be http(s) and name a public unicast address: a host resolving to a loopback, private, ' +
  'link-local, CGNAT, multicast, unspecified or unique-local address (IPv4 or IPv6, IPv4-mapped forms ' +
  'included) is refused with 400 webhook_target_refused (400 webhook_target_unresolved when it does ' +
  'not resolve) unless the hub allow-lists it (TILLSYNC_WEBHOOK_ALLOW_HOSTS). The same check is made ' +
  'at every delivery, on the address connected to. Redirects are not followed.';

/** Outbound webhooks: subscriptions, their secrets, their delivery log and redelivery. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/webhooks',
    {
      preHandler: app.authorize(WRITERS),
      schema: {
        tags,
        operationId: 'createWebhook',
        summary: 'Subscribe a URL to events (exact types, or "order.*"); the secret is shown once',
        description: `${delivery} ${targets}`,
        body: WebhookCreate,
        response: { 201: WebhookCreated, ...errors('webhook_target_refused', 'webhook_target_unresolved') },
      },
    },
    async (request, reply) => {
      await app.webhookTargets.check(request.body.url);
      return reply.status(201).send(await createWebhook(app.db, request.body));
    },
  );

  app.get(
    '/webhooks',
    {
      preHandler: app.authorize(READERS),
      schema: {
        tags,
        operationId: 'listWebhooks',
        summary: 'List webhooks (filter by status; cursor pagination)',
        description: 'Oldest first by id. Secrets are never shown.',
        querystring: WebhookListQuery,
        response: { 200: page(Webhook), ...errors() },
      },
    },
    async (request) => listWebhooks(app.db, request.query),
  );

  app.get(
    '/webhooks/:webhookId',
    {
      preHandler: app.authorize(READERS),
      schema: {
        tags,
        operationId: 'getWebhook',
        summary: 'One webhook (without its secret)',
        description: 'status "disabled" with disabledReason when its retries ran out.',
        params: Params,
        response: { 200: Webhook, ...errors('not_found') },
      },
    },
    async (request) => getWebhook(app.db, request.params.webhookId),
  );

  app.patch(
    '/webhooks/:webhookId',
    {
      preHandler: app.authorize(WRITERS),
      schema: {
        tags,
        operationId: 'updateWebhook',
        summary: 'Change a webhook, or re-enable a disabled one ({"status": "active"})',
        description:
          'Re-enabling sends nothing by itself: POST /v1/webhooks/{id}/redeliver {since} sends again what ' +
          'failed (events while it was disabled included), GET /v1/events serves the log. ' +
          `409 webhook_inactive for a deactivated webhook. ${targets}`,
        params: Params,
        body: WebhookPatch,
        response: {
          200: Webhook,
          ...errors('not_found', 'webhook_inactive', 'webhook_target_refused', 'webhook_target_unresolved'),
        },
      },
    },
    async (request) => {
      if (request.body.url !== undefined) await app.webhookTargets.check(request.body.url);
      return updateWebhook(app.db, request.params.webhookId, request.body);
    },
  );

  app.delete(
    '/webhooks/:webhookId',
    {
      preHandler: app.authorize(WRITERS),
      schema: {
        tags,
        operationId: 'deleteWebhook',
        summary: 'Deactivate a webhook: no new deliveries, pending ones canceled (its log is kept)',
        description: 'Final (status "deactivated"); idempotent. To pause, PATCH {"status": "disabled"}.',
        params: Params,
        response: { 200: Webhook, ...errors('not_found') },
      },
    },
    async (request) => deactivateWebhook(app.db, request.params.webhookId),
  );

  app.post(
    '/webhooks/:webhookId/rotate-secret',
    {
      preHandler: app.authorize(WRITERS),
      schema: {
        tags,
        operationId: 'rotateWebhookSecret',
        summary: 'A new signing secret, shown once; the old one keeps signing for an overlap window',
        description:
          'During the overlap (overlapSeconds, default 86400) every delivery carries one signature per ' +
          'secret in webhook-signature, space-separated: a receiver holding either verifies. After it, ' +
          'only the new secret signs. 409 webhook_inactive for a deactivated webhook.',
        params: Params,
        body: SecretRotate,
        response: { 200: SecretRotated, ...errors('not_found', 'webhook_inactive') },
      },
    },
    async (request) => {
      const overlapSeconds = request.body?.overlapSeconds ?? DEFAULT_OVERLAP_SECONDS;
      return rotateSecret(app.db, request.params.webhookId, overlapSeconds * 1000);
    },
  );

  app.get(
    '/webhooks/:webhookId/deliveries',
    {
      preHandler: app.authorize(READERS),
      schema: {
        tags,
        operationId: 'listWebhookDeliveries',
        summary: 'The delivery log: every attempt, newest first (filter by eventId)',
        description:
          'Each attempt names its deliveryId, which POST …/deliveries/{deliveryId}/redeliver takes.',
        params: Params,
        querystring: AttemptListQuery,
        response: { 200: page(WebhookAttempt), ...errors('not_found') },
      },
    },
    async (request) => listAttempts(app.db, request.params.webhookId, request.query),
  );

  app.post(
    '/webhooks/:webhookId/deliveries/:deliveryId/redeliver',
    {
      preHandler: app.authorize(WRITERS),
      // No Idempotency-Key: a redelivery re-sends under the event's own webhook-id, which
      // receivers de-duplicate on, so a second one is harmless by design.
      config: { idempotency: false },
      schema: {
        tags,
        operationId: 'redeliverWebhookDelivery',
        summary: 'Send one delivery again, now, with a new round of retries',
        description:
          'Delivered, failed or waiting: the same event, so the same webhook-id. 409 webhook_disabled ' +
          '(re-enable it first), webhook_inactive, delivery_in_flight (being sent) or delivery_canceled.',
        params: DeliveryParams,
        response: {
          202: Redelivery,
          ...errors(
            'not_found',
            'webhook_inactive',
            'webhook_disabled',
            'delivery_in_flight',
            'delivery_canceled',
          ),
        },
      },
    },
    async (request, reply) => {
      const { webhookId, deliveryId } = request.params;
      return reply.status(202).send({ deliveries: await redeliverOne(app.db, webhookId, deliveryId) });
    },
  );

  app.post(
    '/webhooks/:webhookId/redeliver',
    {
      preHandler: app.authorize(WRITERS),
      config: { idempotency: false }, // as above: receivers de-duplicate on webhook-id
      schema: {
        tags,
        operationId: 'redeliverFailedWebhookDeliveries',
        summary: 'Send again every failed delivery of events since a time',
        description:
          'Failed deliveries include those of events written while the webhook was disabled. Each keeps ' +
          'its event id (webhook-id). 409 webhook_disabled (re-enable it first) or webhook_inactive.',
        params: Params,
        body: RedeliverSince,
        response: { 202: Redelivery, ...errors('not_found', 'webhook_inactive', 'webhook_disabled') },
      },
    },
    async (request, reply) =>
      reply.status(202).send({
        deliveries: await redeliverFailedSince(app.db, request.params.webhookId, request.body.since),
      }),
  );

  app.post(
    '/webhooks/:webhookId/test',
    {
      preHandler: app.authorize(WRITERS),
      schema: {
        tags,
        operationId: 'testWebhook',
        summary: 'Queue a "webhook.test" event for this webhook only',
        description: '409 webhook_inactive when the webhook is deactivated, webhook_disabled when disabled.',
        params: Params,
        response: { 202: TestDelivery, ...errors('not_found', 'webhook_inactive', 'webhook_disabled') },
      },
    },
    async (request, reply) =>
      reply.status(202).send(await enqueueTestEvent(app.db, request.params.webhookId)),
  );
};

export default routes;
