import type { CashierError } from '../src/app/cashier-api.js';

/**
 * What a `cashier:<method>` IPC handler resolves to. Errors travel as data: an Error thrown in the
 * main process (or across the context bridge) reaches the page without its `code`.
 */
export type IpcResult = { ok: true; value: unknown } | { ok: false; error: CashierError };

export const STATE_CHANNEL = 'cashier:state';
