import {
  type AdjustReason,
  available,
  emptyRow,
  newOpId,
  type StockRow,
  type TillOp,
} from '@tillsync/sync-protocol';
import { z } from 'zod';
import { InvalidInputError, ReservedStockError, UnknownProductError } from './errors.js';
import type { Enrolment, Replica, TillStatus } from './replica.js';
import type { HeldOrder, Product, Receipt, TillStore } from './store.js';

const LineRef = z.object({ ref: z.string().min(1).max(64), qty: z.number().int().positive().max(1_000_000) });
const Payments = z.array(
  z.object({ method: z.enum(['cash', 'card', 'voucher']), amountMinor: z.number().int().min(0) }),
);

/**
 * The cashier's door: what the UI server, the CLI and the cashier service call. It resolves
 * products, prices lines, checks what a cashier may do (returns against a receipt, units held for
 * online orders) and hands each op to the replica, which stamps and records it; the receipt is
 * written in that same transaction (the cashier is the one writer of receipts and receipt_lines).
 * Reads come straight from the store. It never talks to the sync agent.
 */
export class Cashier {
  constructor(
    private readonly replica: Replica,
    private readonly store: TillStore,
  ) {}

  get enrolment(): Readonly<Enrolment> | null {
    return this.replica.enrolment;
  }

