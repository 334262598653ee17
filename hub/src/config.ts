import { z } from 'zod';
import { DEFAULT_THRESHOLDS } from './services/health/evaluate.js';
import { DEFAULT_DELIVERY_SETTINGS } from './services/webhooks/delivery.js';

export const DEFAULT_ORDER_TTL_SECONDS = 900;

/** A threshold given in seconds (env), kept in ms. */
const secondsAsMs = (defaultMs: number) =>
  z.coerce
    .number()
    .positive()
    .default(defaultMs / 1000)
    .transform((s) => Math.round(s * 1000));

/** Hub settings, read once from the environment. Every field is documented in the README. */
export const HubConfig = z.object({
  /** Postgres connection string; when absent the hub runs on embedded PGlite. */
  databaseUrl: z.string().optional(),
  /** PGlite data directory, or ":memory:". */
  dataDir: z.string().default('./data'),
  host: z.string().default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  /** production refuses to start without an admin token configured out of band. */
  env: z.enum(['development', 'production', 'test']).default('development'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Largest accepted request body in bytes. */
  bodyLimit: z.coerce.number().int().positive().default(1_048_576),
  /** Requests per minute per token (or per IP when unauthenticated). */
  rateLimitPerMinute: z.coerce.number().int().positive().default(6000),
  /** How long an unpaid (pending) online order holds its reservation. */
  orderTtlSeconds: z.coerce.number().int().positive().default(DEFAULT_ORDER_TTL_SECONDS),
  /** Webhook delivery retries (README, "Webhooks"). */
  webhooks: z
    .object({
      retryBaseMs: secondsAsMs(DEFAULT_DELIVERY_SETTINGS.baseDelayMs),
      retryMaxMs: secondsAsMs(DEFAULT_DELIVERY_SETTINGS.maxDelayMs),
      maxAttempts: z.coerce.number().int().positive().default(DEFAULT_DELIVERY_SETTINGS.maxAttempts),
    })
    .prefault({}),
  /** Sync health and alert thresholds (README, "Sync health"). */
  health: z
    .object({
      heartbeatStaleMs: secondsAsMs(DEFAULT_THRESHOLDS.heartbeatStaleMs),
      lagDegradedMs: secondsAsMs(DEFAULT_THRESHOLDS.lagDegradedMs),
      lagCriticalMs: secondsAsMs(DEFAULT_THRESHOLDS.lagCriticalMs),
      offlineCriticalMs: secondsAsMs(DEFAULT_THRESHOLDS.offlineCriticalMs),
      clockSkewMs: secondsAsMs(DEFAULT_THRESHOLDS.clockSkewMs),
      offlineAlertMs: secondsAsMs(DEFAULT_THRESHOLDS.offlineAlertMs),
      lagAlertMs: secondsAsMs(DEFAULT_THRESHOLDS.lagAlertMs),
    })
    .prefault({}),
});
export type HubConfig = z.infer<typeof HubConfig>;

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): HubConfig {
  return HubConfig.parse({
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.TILLSYNC_DATA_DIR,
    host: env.HOST,
    port: env.PORT,
    env: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    bodyLimit: env.TILLSYNC_BODY_LIMIT,
    rateLimitPerMinute: env.TILLSYNC_RATE_LIMIT,
    orderTtlSeconds: env.TILLSYNC_ORDER_TTL_SECONDS,
    webhooks: {
      retryBaseMs: env.TILLSYNC_WEBHOOK_RETRY_BASE_SECONDS,
      retryMaxMs: env.TILLSYNC_WEBHOOK_RETRY_MAX_SECONDS,
      maxAttempts: env.TILLSYNC_WEBHOOK_MAX_ATTEMPTS,
    },
    health: {
      heartbeatStaleMs: env.TILLSYNC_HEARTBEAT_STALE_SECONDS,
      lagDegradedMs: env.TILLSYNC_LAG_DEGRADED_SECONDS,
      lagCriticalMs: env.TILLSYNC_LAG_CRITICAL_SECONDS,
      offlineCriticalMs: env.TILLSYNC_OFFLINE_CRITICAL_SECONDS,
      clockSkewMs: env.TILLSYNC_CLOCK_SKEW_SECONDS,
      offlineAlertMs: env.TILLSYNC_OFFLINE_ALERT_SECONDS,
      lagAlertMs: env.TILLSYNC_LAG_ALERT_SECONDS,
    },
  });
}
