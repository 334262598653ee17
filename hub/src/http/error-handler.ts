import type { FastifyError, FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/connection-errors.js';
import { AppError, type ErrorCode, PG, pgErrorCode } from '../errors.js';

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

/** Maps every failure to `{ code, message, details }` with the right status; never leaks a stack. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof AppError) {
      if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
      return reply.status(err.status).send(body(err.code, err.message, err.details));
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map((v) => ({
        field: fieldOf(err.validationContext, v.instancePath, v.params),
        message: v.message ?? 'invalid',
      }));
      const first = issues[0];
      return reply
        .status(400)
        .send(
          body('invalid_request', first ? `${first.field}: ${first.message}` : 'invalid request', { issues }),
        );
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send(body('payload_too_large', err.message));
    }
    if (err.statusCode === 429) {
      return reply.status(429).send(body('rate_limited', err.message));
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      // Fastify's own client errors: bad JSON, unsupported media type, missing body, …
      return reply.status(err.statusCode).send(body('invalid_request', err.message));
    }
    const pg = pgErrorCode(err);
    if (pg === PG.characterNotInRepertoire || pg === PG.untranslatableCharacter) {
      // The statement failed, so its transaction rolled back: nothing was written.
      return reply.status(400).send(body('invalid_text', 'text may not contain NUL (\\u0000) characters'));
    }
    if (isDatabaseUnavailable(err)) {
      // Rolled back (or, for a lost COMMIT, unknown): an Idempotency-Key makes the retry safe.
      request.log.warn({ err }, 'database unavailable');
      return reply
        .status(503)
        .header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS))
        .send(body('database_unavailable', 'the database is unavailable; retry later'));
    }
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send(body('internal', 'internal error'));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(body('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}

/**
 * Fastify's router refuses some URLs before any route or hook runs (a path param over
 * `maxParamLength`, a path that is not valid UTF-8): answered here in the same error shape.
 */
export const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (
  err,
  _request,
  reply,
) => {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  // The option's reply type is generic over every route's schema; this one answers outside them.
  (reply as FastifyReply)
    .status(status)
    .send(body(status === 414 ? 'uri_too_long' : 'invalid_request', err.message));
};

function body(code: ErrorCode, message: string, details?: unknown): ErrorBody {
  return details === undefined ? { code, message } : { code, message, details };
}

/** "body.lines.0.qty", "querystring.limit", … so the client knows which field to fix. */
function fieldOf(context: string | undefined, instancePath: string, params: unknown): string {
  const path = instancePath.replace(/^\//, '').replaceAll('/', '.');
  const keys =
    typeof params === 'object' && params !== null && 'keys' in params && Array.isArray(params.keys)
      ? (params.keys as unknown[]).join(',')
      : '';
  return [context ?? 'request', path, keys].filter(Boolean).join('.');
}
