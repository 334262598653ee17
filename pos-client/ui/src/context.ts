import type { CashierApi, CashierError, TillState } from '../../src/app/cashier-api.js';
import type { Receipt } from '../../src/engine/store.js';

export type ScreenId = 'sale' | 'returns' | 'stock' | 'pickups' | 'count' | 'receipt';

/** What every screen may use: the till, the latest state, and the shell's shared widgets. */
export interface Ctx {
  api: CashierApi;
  state(): TillState | null;
  go(screen: ScreenId): void;
  flash(message: string, kind?: 'ok' | 'error'): void;
  showReceipt(receipt: Receipt): void;
  /** Asks the cashier to confirm selling reserved units; resolves to the reason, or null if cancelled. */
  confirmOverride(error: CashierError): Promise<string | null>;
  /** Remembers a product's currency so receipts and totals can be shown in it. */
  currency(sku?: string): string;
  learn(products: ReadonlyArray<{ sku: string; currency: string }>): void;
}

export interface Screen {
  id: ScreenId;
  el: HTMLElement;
  /** Called when the screen becomes visible: focus its main field, refresh its data. */
  show(): void;
  /** Screen-specific shortcut keys; returns true when handled. */
  key?(e: KeyboardEvent): boolean;
  onState?(state: TillState): void;
}

/** Errors cross the transport as `{ code, message, details }`. */
export function asCashierError(e: unknown): CashierError {
  if (e && typeof e === 'object' && 'message' in e) {
    const { code, message, details } = e as { code?: unknown; message?: unknown; details?: unknown };
    return { code: typeof code === 'string' ? code : 'error', message: String(message), details };
  }
  return { code: 'error', message: String(e) };
}
