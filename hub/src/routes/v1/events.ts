import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { errors, page } from '../../schemas/common.js';
import { AnyEvent } from '../../schemas/webhook-events.js';
import { EventListQuery } from '../../schemas/webhooks.js';
import { listEvents } from '../../services/events.js';

/** The event log webhooks are fed from, for backfill. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/events',
    {
      preHandler: app.authorize(['admin', 'hq']),
      schema: {
        tags: ['webhooks'],
        operationId: 'listEvents',
        summary: 'The event log, oldest first (filter by type and time; cursor pagination), kept 30 days',
        description:
          'Each item is exactly a webhook delivery body: {id, type, timestamp, apiVersion, data}. For ' +
          'backfill after an outage: page from ?since=<last event you hold> and skip ids you have. Events ' +
          'are kept TILLSYNC_RETAIN_EVENTS_DAYS (30, at least 7). An event whose transaction committed ' +
          'late can appear behind a cursor already passed: re-read from a minute before the last ' +
          'timestamp when following the log closely.',
        querystring: EventListQuery,
        response: { 200: page(AnyEvent), ...errors() },
      },
    },
    async (request) => {
      const { type, ...rest } = request.query;
      return listEvents(app.db, { ...rest, types: type });
    },
  );
};
export default routes;
