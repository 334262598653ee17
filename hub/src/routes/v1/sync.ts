import { DeviceId, LocationId } from '@tillsync/sync-protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ForbiddenError } from '../../errors.js';
import { principalOf } from '../../plugins/app/auth.js';
import { errorResponses, PageQuery, page } from '../../schemas/common.js';
import { DeadLetter } from '../../schemas/devices.js';
import { assertCanReadLocation } from '../../services/access.js';
import { listDeadLetters } from '../../services/dead-letters.js';

/** What HQ reads about till sync. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/sync/dead-letters',
    {
      preHandler: app.authorize(['admin', 'hq', 'store_manager']),
      schema: {
        tags: ['sync'],
        summary: 'Operations the hub rejected, with the reason (they never block later ops)',
        querystring: PageQuery.extend({
          locationId: LocationId.optional(),
          deviceId: DeviceId.optional(),
          status: z.enum(['open', 'retried', 'dismissed']).optional(),
        }),
        response: { 200: page(DeadLetter), ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const q = request.query;
      if (q.locationId) assertCanReadLocation(principal, q.locationId);
      if (principal.role === 'store_manager' && !q.locationId) {
        throw new ForbiddenError(
          `pass locationId=${principal.locationId}: this token manages that location only`,
        );
      }
      return listDeadLetters(app.db, q);
    },
  );
};
export default routes;
