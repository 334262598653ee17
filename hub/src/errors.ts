/**
 * Every error `code` the hub answers with, its HTTP status and what it means: the one list the
 * OpenAPI document enumerates (schemas/common.ts `errors(...)`) and `AppError` accepts.
 */
export const ERROR_CODES = {
  invalid_request: {
    status: 400,
    description: 'The request does not match the schema (details.issues names each field)',
  },
  invalid_text: { status: 400, description: 'Text with a NUL (\\u0000) character, which cannot be stored' },
  invalid_idempotency_key: {
    status: 400,
    description: 'The Idempotency-Key header is empty, over 255 characters, or missing where required',
  },
  webhook_target_refused: { status: 400, description: 'The webhook URL names a non-public address' },
  webhook_target_unresolved: { status: 400, description: "The webhook URL's host does not resolve" },
  unauthorized: { status: 401, description: 'No bearer token, or an unknown, revoked or malformed one' },
  forbidden: { status: 403, description: "The token's role or location may not do this" },
  not_found: {
    status: 404,
    description: 'A resource named in the request does not exist (details names it)',
  },
  already_exists: { status: 409, description: 'A resource with this id (or unique field) already exists' },
  in_use: {
    status: 409,
    description: 'Still referenced by stock, movements or devices: deactivate it instead',
  },
  already_resolved: { status: 409, description: 'Already settled (retried, dismissed or resolved) before' },
  still_rejected: { status: 409, description: 'The retried op is still rejected (details: the reason)' },
  insufficient_stock: {
    status: 409,
    description: 'Not enough available stock; nothing was reserved (details.lines)',
  },
  insufficient_hold: { status: 409, description: 'The reference holds less than a line releases' },
  invalid_transition: { status: 409, description: 'The order cannot make this move from its status' },
  order_expired: { status: 409, description: 'The unpaid order expired and released its stock' },
  over_return: { status: 409, description: 'A line returns more than is outstanding' },
  over_receipt: { status: 409, description: 'A line receives more than is outstanding' },
  already_received: { status: 409, description: 'Nothing is outstanding on this transfer' },
  webhook_inactive: { status: 409, description: 'The webhook is deactivated' },
  webhook_disabled: {
    status: 409,
    description: 'The webhook is disabled (its retries ran out, or paused): PATCH {"status": "active"}',
  },
  idempotency_key_sealed: {
    status: 409,
    description:
      "The key's first request ran, but its answer was sealed under the token's previous secret (rotated since): it cannot be replayed",
  },
  idempotency_key_in_use: {
    status: 409,
    description: 'The first request with this Idempotency-Key is still running: retry after Retry-After',
  },
  last_admin_token: {
    status: 409,
    description: 'The last working admin token cannot be revoked (make another admin token first)',
  },
  token_inactive: { status: 409, description: 'The token is revoked or expired: it cannot be rotated' },
  delivery_in_flight: { status: 409, description: 'The delivery is being sent right now' },
  delivery_canceled: { status: 409, description: 'The delivery was canceled (its webhook was deactivated)' },
  stale_version: { status: 412, description: 'If-Match names a version the row has moved past' },
  payload_too_large: { status: 413, description: 'The body is over the hub’s limit (TILLSYNC_BODY_LIMIT)' },
  uri_too_long: { status: 414, description: 'A path parameter is over the router’s length limit' },
  idempotency_key_reused: {
    status: 422,
    description: 'The Idempotency-Key was used before with another body',
  },
  precondition_required: { status: 428, description: 'This write needs an If-Match header' },
  rate_limited: {
    status: 429,
    description: "Over the token's (or address's) request budget: retry after Retry-After",
  },
  internal: { status: 500, description: 'An unexpected failure (logged with the request id)' },
  database_unavailable: { status: 503, description: 'The database is out of reach: retry after Retry-After' },
  shutting_down: {
    status: 503,
    description:
      'The hub is shutting down: retry after Retry-After (another instance, or this one restarted)',
  },
  ui_not_built: { status: 503, description: 'The HQ dashboard has not been built' },
} as const satisfies Record<string, { status: number; description: string }>;
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * One error hierarchy for the whole hub. Services throw these; the one error handler
 * (http/error-handler.ts) maps them to the JSON error shape `{ code, message, details }`.
 */
export class AppError extends Error {
  /** Sent as Retry-After when set: the refusal is temporary. */
  retryAfterSeconds?: number;

  constructor(
    readonly status: number,
    readonly code: ErrorCode,
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

/** The codes answered with 409. */
export type ConflictCode = {
  [C in ErrorCode]: (typeof ERROR_CODES)[C]['status'] extends 409 ? C : never;
}[ErrorCode];

export class ConflictError extends AppError {
  constructor(code: ConflictCode, message: string, details?: unknown) {
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

/** A request that arrived while the hub drains for shutdown (lifecycle.ts): retry, on another instance. */
export class ShuttingDownError extends AppError {
  constructor() {
    super(503, 'shutting_down', 'the hub is shutting down; retry later');
  }
}

/** An Idempotency-Key header that is empty, too long, or missing where the route requires one. */
export class InvalidIdempotencyKeyError extends AppError {
  constructor(message: string) {
    const field = 'headers.idempotency-key';
    super(400, 'invalid_idempotency_key', `${field}: ${message}`, { issues: [{ field, message }] });
  }
}

/** The key's answer was sealed under the token's secret before a rotation: the first request ran, its answer is unreadable. */
export class IdempotencyAnswerSealedError extends AppError {
  constructor(key: string) {
    super(
      409,
      'idempotency_key_sealed',
      `Idempotency-Key ${JSON.stringify(key)}: its request ran, but its answer was sealed under this token's previous secret and cannot be replayed`,
      { key },
    );
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
