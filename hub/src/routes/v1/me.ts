import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../plugins/app/auth.js';
import { WhoAmI } from '../../schemas/access.js';
import { errors } from '../../schemas/common.js';
import { TRIAGE_WRITERS } from '../../services/access.js';

/** The caller's own role: lets a client (the HQ dashboard) offer only what the token may do. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/me',
    {
      preHandler: app.authorize(['admin', 'hq', 'store_manager', 'channel', 'device']),
      schema: {
        operationId: 'getMe',
        description: 'Any valid token, devices included.',
        tags: ['tokens'],
        summary: "The calling token's role and location",
        response: { 200: WhoAmI, ...errors() },
      },
    },
    async (request) => {
      const { role, locationId } = principalOf(request);
      return { role, locationId, canTriage: TRIAGE_WRITERS.includes(role) };
    },
  );
};
export default routes;
