import { z } from 'zod';
import { Hlc } from './hlc.js';
import { LIMITS } from './limits.js';
import { Count, DeviceId, LocationId, Money, OpId, Quantity, Seq, Sku, Version } from './primitives.js';

/*
 * Operations: every change to stock is one, whether a till rang it (TillOp, pushed over the sync
 * protocol) or the hub made it (HubOp: REST writes, online-order reservations). Both kinds go
 * through the same reducer (reducer.ts) and land in the same ledger.
 */

const lines = <T extends z.ZodType>(line: T) => z.array(line).min(1).max(LIMITS.maxLinesPerOp);

/** Every line of a count must name a different SKU: two counts of one shelf in one op is ambiguous. */
const distinctSkus = (ls: ReadonlyArray<{ sku: string }>) => new Set(ls.map((l) => l.sku)).size === ls.length;

const QtyLine = z.strictObject({ sku: Sku, qty: Quantity });

const SaleLine = z.strictObject({ sku: Sku, qty: Quantity, unitPriceMinor: Money });

const Payment = z.strictObject({ method: z.enum(['cash', 'card', 'voucher']), amountMinor: Money });

/** Fields every till operation carries. */
const tillOpBase = {
  opId: OpId,
  /** The device's own sequence number; the hub applies each (device, seq) at most once. */
  seq: Seq,
  hlc: Hlc,
  /** The till's location: a device may only write its own location's stock. */
  locationId: LocationId,
  /** Versions of the rows this op touches as the till knew them (diagnostics and conflict reports). */
  baseVersions: z.record(Sku, Version).optional(),
};

export const SaleOp = z.strictObject({
  ...tillOpBase,
  type: z.literal('sale'),
  receiptId: z.string().min(1).max(64),
  lines: lines(SaleLine),
  payments: z.array(Payment).max(8).default([]),
  /** Set when the cashier confirmed selling stock that was reserved for an online order. */
  reservedOverride: z.strictObject({ reason: z.string().min(1).max(200) }).optional(),
});

export const ReturnOp = z.strictObject({
  ...tillOpBase,
  type: z.literal('return'),
  receiptId: z.string().min(1).max(64),
  originalReceiptId: z.string().min(1).max(64).optional(),
  lines: lines(
    SaleLine.extend({
      /** Damaged returns go to the damaged bucket, not back on the shelf. */
      condition: z.enum(['sellable', 'damaged']).default('sellable'),
    }),
  ),
});

export const ReceiveOp = z.strictObject({
  ...tillOpBase,
  type: z.literal('receive'),
  /** Supplier delivery note or purchase order reference. */
  reference: z.string().min(1).max(100).optional(),
  lines: lines(QtyLine),
});

export const AdjustReason = z.enum(['damage', 'shrink', 'found', 'dispose']);
export type AdjustReason = z.infer<typeof AdjustReason>;

/**
 * Stock adjustments: `damage` moves units from on_hand to damaged, `shrink` removes lost or stolen
 * units, `found` adds units that turned up, `dispose` writes damaged units off.
 */
export const AdjustOp = z.strictObject({
  ...tillOpBase,
  type: z.literal('adjust'),
  reason: AdjustReason,
  note: z.string().max(200).optional(),
  lines: lines(QtyLine),
});

/** A cycle count: on_hand becomes what was counted, as of the op's HLC time. */
export const CountOp = z.strictObject({
  ...tillOpBase,
  type: z.literal('count'),
  lines: lines(z.strictObject({ sku: Sku, counted: Count })).refine(distinctSkus, 'each SKU once per count'),
});

const transferOut = {
  type: z.literal('transfer_out'),
  transferId: z.string().min(1).max(64),
  toLocationId: LocationId,
  lines: lines(QtyLine),
};
const notToSelf = (op: { locationId: string; toLocationId: string }) => op.locationId !== op.toLocationId;
const notToSelfIssue = { message: 'a transfer must go to another location', path: ['toLocationId'] };

export const TransferOutOp = z
  .strictObject({ ...tillOpBase, ...transferOut })
  .refine(notToSelf, notToSelfIssue);

export const TransferInOp = z.strictObject({
  ...tillOpBase,
  type: z.literal('transfer_in'),
  transferId: z.string().min(1).max(64),
  fromLocationId: LocationId,
  lines: lines(QtyLine),
});

/** A customer collects an online order at the store: the reserved units leave the shelf. */
export const PickupOp = z.strictObject({
  ...tillOpBase,
  type: z.literal('pickup'),
  orderId: z.string().min(1).max(64),
  lines: lines(QtyLine),
});

export const TillOp = z.discriminatedUnion('type', [
  SaleOp,
  ReturnOp,
  ReceiveOp,
  AdjustOp,
  CountOp,
  TransferOutOp,
  TransferInOp,
  PickupOp,
]);
export type TillOp = z.infer<typeof TillOp>;
export type TillOpInput = z.input<typeof TillOp>;
export type TillOpType = TillOp['type'];

/*
 * Hub operations: changes the hub originates. They carry the acting principal instead of a device
 * sequence, and the hub's own HLC.
 */
const hubOpBase = {
  opId: OpId,
  hlc: Hlc,
  locationId: LocationId,
};

/**
 * Units held for an online order (or released, shipped out of the hold, or handed over at the hub
 * to a customer collecting a pickup order).
 */
export const ReservationOp = z.strictObject({
  ...hubOpBase,
  type: z.enum(['reserve', 'release', 'ship', 'pickup']),
  orderId: z.string().min(1).max(64),
  lines: lines(QtyLine),
});

/** A returned online order restocked at a location, sellable or damaged. */
export const RestockOp = z.strictObject({
  ...hubOpBase,
  type: z.literal('restock'),
  orderId: z.string().min(1).max(64),
  condition: z.enum(['sellable', 'damaged']),
  lines: lines(QtyLine),
});

/** Absolute settings of a row through REST: on_hand (a count at hub time) and reorder point. */
export const SetStockOp = z
  .strictObject({
    ...hubOpBase,
    type: z.literal('set_stock'),
    sku: Sku,
    onHand: Count.optional(),
    reorderPoint: Count.optional(),
  })
  .refine(
    (op) => op.onHand !== undefined || op.reorderPoint !== undefined,
    'set onHand, reorderPoint or both',
  );

export const HubOp = z.discriminatedUnion('type', [
  ReservationOp,
  RestockOp,
  SetStockOp,
  // REST receipts, adjustments, counts and transfers reuse the till shapes minus the device seq.
  ReceiveOp.omit({ seq: true }),
  AdjustOp.omit({ seq: true }),
  CountOp.omit({ seq: true }),
  z
    .strictObject({ ...tillOpBase, ...transferOut })
    .omit({ seq: true })
    .refine(notToSelf, notToSelfIssue),
  TransferInOp.omit({ seq: true }),
]);
export type HubOp = z.infer<typeof HubOp>;

/** Anything the reducer applies. */
export type StockOp = TillOp | HubOp;

/** Who made an op; recorded on every ledger entry. */
export const Actor = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('device'), deviceId: DeviceId }),
  z.strictObject({ kind: z.literal('token'), tokenId: z.string().min(1).max(64) }),
  z.strictObject({ kind: z.literal('system') }),
]);
export type Actor = z.infer<typeof Actor>;
