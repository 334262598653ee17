import { AdjustOp, Count, CountOp, LocationId, ReceiveOp, Sku, Version } from '@tillsync/sync-protocol';
import { z } from 'zod';
import { PageQuery, QueryBool, QueryTime } from './common.js';

/*
 * Inventory over REST: reading stock rows, and the back-office writes (receipts, adjustments,
 * counts, absolute settings). Write bodies are the protocol's op shapes minus what the hub fills in
 * (op id, HLC, location), so a REST receipt and a till's receipt validate the same way.
 */

export const LocationParams = z.strictObject({ locationId: LocationId });
export const SkuParams = z.strictObject({ sku: Sku });
export const RowParams = z.strictObject({ locationId: LocationId, sku: Sku });

/** A stock row as REST shows it (services/stock-rows.ts toInventoryItem). */
export const InventoryItem = z
  .object({
    locationId: LocationId,
    sku: Sku,
    onHand: z.number().int(),
    reserved: z.number().int(),
    available: z.number().int().describe('onHand - reserved; negative after an oversell'),
    incoming: z.number().int(),
    damaged: z.number().int(),
    reorderPoint: z.number().int(),
    version: Version.describe('Rises by one on every change; send it back as If-Match'),
    updatedAt: z.string().nullable().describe('Last change; null for a SKU the location never stocked'),
  })
  .meta({ id: 'InventoryItem' });

export const LocationInventoryQuery = PageQuery.extend({
  sku: Sku.optional().describe('Exactly this SKU'),
  skuPrefix: z.string().min(1).max(64).optional().describe('SKUs starting with this text'),
  belowReorderPoint: QueryBool.optional().describe(
    'true: only rows with a reorder point set (> 0) whose available (onHand - reserved) is at or below it',
  ),
  changedSince: QueryTime.optional().describe('Rows changed at or after this instant'),
}).strict();
export type LocationInventoryQuery = z.infer<typeof LocationInventoryQuery>;

export const SkuInventory = z
  .object({
    sku: Sku,
    totals: z.object({
      onHand: z.number().int(),
      reserved: z.number().int(),
      available: z.number().int(),
      incoming: z.number().int(),
    }),
    locations: z.array(InventoryItem),
  })
  .meta({ id: 'SkuInventory' });
export type SkuInventory = z.infer<typeof SkuInventory>;

/** `"3"`, `3` or `W/"3"`: the row version the client last read. */
export const IfMatchHeaders = z.object({
  'if-match': z
    .string()
    .regex(/^\s*(W\/)?("\d{1,10}"|\d{1,10})\s*$/, 'a row version as returned in ETag, e.g. "3"')
    .optional()
    .describe('Required on writes that set absolute values (428 without it)'),
});

export function parseIfMatch(header: string): number {
  return Number.parseInt(header.replace(/\D/g, ''), 10);
}

export const InventoryPatch = z
  .strictObject({
    onHand: Count.optional().describe('Set on_hand: a count taken now'),
    reorderPoint: Count.optional(),
  })
  .refine((p) => p.onHand !== undefined || p.reorderPoint !== undefined, 'set onHand, reorderPoint or both')
  .meta({ id: 'InventoryPatch' });
export type InventoryPatch = z.infer<typeof InventoryPatch>;

export const ReceiptCreate = ReceiveOp.pick({ reference: true, lines: true }).meta({
  id: 'ReceiptCreate',
  examples: [
    {
      reference: 'PO-2026-0412',
      lines: [
        { sku: 'ML-SKN-001', qty: 24 },
        { sku: 'ML-SKN-002', qty: 12 },
      ],
    },
  ],
});
export type ReceiptCreate = z.infer<typeof ReceiptCreate>;

export const AdjustmentCreate = AdjustOp.pick({ reason: true, note: true, lines: true }).meta({
  id: 'AdjustmentCreate',
});
export type AdjustmentCreate = z.infer<typeof AdjustmentCreate>;

export const CountCreate = CountOp.pick({ lines: true }).meta({ id: 'CountCreate' });
export type CountCreate = z.infer<typeof CountCreate>;

export const StockWriteResult = z
  .object({
    opId: z.string().describe('The op in the movement ledger (GET /v1/movements)'),
    rows: z.array(InventoryItem).describe('Every row the op changed, as it is now'),
  })
  .meta({ id: 'StockWriteResult' });
export type StockWriteResult = z.infer<typeof StockWriteResult>;

/** A stock row at or below its reorder point, brand-wide (GET /v1/inventory/low-stock). */
export const LowStockItem = z
  .object({
    locationId: LocationId,
    locationName: z.string(),
    sku: Sku,
    productName: z.string(),
    onHand: z.number().int(),
    reserved: z.number().int(),
    available: z.number().int().describe('onHand - reserved'),
    reorderPoint: z.number().int(),
    shortfall: z
      .number()
      .int()
      .describe('reorderPoint - available: units to bring it back to its reorder point'),
  })
  .meta({ id: 'LowStockItem' });
export type LowStockItem = z.infer<typeof LowStockItem>;

export const LowStockQuery = PageQuery.extend({
  locationId: LocationId.optional(),
  format: z
    .enum(['json', 'csv'])
    .optional()
    .describe('csv: every matching row as a CSV download (limit and cursor ignored); also Accept: text/csv'),
}).strict();
