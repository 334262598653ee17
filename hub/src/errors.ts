/**
 * One error hierarchy for the whole hub. Services throw these; the one error handler
 * (http/error-handler.ts) maps them to the JSON error shape `{ code, message, details }`.
 */
export class AppError extends Error {
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
  constructor(key: string) {
    super(
      422,
      'idempotency_key_reused',
      `Idempotency-Key ${JSON.stringify(key)} was used with a different body`,
      {
        key,
      },
    );
  }
}

/** A request that arrived while the hub drains for shutdown (lifecycle.ts): retry, on another instance. */
export class ShuttingDownError extends AppError {
  constructor() {
    super(503, 'shutting_down', 'the hub is shutting down; retry later');
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
