import { z } from 'zod';
import { Hlc } from './hlc.js';
import { LocationId, Sku, Version } from './primitives.js';

/**
 * One location × SKU stock row. `available = onHand - reserved` may go negative: an oversell is
 * recorded, never hidden. `version` counts the ledger entries of the row, so it rises by one on
 * every change whatever order ops arrive in. `countHlc` is the time of the latest cycle count
 * applied: deltas stamped earlier are absorbed by it.
 */
export const StockRow = z.strictObject({
  locationId: LocationId,
  sku: Sku,
  onHand: z.number().int(),
  reserved: z.number().int(),
  incoming: z.number().int(),
  damaged: z.number().int(),
  reorderPoint: z.number().int().nonnegative(),
  version: Version,
  countHlc: Hlc.nullable(),
});
export type StockRow = z.infer<typeof StockRow>;

export function emptyRow(locationId: string, sku: string): StockRow {
  return {
    locationId,
    sku,
    onHand: 0,
    reserved: 0,
    incoming: 0,
    damaged: 0,
    reorderPoint: 0,
    version: 0,
    countHlc: null,
  };
}

export function available(row: Pick<StockRow, 'onHand' | 'reserved'>): number {
  return row.onHand - row.reserved;
}

export function rowKey(locationId: string, sku: string): string {
  return `${locationId}\u0000${sku}`;
}
