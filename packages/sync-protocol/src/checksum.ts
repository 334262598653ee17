import { createHash } from 'node:crypto';
import type { StockRow } from './stock.js';

/**
 * A checksum of a location's stock rows that hub and till compute alike: every field of every row
 * in a fixed order, rows sorted by (location, SKU). Equal checksums mean equal views; a mismatch
 * triggers a full resync. `countHlc` is part of the view: it decides how late deltas settle.
 */
export function stockChecksum(rows: Iterable<StockRow>): string {
  const key = (r: StockRow) => `${r.locationId}\u0000${r.sku}`;
  const sorted = [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const hash = createHash('sha256');
  for (const r of sorted) {
    hash.update(
      `${r.locationId}|${r.sku}|${r.onHand}|${r.reserved}|${r.incoming}|${r.damaged}|${r.reorderPoint}|${r.version}|${r.countHlc ?? ''}\n`,
    );
  }
  return hash.digest('hex');
}
