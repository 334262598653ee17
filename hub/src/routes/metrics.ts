import type { FastifyInstance } from 'fastify';
import type { Role } from '../services/tokens.js';

/** Who may scrape: the metrics name locations and volumes, so not every token. */
export const METRICS_READERS: readonly Role[] = ['admin', 'hq'];

/**
 * GET /metrics: Prometheus text format, for a scraper with an admin or hq bearer token. Outside
 * /v1 and the OpenAPI document: it is an operations endpoint, not part of the versioned API.
 */
export default async function metricsRoute(app: FastifyInstance): Promise<void> {
  app.get(
    '/metrics',
    { preHandler: app.authorize(METRICS_READERS), schema: { hide: true } },
    async (_, reply) => reply.type(app.metrics.contentType).send(await app.metrics.text()),
  );
}
