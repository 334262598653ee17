import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../../plugins/app/auth.js';
import { errors, page } from '../../schemas/common.js';
import {
  Transfer,
  TransferCreate,
  TransferId,
  TransferListQuery,
  TransferReceive,
} from '../../schemas/transfers.js';
import {
  getTransfer,
  listTransfers,
  receiveTransfer,
  shipTransfer,
  TRANSFER_READERS,
  TRANSFER_WRITERS,
} from '../../services/transfers.js';

const Params = z.strictObject({ transferId: TransferId });
const tags = ['transfers'];

/** Stock sent between locations: shipped by the source, received (in parts or whole) at the destination. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/transfers',
    {
      preHandler: app.authorize(TRANSFER_WRITERS),
      schema: {
        operationId: 'createTransfer',
        tags,
        summary: 'Ship stock to another location (source on_hand down, destination incoming up)',
        description: 'Admin, or the store manager of the source location.',
        body: TransferCreate,
        response: { 201: Transfer, ...errors('not_found', 'already_exists') },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await shipTransfer(app.stock, principalOf(request), request.body)),
  );

  app.post(
    '/transfers/:transferId/receive',
    {
      preHandler: app.authorize(TRANSFER_WRITERS),
      schema: {
        operationId: 'receiveTransfer',
        tags,
        summary: 'Receive a transfer at its destination, in full or some lines (incoming down, on_hand up)',
        description:
          'Admin, or the store manager of the destination. 409 over_receipt when a line would receive ' +
          'more than is outstanding; 409 already_received when nothing is outstanding.',
        params: Params,
        body: TransferReceive.nullish().describe(
          'Omit the body, or its lines, to receive everything outstanding',
        ),
        response: { 200: Transfer, ...errors('not_found', 'over_receipt', 'already_received') },
      },
    },
    async (request) =>
      receiveTransfer(app.stock, principalOf(request), request.params.transferId, request.body?.lines),
  );

  app.get(
    '/transfers',
    {
      preHandler: app.authorize(TRANSFER_READERS),
      schema: {
        operationId: 'listTransfers',
        tags,
        summary: 'List transfers (filter by status and locations; cursor pagination by creation time)',
        description: 'A store manager sees the transfers to or from its own location only.',
        querystring: TransferListQuery,
        response: { 200: page(Transfer), ...errors() },
      },
    },
    async (request) => listTransfers(app.db, principalOf(request), request.query),
  );

  app.get(
    '/transfers/:transferId',
    {
      preHandler: app.authorize(TRANSFER_READERS),
      schema: {
        operationId: 'getTransfer',
        tags,
        summary: 'Get a transfer with its lines',
        description: 'A store manager reads the transfers to or from its own location only.',
        params: Params,
        response: { 200: Transfer, ...errors('not_found') },
      },
    },
    async (request) => getTransfer(app.db, principalOf(request), request.params.transferId),
  );
};
export default routes;
