import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type DeliverySettings, deliverDue, deliverySettings } from '../../services/webhooks/delivery.js';

export interface WebhookPluginOptions extends Partial<DeliverySettings> {
  /** How often each hub instance looks for due deliveries. */
  intervalMs?: number;
}

/** Outbound webhooks: the 'webhook-delivery' job sends what the fan-out trigger queued. */
export default fp(
  async (app: FastifyInstance, { intervalMs = 1_000, ...overrides }: WebhookPluginOptions) => {
    const settings = deliverySettings(overrides);
    const failures = app.metrics.webhookFailures;
    app.jobs.register({
      name: 'webhook-delivery',
      intervalMs,
      run: () => deliverDue(app.db, settings, (outcome) => failures.inc({ outcome })),
    });
  },
  { name: 'webhooks', dependencies: ['jobs', 'db', 'metrics'] },
);
