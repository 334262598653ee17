import type { Queryable } from '../db/database.js';
import { BadRequestError } from '../errors.js';
import { toCsv } from '../http/csv.js';
import { decodeCursor, pageOf } from '../http/pagination.js';
import type { LowStockItem } from '../schemas/inventory.js';
import { AT_OR_BELOW_REORDER_POINT } from './inventory.js';

/*
 * Brand-wide low stock: every stock row at or below its reorder point (the one definition in
 * services/inventory.ts), with location and product names, by location then SKU. Paginated as JSON,
 * or all of it as CSV for a spreadsheet.
 */

interface LowStockRecord {
  location_id: string;
  location_name: string;
  sku: string;
  product_name: string;
  on_hand: number;
  reserved: number;
  reorder_point: number;
}

function toItem(r: LowStockRecord): LowStockItem {
  const available = r.on_hand - r.reserved;
  return {
    locationId: r.location_id,
    locationName: r.location_name,
    sku: r.sku,
    productName: r.product_name,
    onHand: r.on_hand,
    reserved: r.reserved,
    available,
    reorderPoint: r.reorder_point,
    shortfall: r.reorder_point - available,
  };
}

/** Rows after `after` (a (location, sku) key), at most `limit` (null: all). */
async function lowStockRows(
  db: Queryable,
  locationId: string | null,
  after: readonly [string, string] | null,
  limit: number | null,
): Promise<LowStockRecord[]> {
  const { rows } = await db.query<LowStockRecord>(
    `SELECT s.location_id, l.name AS location_name, s.sku, p.name AS product_name,
            s.on_hand, s.reserved, s.reorder_point
     FROM stock s JOIN locations l ON l.id = s.location_id JOIN products p ON p.sku = s.sku
     WHERE ${AT_OR_BELOW_REORDER_POINT} AND ($1::text IS NULL OR s.location_id = $1)
       AND ($2::text IS NULL OR (s.location_id, s.sku) > ($2, $3::text))
     ORDER BY s.location_id, s.sku
     LIMIT $4`,
    [locationId, after?.[0] ?? null, after?.[1] ?? null, limit],
  );
  return rows;
}

/** One page; `locationId` is already scoped to what the caller may read (null: every location). */
export async function listLowStock(
  db: Queryable,
  locationId: string | null,
  q: { limit: number; cursor?: string | undefined },
): Promise<{ items: LowStockItem[]; nextCursor: string | null }> {
  let after: [string, string] | null = null;
  if (q.cursor !== undefined) {
    const [loc, sku] = decodeCursor(q.cursor, 2);
    if (typeof loc !== 'string' || typeof sku !== 'string') {
      throw new BadRequestError('querystring.cursor: not a cursor returned by this endpoint', {
        field: 'cursor',
      });
    }
    after = [loc, sku];
  }
  const rows = await lowStockRows(db, locationId, after, q.limit + 1);
  return pageOf(rows, q.limit, (r) => [r.location_id, r.sku], toItem);
}

const CSV_HEADER = [
  'location_id',
  'location_name',
  'sku',
  'product_name',
  'on_hand',
  'reserved',
  'available',
  'reorder_point',
  'shortfall',
];

/** Every matching row as one CSV document. */
export async function lowStockCsv(db: Queryable, locationId: string | null): Promise<string> {
  const items = (await lowStockRows(db, locationId, null, null)).map(toItem);
  return toCsv(
    CSV_HEADER,
    items.map((i) => [
      i.locationId,
      i.locationName,
      i.sku,
      i.productName,
      i.onHand,
      i.reserved,
      i.available,
      i.reorderPoint,
      i.shortfall,
    ]),
  );
}
