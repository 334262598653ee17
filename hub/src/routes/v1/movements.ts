import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../plugins/app/auth.js';
import { errors, page } from '../../schemas/common.js';
import { Movement, MovementListQuery } from '../../schemas/movements.js';
import { listMovements, MOVEMENT_READERS } from '../../services/movements.js';

/** The movement ledger, read-only: every change to every stock row, in the order it was written. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/movements',
    {
      preHandler: app.authorize(MOVEMENT_READERS),
      schema: {
        operationId: 'listMovements',
        tags: ['movements'],
        summary: 'List ledger entries (filter by location, SKU, op, reason, hub time; cursor pagination)',
        description: 'A store manager must pass its own locationId.',
        querystring: MovementListQuery,
        response: { 200: page(Movement), ...errors() },
      },
    },
    async (request) => listMovements(app.db, principalOf(request), request.query),
  );
};
export default routes;
