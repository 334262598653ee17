import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errors, page } from '../../schemas/common.js';
import {
  AttemptListQuery,
  TestDelivery,
  Webhook,
  WebhookAttempt,
  WebhookCreate,
  WebhookCreated,
  WebhookId,
  WebhookListQuery,
} from '../../schemas/webhooks.js';
import {
  createWebhook,
  deactivateWebhook,
  enqueueTestEvent,
  getWebhook,
  listAttempts,
  listWebhooks,
} from '../../services/webhooks/subscriptions.js';

const Params = z.strictObject({ webhookId: WebhookId });
const tags = ['webhooks'];
const WRITERS = ['admin'] as const;
const READERS = ['admin', 'hq'] as const;

const signing =
  'Each delivery is a POST of {eventId, type, createdAt, data} with headers x-tillsync-event-id, ' +
  'x-tillsync-event-type, x-tillsync-timestamp (unix seconds) and x-tillsync-signature: ' +
  'v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>. A 2xx answer within 10 s delivers it; ' +
  'anything else is retried with exponential backoff (about 5 s, doubling, capped at 1 h) up to 10 ' +
  'attempts. Delivery is at-least-once: de-duplicate on eventId.';

const targets =
  'The URL must name a public unicast address: a host resolving to a loopback, private, link-local, ' +
  'CGNAT, multicast, unspecified or unique-local address (IPv4 or IPv6, IPv4-mapped forms included) ' +
  'is refused with 400 webhook_target_refused (400 webhook_target_unresolved when it does not ' +
  'resolve) unless the hub allow-lists it (TILLSYNC_WEBHOOK_ALLOW_HOSTS). The same check is made ' +
  'at every delivery, on the address connected to. Redirects are not followed.';

/** Outbound webhooks for order and stock events: subscriptions and their delivery log. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/webhooks',
    {
      preHandler: app.authorize(WRITERS),
      schema: {
        operationId: 'createWebhook',
        tags,
        summary: 'Subscribe a URL to events (exact types, or "order.*"); the secret is shown once',
        description: `${signing} ${targets}`,
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
        operationId: 'listWebhooks',
        tags,
        summary: 'List webhooks (filter by active; cursor pagination)',
        description: 'Admin or hq. Secrets are never listed.',
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
        operationId: 'getWebhook',
        tags,
        summary: 'One webhook (without its secret)',
        description: 'Admin or hq.',
        params: Params,
        response: { 200: Webhook, ...errors('not_found') },
      },
    },
    async (request) => getWebhook(app.db, request.params.webhookId),
  );

  app.delete(
    '/webhooks/:webhookId',
    {
      preHandler: app.authorize(WRITERS),
      schema: {
        operationId: 'deactivateWebhook',
        tags,
        summary: 'Deactivate a webhook: no new deliveries, pending ones canceled (its log is kept)',
        description: 'Admin only.',
        params: Params,
        response: { 200: Webhook, ...errors('not_found') },
      },
    },
    async (request) => deactivateWebhook(app.db, request.params.webhookId),
  );

  app.get(
    '/webhooks/:webhookId/deliveries',
    {
      preHandler: app.authorize(READERS),
      schema: {
        operationId: 'listWebhookDeliveries',
        tags,
        summary: 'The delivery log: every attempt, newest first (filter by eventId)',
        description: 'Admin or hq. Each attempt with its status code, error and duration.',
        params: Params,
        querystring: AttemptListQuery,
        response: { 200: page(WebhookAttempt), ...errors('not_found') },
      },
    },
    async (request) => listAttempts(app.db, request.params.webhookId, request.query),
  );

  app.post(
    '/webhooks/:webhookId/test',
    {
      preHandler: app.authorize(WRITERS),
      schema: {
        operationId: 'testWebhook',
        tags,
        summary: 'Queue a "webhook.test" event for this webhook only',
        description: '409 webhook_inactive when the webhook is deactivated.',
        params: Params,
        response: { 202: TestDelivery, ...errors('not_found', 'webhook_inactive') },
      },
    },
    async (request, reply) =>
      reply.status(202).send(await enqueueTestEvent(app.db, request.params.webhookId)),
  );
};

export default routes;
