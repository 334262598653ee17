import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import {
  DEFAULT_CHUNKING,
  DEFAULT_RETENTION,
  purgeExpired,
  type RetentionSettings,
} from '../../services/retention.js';

export interface RetentionPluginOptions extends Partial<RetentionSettings> {
  /** How often each hub instance purges. */
  intervalMs?: number;
}

/** The 'retention' job: forgets what each growing table no longer needs (services/retention.ts). */
export default fp(
  async (app: FastifyInstance, { intervalMs = 600_000, ...overrides }: RetentionPluginOptions) => {
    const settings: RetentionSettings = { ...DEFAULT_RETENTION, ...DEFAULT_CHUNKING, ...overrides };
    app.jobs.register({
      name: 'retention',
      intervalMs,
      run: async () => {
        const counts = await purgeExpired(app.db, settings);
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        if (total > 0) app.log.info({ deleted: counts }, 'retention purge');
        return total;
      },
    });
  },
  { name: 'retention', dependencies: ['jobs', 'db'] },
);
