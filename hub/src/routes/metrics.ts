import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { errors } from '../schemas/common.js';
import type { Role } from '../services/tokens.js';

/** Who may scrape: the metrics name locations and volumes, so not every token. */
export const METRICS_READERS: readonly Role[] = ['admin', 'hq'];

/**
 * GET /metrics: Prometheus text format, for a scraper with an admin or hq bearer token. Outside /v1:
 * an operations endpoint, not part of the versioned API (documented under the "operations" tag).
 */
export default async function metricsRoute(app: FastifyInstance): Promise<void> {
  app.get(
    '/metrics',
    {
      preHandler: app.authorize(METRICS_READERS),
      schema: {
        operationId: 'getMetrics',
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        description: 'For a scraper with an admin or hq token. Metric names: README, "Metrics and logs".',
        response: {
          200: { description: 'The metrics', content: { 'text/plain': { schema: z.string() } } },
          ...errors(),
        },
      },
    },
    async (_, reply) => reply.type(app.metrics.contentType).send(await app.metrics.text()),
  );
}
