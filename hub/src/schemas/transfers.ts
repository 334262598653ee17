import { LIMITS, LocationId, Quantity, Sku } from '@tillsync/sync-protocol';
import { z } from 'zod';
import { PageQuery } from './common.js';

/*
 * Transfers between locations: shipped (the source's on_hand drops, the destination's incoming
 * rises) and then received at the destination, in one go or in parts.
 */

/** Ids go into URL paths: the SKU alphabet, which also covers the UUIDs tills use. */
export const TransferId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" or "-", starting with a letter or digit');

export const TransferStatus = z.enum(['in_transit', 'partially_received', 'received']);
export type TransferStatus = z.infer<typeof TransferStatus>;

const QtyLine = z.strictObject({ sku: Sku, qty: Quantity });

const distinctSkus = (lines: ReadonlyArray<{ sku: string }>) =>
  new Set(lines.map((l) => l.sku)).size === lines.length;

const QtyLines = z
  .array(QtyLine)
  .min(1)
  .max(LIMITS.maxLinesPerOp)
  .refine(distinctSkus, 'each SKU once per transfer');

export const TransferCreate = z
  .strictObject({
    id: TransferId.optional().describe('Client-chosen id (default: generated "tr_…")'),
    fromLocationId: LocationId,
    toLocationId: LocationId,
    reference: z.string().trim().min(1).max(100).optional().describe('Delivery note or order reference'),
    lines: QtyLines,
  })
  .refine((t) => t.fromLocationId !== t.toLocationId, {
    message: 'a transfer must go to another location',
    path: ['toLocationId'],
  })
  .meta({ id: 'TransferCreate' });
export type TransferCreate = z.infer<typeof TransferCreate>;

export const TransferReceive = z
  .strictObject({
    lines: QtyLines.optional().describe('What arrived; omit to receive everything still outstanding'),
  })
  .meta({ id: 'TransferReceive' });
export type TransferReceive = z.infer<typeof TransferReceive>;

export const TransferLine = z.object({
  sku: Sku,
  qty: z.number().int(),
  receivedQty: z.number().int(),
});

export const Transfer = z
  .object({
    id: z.string(),
    fromLocationId: LocationId,
    toLocationId: LocationId,
    status: TransferStatus,
    reference: z.string().nullable(),
    createdAt: z.string(),
    receivedAt: z.string().nullable().describe('When the last outstanding unit was received'),
    lines: z.array(TransferLine),
  })
  .meta({ id: 'Transfer' });
export type Transfer = z.infer<typeof Transfer>;

export const TransferListQuery = z.strictObject({
  ...PageQuery.shape,
  status: TransferStatus.optional(),
  fromLocationId: LocationId.optional(),
  toLocationId: LocationId.optional(),
  order: z.enum(['asc', 'desc']).default('asc').describe('By creation time, then id'),
});
export type TransferListQuery = z.infer<typeof TransferListQuery>;
