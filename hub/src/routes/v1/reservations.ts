import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../plugins/app/auth.js';
import { errors } from '../../schemas/common.js';
import { LocationParams } from '../../schemas/inventory.js';
import { Hold, HoldChange, HoldCreate } from '../../schemas/orders.js';
import { ORDER_WRITERS, releaseHold, reserveHold } from '../../services/orders/index.js';

const tags = ['reservations'];
const idempotency =
  'Idempotency-Key required (per token): a retry replays the first answer; 422 with another body.';

/** Holds for channels that run their own orders, keyed by their own order reference. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/locations/:locationId/inventory/reserve',
    {
      preHandler: app.authorize(ORDER_WRITERS),
      config: { idempotency: 'required' },
      schema: {
        operationId: 'reserveStock',
        tags,
        summary: 'Hold units at a location under your order reference',
        description:
          'Checked under row locks like an order (safety stock kept back): 409 insufficient_stock and ' +
          `nothing held when a line cannot be served. ${idempotency}`,
        params: LocationParams,
        body: HoldCreate,
        response: { 200: Hold, ...errors('not_found', 'insufficient_stock', 'idempotency_key_reused') },
      },
    },
    async (request, reply) => {
      const body = await reserveHold(
        app.orders,
        principalOf(request),
        request.params.locationId,
        request.body,
      );
      return reply.status(200).send(body);
    },
  );

  app.post(
    '/locations/:locationId/inventory/release',
    {
      preHandler: app.authorize(ORDER_WRITERS),
      config: { idempotency: 'required' },
      schema: {
        operationId: 'releaseStock',
        tags,
        summary: 'Release units your order reference holds at a location',
        description: `409 insufficient_hold when the reference holds less than a line releases. ${idempotency}`,
        params: LocationParams,
        body: HoldChange,
        response: { 200: Hold, ...errors('not_found', 'insufficient_hold', 'idempotency_key_reused') },
      },
    },
    async (request, reply) => {
      const body = await releaseHold(
        app.orders,
        principalOf(request),
        request.params.locationId,
        request.body,
      );
      return reply.status(200).send(body);
    },
  );
};
export default routes;