  /** Listen for every local or synced change (the UI refreshes on it); returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.replica.on('change', listener);
    return () => this.replica.off('change', listener);
  }

  // ── actions ──────────────────────────────────────────────────────────────────────────────

  /** Ring a sale: lines by SKU or barcode, priced from the catalogue. */
  sell(input: {
    lines: Array<{ ref: string; qty: number }>;
    payments?: Array<{ method: 'cash' | 'card' | 'voucher'; amountMinor: number }>;
    /** Without `payments`: the whole total paid this way (cash by default). */
    paymentMethod?: 'cash' | 'card' | 'voucher';
    /** The cashier confirmed selling units reserved for online orders. */
    reservedOverride?: string;
  }): Receipt {
    const lines = this.resolveLines(input.lines);
    const paid = Payments.safeParse(input.payments ?? []);
    if (!paid.success) {
      const issue = paid.error.issues[0];
      throw new InvalidInputError(
        `payments.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
        paid.error.issues,
      );
    }
    const payments = paid.data;
    if (!input.reservedOverride) this.assertNotReserved(lines);
    const receiptId = this.newReceiptId();
    const totalMinor = lines.reduce((sum, l) => sum + l.qty * l.product.priceMinor, 0);
    let receipt: Receipt | undefined;
    this.replica.record(
      {
        type: 'sale',
        receiptId,
        lines: lines.map((l) => ({ sku: l.product.sku, qty: l.qty, unitPriceMinor: l.product.priceMinor })),
        payments:
          payments.length > 0
            ? payments
            : [{ method: input.paymentMethod ?? 'cash', amountMinor: totalMinor }],
        ...(input.reservedOverride ? { reservedOverride: { reason: input.reservedOverride } } : {}),
      },
      (op) => {
        receipt = {
          receiptId,
          kind: 'sale',
          seq: op.seq,
          originalReceiptId: null,
          totalMinor,
          payments: op.type === 'sale' ? op.payments : [],
          createdAt: this.replica.now(),
          lines: lines.map((l) => ({
            sku: l.product.sku,
            name: l.product.name,
            qty: l.qty,
            unitPriceMinor: l.product.priceMinor,
          })),
        };
        this.store.addReceipt(receipt);
      },
    );
    return receipt!;
  }

  /** Take items back, against an earlier receipt of this till (refunded at its prices) or without one. */
  returnItems(input: {
    originalReceiptId?: string;
    lines: Array<{ ref: string; qty: number; condition?: 'sellable' | 'damaged' }>;
    refundMethod?: 'cash' | 'card' | 'voucher';
  }): Receipt {
    const lines = this.resolveLines(input.lines).map((l, i) => ({
      ...l,
      condition: input.lines[i]?.condition ?? 'sellable',
    }));
    const original = input.originalReceiptId ? this.store.receipt(input.originalReceiptId) : undefined;
    if (input.originalReceiptId) {
      if (original?.kind !== 'sale') {
        throw new InvalidInputError(`no sale receipt ${input.originalReceiptId} on this till`);
      }
      const returned = this.store.returnedAgainst(original.receiptId);
      // The same SKU may come on several lines (by SKU and by barcode): their sum is what comes back.
      const wanted = new Map<string, number>();
      for (const l of lines) wanted.set(l.product.sku, (wanted.get(l.product.sku) ?? 0) + l.qty);
      for (const [sku, qty] of wanted) {
        const sold = original.lines.filter((o) => o.sku === sku).reduce((s, o) => s + o.qty, 0);
        const left = sold - (returned.get(sku) ?? 0);
        if (qty > left) {
          throw new InvalidInputError(`receipt ${original.receiptId} has ${left} × ${sku} left to return`, {
            sku,
            left,
          });
        }
      }
    }
    const price = (sku: string, fallback: number) =>
      original?.lines.find((o) => o.sku === sku)?.unitPriceMinor ?? fallback;
    const receiptId = this.newReceiptId();
    const totalMinor = lines.reduce((s, l) => s + l.qty * price(l.product.sku, l.product.priceMinor), 0);
    let receipt: Receipt | undefined;
    this.replica.record(
      {
        type: 'return',
        receiptId,
        ...(original ? { originalReceiptId: original.receiptId } : {}),
        lines: lines.map((l) => ({
          sku: l.product.sku,
          qty: l.qty,
          unitPriceMinor: price(l.product.sku, l.product.priceMinor),
          condition: l.condition,
        })),
      },
      (op) => {
        receipt = {
          receiptId,
          kind: 'return',
          seq: op.seq,
          originalReceiptId: original?.receiptId ?? null,
          totalMinor,
          payments: [
            {
              method: input.refundMethod ?? original?.payments[0]?.method ?? 'cash',
              amountMinor: totalMinor,
            },
          ],
          createdAt: this.replica.now(),
          lines: lines.map((l) => ({
            sku: l.product.sku,
            name: l.product.name,
            qty: l.qty,
            unitPriceMinor: price(l.product.sku, l.product.priceMinor),
            condition: l.condition,
          })),
        };
        this.store.addReceipt(receipt);
      },
    );
    return receipt!;
  }

  /** A cycle count: on_hand becomes what was counted, as of now. */
  count(lines: Array<{ ref: string; counted: number }>): TillOp {
    const resolved = lines.map((l) => ({ sku: this.productOrThrow(l.ref).sku, counted: l.counted }));
    return this.replica.record({ type: 'count', lines: resolved });
  }

  receive(lines: Array<{ ref: string; qty: number }>, reference?: string): TillOp {
    return this.replica.record({
      type: 'receive',
      lines: this.skuLines(lines),
      ...(reference ? { reference } : {}),
    });
  }

  adjust(reason: AdjustReason, lines: Array<{ ref: string; qty: number }>, note?: string): TillOp {
    return this.replica.record({
      type: 'adjust',
      reason,
      lines: this.skuLines(lines),
      ...(note ? { note } : {}),
    });
  }

  transferOut(
    toLocationId: string,
    lines: Array<{ ref: string; qty: number }>,
    transferId = `tr_${newOpId()}`,
  ): TillOp {
    return this.replica.record({
      type: 'transfer_out',
      transferId,
      toLocationId,
      lines: this.skuLines(lines),
    });
  }

  transferIn(transferId: string, fromLocationId: string, lines: Array<{ ref: string; qty: number }>): TillOp {
    return this.replica.record({
      type: 'transfer_in',
      transferId,
      fromLocationId,
      lines: this.skuLines(lines),
    });
  }

  /**
   * Hand an online order's reserved units to the customer collecting it: every line held here for
   * the order unless `lines` says otherwise. Works offline like any other op.
   */
  pickup(orderId: string, lines?: Array<{ ref: string; qty: number }>): TillOp {
    const held = this.store.heldOrders().find((o) => o.orderId === orderId);
    const wanted = lines ?? held?.lines.map((l) => ({ ref: l.sku, qty: l.qty }));
    if (!wanted || wanted.length === 0)
      throw new InvalidInputError(`no units are held here for order ${orderId}`);
    return this.replica.record({ type: 'pickup', orderId, lines: this.skuLines(wanted) });
  }

  // ── reads ────────────────────────────────────────────────────────────────────────────────

  /** Online orders waiting to be collected at this store. */
  pickupOrders(): HeldOrder[] {
    return this.store.heldOrders();
  }

  product(ref: string): Product | undefined {
    return this.store.product(ref);
  }

  searchProducts(query: string, limit = 20): Product[] {
    return this.store.searchProducts(query, limit);
  }

  /** The cashier's view of a SKU's stock here (a zero row for a catalogue SKU never stocked). */
  stock(ref: string): StockRow | undefined {
    const p = this.store.product(ref);
    const sku = p?.sku ?? ref;
    return (
      this.store.stock(sku) ?? (p ? emptyRow(this.replica.requireEnrolment().locationId, sku) : undefined)
    );
  }

  /** Every row of the cashier's view, by SKU. */
  allStock(): StockRow[] {
    return this.store.allStock();
  }

  receipt(receiptId: string): Receipt | undefined {
    return this.store.receipt(receiptId);
  }

  status(): TillStatus {
    return this.replica.status();
  }

  // ── internals ────────────────────────────────────────────────────────────────────────────

  private productOrThrow(ref: string): Product {
    const p = this.store.product(ref);
    if (!p) throw new UnknownProductError(ref);
    return p;
  }

  private resolveLines(lines: Array<{ ref: string; qty: number }>): Array<{ product: Product; qty: number }> {
    this.replica.requireEnrolment();
    if (lines.length === 0) throw new InvalidInputError('add at least one item');
    return lines.map((l) => {
      const parsed = LineRef.safeParse(l);
      if (!parsed.success)
        throw new InvalidInputError(`quantity must be a whole number of at least 1 (${l.ref})`);
      return { product: this.productOrThrow(l.ref), qty: parsed.data.qty };
    });
  }

  private skuLines(lines: Array<{ ref: string; qty: number }>): Array<{ sku: string; qty: number }> {
    return this.resolveLines(lines).map((l) => ({ sku: l.product.sku, qty: l.qty }));
  }

  /** A sale may take what is free, and even oversell free stock, but not units held for online orders. */
  private assertNotReserved(lines: Array<{ product: Product; qty: number }>): void {
    const wanted = new Map<string, number>();
    for (const l of lines) wanted.set(l.product.sku, (wanted.get(l.product.sku) ?? 0) + l.qty);
    const blocked = [...wanted].flatMap(([sku, qty]) => {
      const row = this.store.stock(sku);
      if (!row || row.reserved <= 0) return [];
      const free = Math.max(0, available(row));
      return qty > free ? [{ sku, requested: qty, available: free, reserved: row.reserved }] : [];
    });
    if (blocked.length > 0) throw new ReservedStockError(blocked);
  }

  private newReceiptId(): string {
    const { deviceId } = this.replica.requireEnrolment();
    return `${deviceId}-${this.replica.nextSeq().toString().padStart(6, '0')}`;
  }
}
