import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type DeliverySettings, deliverDue, deliverySettings } from '../../services/webhooks/delivery.js';
import { type Resolver, TargetGuard, targetPolicy } from '../../services/webhooks/targets.js';

export interface WebhookPluginOptions extends Partial<DeliverySettings> {
  /** How often each hub instance looks for due deliveries. */
  intervalMs?: number;
  /** Host names, addresses and CIDR ranges allowed as targets though not public (config). */
  allowHosts?: readonly string[];
  /** How target names are resolved (default: the system's resolver; tests give their own). */
  resolve?: Resolver;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Which webhook targets may be registered and connected to (services/webhooks/targets.ts). */
    webhookTargets: TargetGuard;
  }
}

/** Outbound webhooks: the 'webhook-delivery' job sends what the fan-out trigger queued. */
export default fp(
  async (
    app: FastifyInstance,
    { intervalMs = 1_000, allowHosts = [], resolve, ...overrides }: WebhookPluginOptions,
  ) => {
    const settings = deliverySettings(overrides);
    const guard = new TargetGuard(targetPolicy(allowHosts), resolve);
    app.decorate('webhookTargets', guard);
    const failures = app.metrics.webhookFailures;
    app.jobs.register({
      name: 'webhook-delivery',
      intervalMs,
      run: () => deliverDue(app.db, settings, guard, (outcome) => failures.inc({ outcome })),
    });
  },
  { name: 'webhooks', dependencies: ['jobs', 'db', 'metrics'] },
);
