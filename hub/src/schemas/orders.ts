import { LocationId, Money, Quantity, Sku } from '@tillsync/sync-protocol';
import { z } from 'zod';
import { PageQuery, QueryTime } from './common.js';

/*
 * Online orders (POST /v1/orders and its lifecycle) and the reserve/release endpoints for channels
 * that manage their own orders.
 */

export const MAX_ORDER_LINES = 100;

export const OrderStatus = z.enum([
  'pending',
  'confirmed',
  'processing',
  'shipped',
  'delivered',
  'canceled',
  'returned',
]);
export type OrderStatus = z.infer<typeof OrderStatus>;

export const AllocationStatus = z.enum(['held', 'released', 'fulfilled', 'returned']);
export type AllocationStatus = z.infer<typeof AllocationStatus>;

/** Ids go into URL paths. */
export const OrderId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" or "-", starting with a letter or digit');

const QtyLine = z.strictObject({ sku: Sku, qty: Quantity });

/** Lines naming each SKU once; a repeated SKU is reported at its second line. */
const qtyLines = (max: number) =>
  z
    .array(QtyLine)
    .min(1)
    .max(max)
    .superRefine((lines, ctx) => {
      const seen = new Set<string>();
      lines.forEach((l, i) => {
        if (seen.has(l.sku)) ctx.addIssue({ code: 'custom', message: 'each SKU once', path: [i, 'sku'] });
        seen.add(l.sku);
      });
    });

const text = (max: number) => z.string().trim().min(1).max(max);

export const Address = z
  .strictObject({
    name: text(200),
    line1: text(200),
    line2: text(200).optional(),
    city: text(100),
    postalCode: text(20),
    region: text(100).optional(),
    country: z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 code, e.g. "FR"'),
  })
  .meta({ id: 'Address' });
export type Address = z.infer<typeof Address>;

export const Fulfilment = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('shipping'), address: Address }),
  z.strictObject({ type: z.literal('pickup'), pickupLocationId: LocationId }),
]);
export type Fulfilment = z.infer<typeof Fulfilment>;

export const OrderCreate = z
  .strictObject({
    channel: text(32).describe('Sales channel, e.g. "web", "app", "marketplace-x"'),
    customerRef: text(100).describe("The customer's id or reference in the channel"),
    lines: qtyLines(MAX_ORDER_LINES),
    fulfilment: Fulfilment,
  })
  .meta({
    id: 'OrderCreate',
    examples: [
      {
        channel: 'web',
        customerRef: 'cust-8812',
        lines: [{ sku: 'ML-SKN-001', qty: 2 }],
        fulfilment: {
          type: 'shipping',
          address: {
            name: 'Ana Lopez',
            line1: '12 rue des Lilas',
            city: 'Lyon',
            postalCode: '69003',
            country: 'FR',
          },
        },
      },
    ],
  });
export type OrderCreate = z.infer<typeof OrderCreate>;

export const OrderParams = z.strictObject({ orderId: OrderId });

export const Payment = z.strictObject({
  method: text(32).describe('e.g. "card", "paypal", "gift_card"'),
  amountMinor: Money,
  reference: text(100).describe("The payment provider's reference"),
});

export const OrderConfirm = z.strictObject({ payment: Payment }).meta({ id: 'OrderConfirm' });
export type OrderConfirm = z.infer<typeof OrderConfirm>;

export const OrderCancel = z
  .strictObject({ reason: text(200).optional() })
  .meta({ id: 'OrderCancel' })
  .nullish()
  .describe('Optional; the reason defaults to "requested"');

export const OrderReturn = z
  .strictObject({
    locationId: LocationId.describe('Where the returned units are restocked'),
    condition: z.enum(['sellable', 'damaged']),
    lines: qtyLines(MAX_ORDER_LINES).optional().describe('Default: every unit not returned yet'),
  })
  .meta({ id: 'OrderReturn' });
export type OrderReturn = z.infer<typeof OrderReturn>;

export const Allocation = z.object({
  locationId: LocationId,
  sku: Sku,
  qty: z.number().int(),
  status: AllocationStatus,
});

export const HistoryEntry = z.object({
  from: OrderStatus.nullable(),
  to: OrderStatus,
  reason: z.string().nullable(),
  actor: z.string(),
  at: z.string(),
});

export const Order = z
  .object({
    id: z.string(),
    kind: z.enum(['order', 'external']).describe('"external": a hold made through /inventory/reserve'),
    externalRef: z.string().nullable(),
    status: OrderStatus,
    channel: z.string(),
    customerRef: z.string().nullable(),
    fulfilment: z.enum(['shipping', 'pickup']),
    pickupLocationId: z.string().nullable(),
    shippingAddress: Address.nullable(),
    payment: Payment.nullable(),
    cancelReason: z.string().nullable(),
    expiresAt: z.string().nullable().describe('When an unpaid order releases its stock'),
    atRisk: z.boolean().describe('An offline sale broke a reservation that could not be moved'),
    createdAt: z.string(),
    updatedAt: z.string(),
    lines: z.array(z.object({ sku: Sku, qty: z.number().int(), returnedQty: z.number().int() })),
    allocations: z.array(Allocation),
  })
  .meta({ id: 'Order' });
export type Order = z.infer<typeof Order>;

export const OrderDetail = Order.extend({ history: z.array(HistoryEntry) }).meta({ id: 'OrderDetail' });
export type OrderDetail = z.infer<typeof OrderDetail>;

export const OrderListQuery = z.strictObject({
  ...PageQuery.shape,
  status: OrderStatus.optional(),
  channel: text(32).optional(),
  locationId: LocationId.optional().describe('Orders with any allocation at this location'),
  kind: z.enum(['order', 'external']).default('order'),
  from: QueryTime.optional().describe('Created at or after'),
  to: QueryTime.optional().describe('Created before'),
  order: z.enum(['asc', 'desc']).default('desc').describe('By creation time, then id'),
});
export type OrderListQuery = z.infer<typeof OrderListQuery>;

/** Stock held (or released) by a channel's own order reference at one location. */
export const HoldChange = z
  .strictObject({
    reference: text(64).describe("The channel's own order id"),
    lines: qtyLines(MAX_ORDER_LINES),
  })
  .meta({ id: 'HoldChange' });

export const HoldCreate = HoldChange.extend({
  ttlSeconds: z
    .number()
    .int()
    .positive()
    .max(30 * 86_400)
    .optional()
    .describe('Release automatically after this long; omitted: held until released'),
}).meta({ id: 'HoldCreate' });
export type HoldCreate = z.infer<typeof HoldCreate>;
export type HoldRelease = z.infer<typeof HoldChange>;

export const Hold = z
  .object({
    reference: z.string(),
    orderId: z.string().describe('The hold record (an order of kind "external")'),
    locationId: LocationId,
    lines: z.array(z.object({ sku: Sku, held: z.number().int() })),
    expiresAt: z.string().nullable(),
  })
  .meta({ id: 'Hold' });
export type Hold = z.infer<typeof Hold>;
