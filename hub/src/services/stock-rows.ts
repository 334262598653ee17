import type { StockRow } from '@tillsync/sync-protocol';

/** A stock row as the database returns it. */
export interface StockRecord {
  location_id: string;
  sku: string;
  on_hand: number;
  reserved: number;
  incoming: number;
  damaged: number;
  reorder_point: number;
  version: number;
  count_hlc: string | null;
  change_seq: number;
  updated_at: Date;
}

export const STOCK_COLUMNS =
  'location_id, sku, on_hand, reserved, incoming, damaged, reorder_point, version, count_hlc, change_seq, updated_at';

/** The protocol row of a stock record (or of any row holding its stock columns). */
export function toStockRow(r: Omit<StockRecord, 'change_seq' | 'updated_at'>): StockRow {
  return {
    locationId: r.location_id,
    sku: r.sku,
    onHand: r.on_hand,
    reserved: r.reserved,
    incoming: r.incoming,
    damaged: r.damaged,
    reorderPoint: r.reorder_point,
    version: r.version,
    countHlc: r.count_hlc,
  };
}

/** The REST view of a row: the protocol row plus what people ask for (available, last change). */
export function toInventoryItem(r: StockRecord) {
  const { countHlc: _internal, ...row } = toStockRow(r);
  return { ...row, available: r.on_hand - r.reserved, updatedAt: r.updated_at.toISOString() };
}
export type InventoryItem = ReturnType<typeof toInventoryItem>;
