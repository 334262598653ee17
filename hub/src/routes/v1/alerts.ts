import { LocationId } from '@tillsync/sync-protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { principalOf } from '../../plugins/app/auth.js';
import { errors, PageQuery, page } from '../../schemas/common.js';
import { Alert } from '../../schemas/health.js';
import { readScope } from '../../services/access.js';
import { listAlerts } from '../../services/health/alerts.js';

/** Alerts (till offline/back/lagging, conflicts opened, stock low) as HQ's feed reads them. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/alerts',
    {
      preHandler: app.authorize(['admin', 'hq', 'store_manager']),
      schema: {
        operationId: 'listAlerts',
        tags: ['sync'],
        summary: 'Alerts, newest first (the same events webhooks receive)',
        description: 'A store manager sees its own location’s by default.',
        querystring: PageQuery.extend({ locationId: LocationId.optional() }),
        response: { 200: page(Alert), ...errors() },
      },
    },
    async (request) => {
      const { locationId, ...rest } = request.query;
      const scope = readScope(principalOf(request), locationId);
      return listAlerts(app.db, { ...rest, locationId: scope ?? undefined });
    },
  );
};
export default routes;
