import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { HealthThresholds } from '../../schemas/health.js';
import { pruneActivity } from '../../services/health/activity.js';
import { raiseTillAlerts } from '../../services/health/alerts.js';
import { DEFAULT_THRESHOLDS } from '../../services/health/evaluate.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The thresholds sync health and till alerts are judged by. */
    healthThresholds: HealthThresholds;
  }
}

/** Thresholds for health, and the `sync-alerts` job raising till.offline / till.online / till.lagging. */
export default fp(
  async (app: FastifyInstance, opts: { thresholds?: Partial<HealthThresholds> }) => {
    const thresholds = { ...DEFAULT_THRESHOLDS, ...opts.thresholds };
    app.decorate('healthThresholds', thresholds);
    app.jobs.register({
      name: 'sync-alerts',
      intervalMs: 10_000,
      async run() {
        const raised = await raiseTillAlerts(app.db, thresholds);
        await pruneActivity(app.db);
        return raised;
      },
    });
  },
  { name: 'health', dependencies: ['db', 'jobs'] },
);
