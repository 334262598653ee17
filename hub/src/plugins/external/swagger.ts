import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createJsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { completeDocument, registerWebhookSchemas, routeTransform } from '../../openapi/complete.js';

const TAGS = [
  ['locations', 'Stores and warehouses'],
  ['products', 'The catalogue'],
  ['inventory', 'Stock rows per location × SKU and the back-office writes that move them'],
  ['transfers', 'Stock sent between locations'],
  ['movements', 'The append-only ledger of every stock change'],
  ['orders', 'Online orders: created with their reservation, then moved through their lifecycle'],
  ['reservations', 'Holds for channels that manage their own orders'],
  ['webhooks', 'Outbound event subscriptions and their delivery log (payloads: the `webhooks` section)'],
  ['events', 'The event log webhooks are delivered from'],
  ['devices', 'Tills: enrolment, status, revocation'],
  ['sync', 'What HQ reads about till sync: health, activity, alerts, dead letters, incidents'],
  ['conflicts', 'Conflicts the hub settled, for HQ triage'],
  ['tokens', 'API tokens and the calling token'],
  ['operations', 'Liveness and readiness, for operators and load balancers'],
] as const;

/**
 * OpenAPI 3.1 generated from the routes' zod schemas: JSON at /openapi.json (and /docs/json), UI
 * at /docs. Schemas with a zod `id` become components; openapi/complete.ts adds what routes do not
 * state one by one (shared headers, framework statuses, webhooks).
 */
export default fp(
  async (app: FastifyInstance) => {
    registerWebhookSchemas();
    const zodTransform = createJsonSchemaTransform({ skipList: [] });
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Tillsync hub API',
          description:
            'Stock, orders and sync health for every store, warehouse and till. Errors are always ' +
            '`{code, message, details?}`; each operation lists the codes it can answer. Every reply ' +
            'carries `x-request-id` (the caller’s, when sane, else a new UUID).',
          version: '1.0.0',
          license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
        },
        servers: [{ url: '/', description: 'The hub serving this document' }],
        tags: TAGS.map(([name, description]) => ({ name, description })),
        components: {
          securitySchemes: {
            bearer: {
              type: 'http',
              scheme: 'bearer',
              description: 'An API token (admin, hq, store_manager, channel) or a device token',
            },
          },
        },
        security: [{ bearer: [] }],
      },
      transform: (input) => routeTransform(input, zodTransform),
      transformObject: (input) => completeDocument(jsonSchemaTransformObject(input)),
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    // The document where clients and linters look first; /docs/json serves the same object.
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'swagger' },
);
