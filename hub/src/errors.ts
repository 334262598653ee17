/**
 * One error hierarchy for the whole hub. Services throw these; the one error handler
 * (http/error-handler.ts) maps them to the JSON error shape `{ code, message, details }`.
 */
export class AppError extends Error {
  /** Sent as Retry-After when set: the refusal is temporary. */
  retryAfterSeconds?: number;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, details?: unknown) {
    super(400, 'invalid_request', message, details);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'a valid bearer token is required') {
    super(401, 'unauthorized', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super(404, 'not_found', `${what} ${JSON.stringify(id)} does not exist`, { [what]: id });
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(409, code, message, details);
  }
}

export class StaleVersionError extends AppError {
  constructor(expected: number, actual: number) {
    super(412, 'stale_version', `If-Match version ${expected} is stale: the row is at version ${actual}`, {
      expected,
      actual,
    });
  }
}

/** A write that sets an absolute value came without the If-Match it needs to be safe. */
export class PreconditionRequiredError extends AppError {
  constructor(header: string) {
    super(
      428,
      'precondition_required',
      `this write needs an ${header} header with the version you last read`,
      {
        header,
      },
    );
  }
}

export class IdempotencyKeyReusedError extends AppError {
  constructor(key: string, usedFor: { method: string; path: string } | null) {
    const first = usedFor ? ` (first used for ${usedFor.method} ${usedFor.path})` : '';
    super(
      422,
      'idempotency_key_reused',
      `Idempotency-Key ${JSON.stringify(key)} was used for a different request: another method, path or body${first}`,
      { key, ...(usedFor ? { usedFor } : {}) },
    );
  }
}

/** An Idempotency-Key header that is empty, too long, or missing where the route requires one. */
export class InvalidIdempotencyKeyError extends AppError {
  constructor(message: string) {
    const field = 'headers.idempotency-key';
    super(400, 'invalid_idempotency_key', `${field}: ${message}`, { issues: [{ field, message }] });
  }
}

/** The first request with this key is still running after the wait: retry it later. */
export class IdempotencyKeyInUseError extends AppError {
  constructor(key: string, retryAfterSeconds: number) {
    super(
      409,
      'idempotency_key_in_use',
      `a request with Idempotency-Key ${JSON.stringify(key)} is still running; retry after ${retryAfterSeconds} s`,
      { key },
    );
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Postgres error codes worth mapping rather than reporting as 500. */
export const PG = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  /** Text Postgres cannot store: a NUL byte, or bytes invalid in UTF-8. */
  characterNotInRepertoire: '22021',
  untranslatableCharacter: '22P05',
} as const;

export function pgErrorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return undefined;
}
