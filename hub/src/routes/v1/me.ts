import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../plugins/app/auth.js';
import { WhoAmI } from '../../schemas/access.js';
import { errorResponses } from '../../schemas/common.js';
import { TRIAGE_WRITERS } from '../../services/access.js';

/** The caller's own role: lets a client (the HQ dashboard) offer only what the token may do. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/me',
    {
      preHandler: app.authorize(['admin', 'hq', 'store_manager', 'channel', 'device']),
      schema: {
        tags: ['tokens'],
        summary: "The calling token's role and location",
        response: { 200: WhoAmI, ...errorResponses },
      },
    },
    async (request) => {
      const { role, locationId } = principalOf(request);
      return { role, locationId, canTriage: TRIAGE_WRITERS.includes(role) };
    },
  );
};
export default routes;
