import { z } from 'zod';
import { DEFAULT_THRESHOLDS } from './services/health/evaluate.js';

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
  /** Requests per minute per verified token (per IP without one, or with one that fails). */
  rateLimitPerMinute: z.coerce.number().int().positive().default(6000),
  /** Socket timeouts of the HTTP server (README, "Configuration"). */
  http: z
    .object({
      /** The whole request (headers and body) must arrive within this; over it: 408. */
      requestTimeoutMs: secondsAsMs(30_000),
      /** A connection with no traffic for this long is closed (a WebSocket, once open, is exempt). */
      connectionTimeoutMs: secondsAsMs(120_000),
      /** An idle keep-alive connection is closed after this. */
      keepAliveTimeoutMs: secondsAsMs(72_000),
    })
    .prefault({}),
  /** How long an unpaid (pending) online order holds its reservation. */
  orderTtlSeconds: z.coerce.number().int().positive().default(DEFAULT_ORDER_TTL_SECONDS),
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
    http: {
      requestTimeoutMs: env.TILLSYNC_REQUEST_TIMEOUT_SECONDS,
      connectionTimeoutMs: env.TILLSYNC_CONNECTION_TIMEOUT_SECONDS,
      keepAliveTimeoutMs: env.TILLSYNC_KEEP_ALIVE_TIMEOUT_SECONDS,
    },
    orderTtlSeconds: env.TILLSYNC_ORDER_TTL_SECONDS,
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
