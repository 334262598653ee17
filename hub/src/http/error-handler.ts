import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError } from '../errors.js';

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

/** Maps every failure to `{ code, message, details }` with the right status; never leaks a stack. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof AppError) {
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
    request.log.error({ err }, 'unhandled error');
    return reply.status(500).send(body('internal', 'internal error'));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(body('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}

function body(code: string, message: string, details?: unknown): ErrorBody {
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
