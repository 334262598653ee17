import type { CashierError } from './cashier-api.js';

/**
 * A `CashierError` as a thrown Error: what the cashier service throws in process, and what the
 * HTTP client throws after a failed request. Free of Node imports: the browser bundle uses it.
 */
export class CashierApiError extends Error implements CashierError {
  readonly code: string;
  readonly details?: unknown;

  constructor(error: CashierError, options?: ErrorOptions) {
    super(error.message, options);
    this.name = 'CashierApiError';
    this.code = error.code;
    if (error.details !== undefined) this.details = error.details;
  }

  toJSON(): CashierError {
    return {
      code: this.code,
      message: this.message,
      ...(this.details !== undefined ? { details: this.details } : {}),
    };
  }
}
