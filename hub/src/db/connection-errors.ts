/*
 * Which database failures mean "the database is (for now) out of reach" rather than "this request
 * is wrong": Postgres restarting, failing over, a pooler recycling connections, an operator's
 * pg_terminate_backend, a blackholed network. The request did not happen (or its outcome is
 * unknown, for a lost COMMIT) and the caller should retry: REST answers 503 with Retry-After, the
 * sync socket `unavailable`. Decided from the error alone, no I/O.
 */

/** How long a REST caller is told to wait before retrying (Retry-After). */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** SQLSTATEs of a lost or refused connection. Class 08 (connection exception) is matched whole. */
const CONNECTION_LOST_CODES = new Set([
  '57P01', // admin_shutdown: pg_terminate_backend, smart/fast shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, shutting down, in recovery
  '25P03', // idle_in_transaction_session_timeout: the server closed the session
  '53300', // too_many_connections
]);

/** Socket errors of a connection that broke or could not be made. */
const SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** node-postgres reports these with a message only. */
const LOST_MESSAGES = ['Connection terminated', 'not queryable', 'timeout exceeded when trying to connect'];

/** SQLSTATE 57014: statement_timeout (or a cancel) stopped the statement. */
const QUERY_CANCELED = '57014';
/** node-postgres's client-side `query_timeout`. */
const QUERY_READ_TIMEOUT = 'Query read timeout';

/**
 * The connection is gone (or could not be had): whatever the transaction did before is rolled back,
 * unless it was the COMMIT itself that was lost. Safe to retry where the retry is idempotent.
 */
export function isConnectionLost(err: unknown): boolean {
  return causes(err).some((e) => {
    const code = typeof e.code === 'string' ? e.code : '';
    return (
      CONNECTION_LOST_CODES.has(code) ||
      code.startsWith('08') ||
      SOCKET_CODES.has(code) ||
      LOST_MESSAGES.some((m) => e.message.includes(m))
    );
  });
}

/** The database could not serve this request in time or at all: answered "retry later", not 500. */
export function isDatabaseUnavailable(err: unknown): boolean {
  return (
    isConnectionLost(err) ||
    causes(err).some((e) => e.code === QUERY_CANCELED || e.message.includes(QUERY_READ_TIMEOUT))
  );
}

/** The error and what it wraps (`cause`, AggregateError's `errors`: a refused dual-stack connect). */
function causes(err: unknown, depth = 0): Array<{ code?: unknown; message: string }> {
  if (typeof err !== 'object' || err === null || depth > 4) return [];
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  const self = { code: e.code, message: typeof e.message === 'string' ? e.message : '' };
  const inner = [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])];
  return [self, ...inner.flatMap((c) => causes(c, depth + 1))];
}
