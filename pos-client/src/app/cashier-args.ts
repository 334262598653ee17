import { z } from 'zod';
import type { CashierApi } from './cashier-api.js';

/*
 * The arguments of every CashierApi method, as zod tuples. The service parses them on entry, so
 * input from any transport (HTTP, Electron IPC) is checked once against one definition; the IPC
 * handlers also use them to refuse a malformed call before it reaches the service.
 * Business rules (whole quantities, known SKUs, reserved stock) stay in the till engine.
 */

const Ref = z.string().trim().min(1, 'enter a SKU or barcode').max(64);
const Id = z.string().trim().min(1).max(128);
const Payment = z.enum(['cash', 'card', 'voucher']);
const Qty = z.number().int('quantity must be a whole number').positive('quantity must be at least 1');
const Lines = <T extends z.ZodType>(line: T) => z.array(line).min(1, 'add at least one item').max(500);

export const CashierArgs = {
  state: z.tuple([]),
  product: z.tuple([Ref]),
  search: z.tuple([z.string().max(100)]),
  stock: z.tuple([Ref]),
  sell: z.tuple([
    z.strictObject({
      lines: Lines(z.strictObject({ ref: Ref, qty: Qty })),
      payment: Payment,
      reservedOverride: z.string().trim().min(1).max(200).optional(),
    }),
  ]),
  returnItems: z.tuple([
    z.strictObject({
      originalReceiptId: Id.optional(),
      lines: Lines(
        z.strictObject({ ref: Ref, qty: Qty, condition: z.enum(['sellable', 'damaged']).optional() }),
      ),
      refund: Payment,
    }),
  ]),
  receipt: z.tuple([Id]),
  pickupOrders: z.tuple([]),
  pickup: z.tuple([Id]),
  count: z.tuple([
    Lines(z.strictObject({ ref: Ref, counted: z.number().int('counts are whole numbers').min(0) })),
  ]),
} satisfies { [K in keyof CashierApi]: z.ZodType<Parameters<CashierApi[K]>> };

export type CashierMethod = keyof typeof CashierArgs;

export const CASHIER_METHODS = Object.keys(CashierArgs) as CashierMethod[];
