import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { keyedRequest, sendAnswer, sendVerdict } from '../../http/idempotency.js';
import { principalOf } from '../../plugins/app/auth.js';
import { errors, page } from '../../schemas/common.js';
import {
  Order,
  OrderCancel,
  OrderConfirm,
  OrderCreate,
  OrderDetail,
  OrderListQuery,
  OrderParams,
  OrderReturn,
} from '../../schemas/orders.js';
import {
  cancelOrder,
  confirmOrder,
  createOrder,
  deliverOrder,
  fulfillOrder,
  getOrder,
  listOrders,
  ORDER_READERS,
  ORDER_WRITERS,
  returnOrder,
  shipOrder,
} from '../../services/orders/index.js';

const tags = ['orders'];
const changeAccess =
  'Admin, or the channel token that created the order. 409 invalid_transition (details: status and ' +
  'the statuses allowed next) when the order cannot make this move.';

/** Online orders: created with their reservation, then moved through their lifecycle. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/orders',
    {
      preHandler: app.authorize(ORDER_WRITERS),
      // Its key is claimed and answered in the group commit that settles the order (services/orders/create.ts).
      config: { idempotency: 'required', settlesKey: true },
      schema: {
        operationId: 'createOrder',
        tags,
        summary: 'Create an order and reserve its stock (pending until paid, released when its TTL runs out)',
        description:
          'Routing: a pickup order reserves at its store only; a shipping order at one location if any ' +
          'can serve it whole (warehouses first, then stores; by priority, then most available), else ' +
          'split line by line in the same order, never below a location’s safety stock. 409 ' +
          'insufficient_stock (nothing reserved) lists {sku, requested, available} per short line. ' +
          'Idempotency-Key required (per token): a retry replays the first answer; 422 with another body.',
        body: OrderCreate,
        response: {
          201: OrderDetail,
          ...errors('not_found', 'insufficient_stock', 'idempotency_key_reused'),
        },
      },
    },
    async (request, reply) => {
      const keyed = keyedRequest(request);
      const outcome = await createOrder(app.orders, {
        principal: principalOf(request),
        input: request.body,
        keyed,
      });
      if (outcome.kind === 'refused') throw outcome.error;
      if (outcome.kind === 'answered') return sendVerdict(reply, keyed, outcome.verdict);
      // The bytes stored with the key: a replay sends the same.
      return sendAnswer(reply, outcome.response);
    },
  );

  app.get(
    '/orders',
    {
      preHandler: app.authorize(ORDER_READERS),
      schema: {
        operationId: 'listOrders',
        tags,
        summary: 'Orders (filter by status, channel, location, creation time; cursor pagination)',
        description:
          'A channel sees the orders its token created; a store manager those allocated at its location.',
        querystring: OrderListQuery,
        response: { 200: page(Order), ...errors() },
      },
    },
    async (request) => listOrders(app.db, principalOf(request), request.query),
  );

  app.get(
    '/orders/:orderId',
    {
      preHandler: app.authorize(ORDER_READERS),
      schema: {
        operationId: 'getOrder',
        tags,
        summary: 'One order with its lines, allocations and history',
        description:
          'Admin, hq, the channel token that created it, or a store manager where it is allocated.',
        params: OrderParams,
        response: { 200: OrderDetail, ...errors('not_found') },
      },
    },
    async (request) => getOrder(app.db, principalOf(request), request.params.orderId),
  );

  const guarded = { preHandler: app.authorize(ORDER_WRITERS) };
  const params = OrderParams;
  const response = { 200: OrderDetail, ...errors('not_found', 'invalid_transition') };

  app.post(
    '/orders/:orderId/confirm',
    {
      ...guarded,
      schema: {
        operationId: 'confirmOrder',
        tags,
        summary: 'Payment received: pending → confirmed (the reservation no longer expires)',
        description: `${changeAccess} 409 order_expired once its TTL has run out.`,
        params,
        body: OrderConfirm,
        response: { ...response, ...errors('not_found', 'invalid_transition', 'order_expired') },
      },
    },
    async (request) => confirmOrder(app.orders, principalOf(request), request.params.orderId, request.body),
  );

  app.post(
    '/orders/:orderId/fulfill',
    {
      ...guarded,
      schema: {
        operationId: 'fulfillOrder',
        tags,
        summary: 'Start picking: confirmed → processing',
        description: changeAccess,
        params,
        response,
      },
    },
    async (request) => fulfillOrder(app.orders, principalOf(request), request.params.orderId),
  );

  app.post(
    '/orders/:orderId/ship',
    {
      ...guarded,
      schema: {
        operationId: 'shipOrder',
        tags,
        summary: 'Shipped: processing → shipped (held units leave on_hand and reserved)',
        description: changeAccess,
        params,
        response,
      },
    },
    async (request) => shipOrder(app.orders, principalOf(request), request.params.orderId),
  );

  app.post(
    '/orders/:orderId/deliver',
    {
      ...guarded,
      schema: {
        operationId: 'deliverOrder',
        tags,
        summary:
          'Delivered: shipped → delivered, or a pickup order handed over (its held units leave the store)',
        description: changeAccess,
        params,
        response,
      },
    },
    async (request) => deliverOrder(app.orders, principalOf(request), request.params.orderId),
  );

  app.post(
    '/orders/:orderId/cancel',
    {
      ...guarded,
      schema: {
        operationId: 'cancelOrder',
        tags,
        summary: 'Cancel a pending, confirmed or processing order (its holds are released)',
        description: changeAccess,
        params,
        body: OrderCancel,
        response,
      },
    },
    async (request) =>
      cancelOrder(app.orders, principalOf(request), request.params.orderId, request.body?.reason),
  );

  app.post(
    '/orders/:orderId/return',
    {
      ...guarded,
      schema: {
        operationId: 'returnOrder',
        tags,
        summary: 'Return a shipped or delivered order: units restocked at a location, sellable or damaged',
        description: `${changeAccess} 409 over_return when a line returns more than is outstanding.`,
        params,
        body: OrderReturn,
        response: { ...response, ...errors('not_found', 'invalid_transition', 'over_return') },
      },
    },
    async (request) => returnOrder(app.orders, principalOf(request), request.params.orderId, request.body),
  );
};
export default routes;
