import { DEFAULT_MAX_FORWARD_DRIFT_MS } from '@tillsync/sync-protocol';
import { z } from 'zod';
import { DEFAULT_APPLICATION_NAME, DEFAULT_POSTGRES_TIMEOUTS } from './db/postgres.js';
import { type EnvVar, envVarsOf, parseEnv } from './env-config.js';
import { DEFAULT_THRESHOLDS } from './services/health/evaluate.js';
import { DEFAULT_RETENTION } from './services/retention.js';
import { DEFAULT_DELIVERY_SETTINGS } from './services/webhooks/delivery.js';
import { validAllowEntry } from './services/webhooks/targets.js';

export const DEFAULT_ORDER_TTL_SECONDS = 900;

/** A threshold given in seconds (env), kept in ms. */
const secondsAsMs = (defaultMs: number) =>
  z.coerce
    .number()
    .positive()
    .default(defaultMs / 1000)
    .transform((s) => Math.round(s * 1000));

/** A window given in hours or days (env), kept in ms; fractions allowed. */
const unitsAsMs = (unitMs: number, defaultMs: number) =>
  z.coerce
    .number()
    .positive()
    .default(defaultMs / unitMs)
    .transform((n) => Math.round(n * unitMs));
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Hub settings, read once from the environment. Every field is documented in the README. */
export const HubConfig = z.object({
  /** Postgres connection string; when absent the hub runs on embedded PGlite. */
  databaseUrl: z.string().optional(),
  /** The schema owner's connection, for migrations only; the hub then serves as DATABASE_URL's role. */
  migrationDatabaseUrl: z.string().optional(),
  /** Postgres connection limits and name (README, Configuration); unused on PGlite. */
  postgres: z
    .object({
      applicationName: z.string().min(1).max(63).default(DEFAULT_APPLICATION_NAME),
      connectTimeoutMs: secondsAsMs(DEFAULT_POSTGRES_TIMEOUTS.connectTimeoutMs),
      statementTimeoutMs: secondsAsMs(DEFAULT_POSTGRES_TIMEOUTS.statementTimeoutMs),
      idleInTransactionTimeoutMs: secondsAsMs(DEFAULT_POSTGRES_TIMEOUTS.idleInTransactionTimeoutMs),
      queryTimeoutMs: secondsAsMs(DEFAULT_POSTGRES_TIMEOUTS.queryTimeoutMs),
    })
    .prefault({}),
  /** PGlite data directory, or ":memory:". */
  dataDir: z.string().default('./data'),
  host: z.string().default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  /**
   * Any name boots; only `production` adds a rule: refuse to start without an admin token configured
   * out of band (services/bootstrap-admin.ts).
   */
  env: z.string().default('development'),
  /** `<id>:<sha256 hex of the secret>` of an admin token made out of band (README, Production setup). */
  adminTokenHash: z.string().optional(),
  /** Where a minted bootstrap admin token is written (mode 0600); default `<dataDir>/bootstrap-admin-token`. */
  bootstrapTokenFile: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Where the JSON log goes: a file (appended, 0600, its folder created) or `-` for stdout. Unset:
   * stdout for `serve` (systemd and docker collect it), `<dataDir>/logs/hub.log` for `demo`.
   */
  logFile: z.string().min(1).optional(),
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
  /** SIGINT/SIGTERM: the drain may take this long before the process exits forced (cli/shutdown.ts). */
  shutdownTimeoutMs: secondsAsMs(10_000),
  /** How long an unpaid (pending) online order holds its reservation. */
  orderTtlSeconds: z.coerce.number().int().positive().default(DEFAULT_ORDER_TTL_SECONDS),
  /** A till's op stamped further ahead of hub time than this is restamped (sync/clock-bounds.ts). */
  maxClockAheadMs: secondsAsMs(DEFAULT_MAX_FORWARD_DRIFT_MS),
  /**
   * Webhook targets allowed although not public unicast (loopback, private, link-local, …):
   * host names, IP addresses or CIDR ranges, comma-separated in the environment.
   */
  webhookAllowHosts: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((e) => e.trim())
        .filter((e) => e !== ''),
    )
    .refine(
      (entries) => entries.every(validAllowEntry),
      'each entry a host name, an IP address or a CIDR range',
    ),
  /** Webhook delivery retries (README, "Webhooks"). */
  webhooks: z
    .object({
      // Seconds to wait after each failed attempt, comma-separated; then the webhook is disabled.
      retryScheduleMs: z
        .string()
        .regex(/^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$/, 'comma-separated seconds, e.g. "5,300,1800"')
        .transform((s) => s.split(',').map((n) => Math.round(Number(n) * 1000)))
        .default(() => [...DEFAULT_DELIVERY_SETTINGS.retryScheduleMs]),
    })
    .prefault({}),
  /** How long growing tables keep rows (services/retention.ts, README "Retention"). */
  retention: z
    .object({
      // GET /v1/events promises a week of backfill.
      eventsMs: unitsAsMs(DAY_MS, DEFAULT_RETENTION.eventsMs).refine(
        (ms) => ms >= 7 * DAY_MS,
        'at least 7 days (GET /v1/events serves a week of backfill)',
      ),
      webhookAttemptsMs: unitsAsMs(DAY_MS, DEFAULT_RETENTION.webhookAttemptsMs),
      idempotencyKeysMs: unitsAsMs(HOUR_MS, DEFAULT_RETENTION.idempotencyKeysMs),
      appliedOpsMs: unitsAsMs(DAY_MS, DEFAULT_RETENTION.appliedOpsMs),
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

/** Read the hub's settings; a bad value throws ConfigError naming the variable (env-config.ts). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): HubConfig {
  return parseEnv(HubConfig, configInput, env);
}

/** Every environment variable the hub reads, with the form it expects (the CLI's --help). */
export const HUB_ENV_VARS: readonly EnvVar[] = envVarsOf(HubConfig, configInput);

/** HubConfig's input: which variable feeds which field (the one place that says so). */
function configInput(env: NodeJS.ProcessEnv) {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    migrationDatabaseUrl: env.TILLSYNC_MIGRATION_DATABASE_URL || undefined,
    postgres: {
      applicationName: env.TILLSYNC_PG_APPLICATION_NAME || undefined,
      connectTimeoutMs: env.TILLSYNC_PG_CONNECT_TIMEOUT_SECONDS,
      statementTimeoutMs: env.TILLSYNC_PG_STATEMENT_TIMEOUT_SECONDS,
      idleInTransactionTimeoutMs: env.TILLSYNC_PG_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS,
      queryTimeoutMs: env.TILLSYNC_PG_QUERY_TIMEOUT_SECONDS,
    },
    dataDir: env.TILLSYNC_DATA_DIR,
    host: env.HOST,
    port: env.PORT,
    env: env.NODE_ENV,
    adminTokenHash: env.TILLSYNC_ADMIN_TOKEN_HASH || undefined,
    bootstrapTokenFile: env.TILLSYNC_BOOTSTRAP_TOKEN_FILE || undefined,
    logLevel: env.LOG_LEVEL,
    logFile: env.TILLSYNC_LOG_FILE || undefined,
    bodyLimit: env.TILLSYNC_BODY_LIMIT,
    rateLimitPerMinute: env.TILLSYNC_RATE_LIMIT,
    http: {
      requestTimeoutMs: env.TILLSYNC_REQUEST_TIMEOUT_SECONDS,
      connectionTimeoutMs: env.TILLSYNC_CONNECTION_TIMEOUT_SECONDS,
      keepAliveTimeoutMs: env.TILLSYNC_KEEP_ALIVE_TIMEOUT_SECONDS,
    },
    shutdownTimeoutMs: env.TILLSYNC_SHUTDOWN_TIMEOUT_SECONDS,
    orderTtlSeconds: env.TILLSYNC_ORDER_TTL_SECONDS,
    maxClockAheadMs: env.TILLSYNC_MAX_CLOCK_AHEAD_SECONDS,
    webhookAllowHosts: env.TILLSYNC_WEBHOOK_ALLOW_HOSTS,
    webhooks: {
      retryScheduleMs: env.TILLSYNC_WEBHOOK_RETRY_SCHEDULE || undefined,
    },
    retention: {
      eventsMs: env.TILLSYNC_RETAIN_EVENTS_DAYS,
      webhookAttemptsMs: env.TILLSYNC_RETAIN_WEBHOOK_ATTEMPTS_DAYS,
      idempotencyKeysMs: env.TILLSYNC_RETAIN_IDEMPOTENCY_KEYS_HOURS,
      appliedOpsMs: env.TILLSYNC_RETAIN_APPLIED_OPS_DAYS,
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
  };
}
