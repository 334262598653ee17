import { type ChecksumReply, type PullPage, type StockRow, stockChecksum } from '@tillsync/sync-protocol';
import type { Database, Queryable } from '../db/database.js';
import { STOCK_COLUMNS, type StockRecord, toStockRow } from '../services/stock-rows.js';

/** The latest change cursor of a location (0 before its first stock change). */
export async function locationCursor(db: Queryable, locationId: string): Promise<number> {
  const { rows } = await db.query<{ last_seq: number }>(
    'SELECT last_seq FROM stock_cursors WHERE location_id = $1',
    [locationId],
  );
  return rows[0]?.last_seq ?? 0;
}

/** Rows of a location changed after `since`, in cursor order, at most `limit`. */
export async function pullSince(
  db: Queryable,
  locationId: string,
  since: number,
  limit: number,
): Promise<PullPage> {
  const { rows } = await db.query<StockRecord>(
    `SELECT ${STOCK_COLUMNS} FROM stock WHERE location_id = $1 AND change_seq > $2
     ORDER BY change_seq LIMIT $3`,
    [locationId, since, limit + 1],
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    cursor: String(last ? last.change_seq : since),
    rows: page.map(toStockRow),
    more: rows.length > limit,
  };
}

/** Every stock row of a location: what a till's view must equal. */
export async function locationRows(db: Queryable, locationId: string): Promise<StockRow[]> {
  const { rows } = await db.query<StockRecord>(`SELECT ${STOCK_COLUMNS} FROM stock WHERE location_id = $1`, [
    locationId,
  ]);
  return rows.map(toStockRow);
}

/**
 * The checksum of a location's rows and the cursor it is valid at. The cursor row is read FOR SHARE
 * first: writers take it last before committing, so no write of this location can land between
 * the two reads.
 */
export async function locationChecksum(db: Database, locationId: string): Promise<ChecksumReply> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ last_seq: number }>(
      'SELECT last_seq FROM stock_cursors WHERE location_id = $1 FOR SHARE',
      [locationId],
    );
    const stock = await locationRows(tx, locationId);
    return { checksum: stockChecksum(stock), rows: stock.length, cursor: String(rows[0]?.last_seq ?? 0) };
  });
}
