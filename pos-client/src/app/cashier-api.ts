import type { StockRow } from '@tillsync/sync-protocol';
import type { HeldOrder, Product, Receipt, RejectedOp } from '../engine/store.js';
import type { SyncState } from '../sync/agent.js';

/*
 * The cashier application's one contract with the till engine. It is implemented once
 * (cashier-service.ts, over a Till and its SyncAgent) and carried two ways: JSON over HTTP on
 * loopback in browser mode (ui-server.ts), and a narrow typed IPC surface in the Electron shell
 * (electron/preload.ts). The UI only ever talks to a `CashierApi`.
 */

export type PaymentMethod = 'cash' | 'card' | 'voucher';

export interface CartLine {
  /** SKU or barcode, as scanned or typed. */
  ref: string;
  qty: number;
}

/** What the status bar shows, always. */
export interface TillState {
  deviceId: string | null;
  locationId: string | null;
  /** Connected to the hub and caught up. */
  online: boolean;
  syncState: SyncState;
  lastError: string | null;
  /** Operations waiting to sync, and the age of the oldest. */
  outboxDepth: number;
  oldestUnsyncedAgeMs: number | null;
  /** Last time the hub acknowledged or pushed anything, epoch ms. */
  lastSyncAt: number | null;
  /** Operations the hub refused for good, newest first, with the reason. */
  rejected: RejectedOp[];
  pickupOrders: number;
}

export interface StockLookup {
  product: Product;
  /** This store, from the till's own view (always available, also offline). */
  here: StockRow;
  /** Every location, from the hub; null when the hub could not be asked (offline). */
  elsewhere: Array<{ locationId: string; onHand: number; reserved: number; available: number }> | null;
  /** True when `elsewhere` is from a cache rather than a live answer. */
  stale: boolean;
}

export interface CashierApi {
  state(): Promise<TillState>;
  /** Exact SKU or barcode lookup. */
  product(ref: string): Promise<Product | null>;
  search(query: string): Promise<Product[]>;
  stock(ref: string): Promise<StockLookup>;
  sell(input: { lines: CartLine[]; payment: PaymentMethod; reservedOverride?: string }): Promise<Receipt>;
  returnItems(input: {
    originalReceiptId?: string;
    lines: Array<CartLine & { condition?: 'sellable' | 'damaged' }>;
    refund: PaymentMethod;
  }): Promise<Receipt>;
  receipt(receiptId: string): Promise<Receipt | null>;
  pickupOrders(): Promise<HeldOrder[]>;
  pickup(orderId: string): Promise<{ seq: number }>;
  count(lines: Array<{ ref: string; counted: number }>): Promise<{ seq: number }>;
}

/**
 * Errors cross the transport as `{ code, message, details }`; `code` is the TillError code
 * ('unknown_product', 'reserved_stock', 'invalid_input', …) so the UI can react (e.g. ask for an
 * override on 'reserved_stock').
 */
export interface CashierError {
  code: string;
  message: string;
  details?: unknown;
}
