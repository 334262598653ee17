import { emptyRow, type HubOp, newOpId } from '@tillsync/sync-protocol';
import type { Queryable } from '../db/database.js';
import { BadRequestError, NotFoundError, StaleVersionError } from '../errors.js';
import { decodeCursor, pageOf } from '../http/pagination.js';
import type { StockWriter } from '../ledger/writer.js';
import type {
  AdjustmentCreate,
  CountCreate,
  InventoryPatch,
  LocationInventoryQuery,
  ReceiptCreate,
  SkuInventory,
  StockWriteResult,
} from '../schemas/inventory.js';
import { assertCanReadLocation, assertCanWriteStock } from './access.js';
import { type InventoryItem, STOCK_COLUMNS, type StockRecord, toInventoryItem } from './stock-rows.js';
import type { Principal, Role } from './tokens.js';

/*
 * Inventory over REST. Reads are plain queries; every write builds a hub op and sends it through
 * app.stock.write (shared reducer + ledger, one transaction). Unknown locations and SKUs are
 * checked inside that transaction, before anything is applied, so a bad line writes nothing.
 */

export const INVENTORY_READERS: readonly Role[] = ['admin', 'hq', 'store_manager', 'channel', 'device'];
export const STOCK_WRITERS: readonly Role[] = ['admin', 'store_manager'];

/**
 * "At or below its reorder point", as SQL over a stock row: a reorder point is set (> 0) and
 * available (on_hand - reserved) is at or below it. Units promised to online orders are not there
 * to sell, and a row nobody gave a reorder point is not flagged. The one definition: the location
 * inventory filter and the brand-wide low-stock list (services/low-stock.ts) both use it.
 */
export const AT_OR_BELOW_REORDER_POINT = 'reorder_point > 0 AND on_hand - reserved <= reorder_point';

/** A row as REST shows it; `updatedAt` is null for a SKU the location has never stocked. */
export type InventoryRow = Omit<InventoryItem, 'updatedAt'> & { updatedAt: string | null };

function actorOf(principal: Principal): string {
  return `${principal.kind}:${principal.id}`;
}

/** 404 for an unknown location, then for the first unknown SKU. */
async function assertKnown(db: Queryable, locationId: string, skus: readonly string[]): Promise<void> {
  const { rows } = await db.query<{ kind: 'location' | 'sku'; id: string }>(
    `SELECT 'location' AS kind, id FROM locations WHERE id = $1
     UNION ALL SELECT 'sku', sku FROM products WHERE sku = ANY($2::text[])`,
    [locationId, [...new Set(skus)]],
  );
  if (!rows.some((r) => r.kind === 'location')) throw new NotFoundError('location', locationId);
  const known = new Set(rows.filter((r) => r.kind === 'sku').map((r) => r.id));
  const unknown = skus.find((s) => !known.has(s));
  if (unknown !== undefined) throw new NotFoundError('product', unknown);
}

async function rowsAt(db: Queryable, locationId: string, skus: readonly string[]): Promise<InventoryItem[]> {
  const { rows } = await db.query<StockRecord>(
    `SELECT ${STOCK_COLUMNS} FROM stock WHERE location_id = $1 AND sku = ANY($2::text[]) ORDER BY sku`,
    [locationId, [...new Set(skus)]],
  );
  return rows.map(toInventoryItem);
}

/** One location's stock rows, keyset-paginated by SKU (`belowReorderPoint`: AT_OR_BELOW_REORDER_POINT). */
export async function listLocationInventory(
  db: Queryable,
  principal: Principal,
  locationId: string,
  query: LocationInventoryQuery,
): Promise<{ items: InventoryItem[]; nextCursor: string | null }> {
  assertCanReadLocation(principal, locationId);
  await assertKnown(db, locationId, []);
  const params: unknown[] = [locationId];
  const where = ['location_id = $1'];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (query.sku !== undefined) where.push(`sku = ${param(query.sku)}`);
  if (query.skuPrefix !== undefined) where.push(`starts_with(sku, ${param(query.skuPrefix)})`);
  if (query.belowReorderPoint) where.push(AT_OR_BELOW_REORDER_POINT);
  if (query.changedSince !== undefined) where.push(`updated_at >= ${param(query.changedSince)}`);
  if (query.cursor !== undefined) {
    const [after] = decodeCursor(query.cursor, 1);
    if (typeof after !== 'string') {
      throw new BadRequestError('querystring.cursor: not a cursor returned by this endpoint', {
        field: 'cursor',
      });
    }
    where.push(`sku > ${param(after)}`);
  }
  const { rows } = await db.query<StockRecord>(
    `SELECT ${STOCK_COLUMNS} FROM stock WHERE ${where.join(' AND ')} ORDER BY sku LIMIT ${param(query.limit + 1)}`,
    params,
  );
  return pageOf(rows, query.limit, (r) => [r.sku], toInventoryItem);
}

/**
 * A SKU at every location that has a row for it, with totals. A store manager sees its own
 * location only; the other roles that read stock (devices and channels included: availability
 * lookups) see every location.
 */
export async function skuInventory(db: Queryable, principal: Principal, sku: string): Promise<SkuInventory> {
  const { rows: products } = await db.query('SELECT 1 FROM products WHERE sku = $1', [sku]);
  if (products.length === 0) throw new NotFoundError('product', sku);
  const own = principal.role === 'store_manager' ? principal.locationId : null;
  const { rows } = await db.query<StockRecord>(
    `SELECT ${STOCK_COLUMNS} FROM stock WHERE sku = $1 AND ($2::text IS NULL OR location_id = $2)
     ORDER BY location_id`,
    [sku, own],
  );
  const locations = rows.map(toInventoryItem);
  const totals = { onHand: 0, reserved: 0, available: 0, incoming: 0 };
  for (const l of locations) {
    totals.onHand += l.onHand;
    totals.reserved += l.reserved;
    totals.available += l.available;
    totals.incoming += l.incoming;
  }
  return { sku, totals, locations };
}

/** One row; a catalogue SKU the location never stocked is a zero row at version 0. */
export async function getInventoryRow(
  db: Queryable,
  principal: Principal,
  locationId: string,
  sku: string,
): Promise<InventoryRow> {
  assertCanReadLocation(principal, locationId);
  await assertKnown(db, locationId, [sku]);
  const [row] = await rowsAt(db, locationId, [sku]);
  if (row) return row;
  // A catalogue SKU this location never stocked: the protocol's empty row, never changed.
  const { countHlc: _internal, ...empty } = emptyRow(locationId, sku);
  return { ...empty, available: 0, updatedAt: null };
}

/**
 * Set on_hand (a count at hub time) and/or the reorder point, if the row is still at
 * `expectedVersion`. The version is checked against the row locked inside the write
 * transaction, so of two writers holding the same version exactly one wins.
 */
export async function setStock(
  stock: StockWriter,
  principal: Principal,
  locationId: string,
  sku: string,
  expectedVersion: number,
  patch: InventoryPatch,
): Promise<InventoryItem> {
  assertCanWriteStock(principal, locationId);
  return stock.write(async (tx, apply) => {
    await assertKnown(tx, locationId, [sku]);
    // The row must exist to be locked: two first writers of a never-stocked row both hold version 0.
    await tx.query('INSERT INTO stock (location_id, sku) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
      locationId,
      sku,
    ]);
    const { rows } = await tx.query<{ version: number; count_hlc: string | null }>(
      'SELECT version, count_hlc FROM stock WHERE location_id = $1 AND sku = $2 FOR UPDATE',
      [locationId, sku],
    );
    const current = rows[0] ?? { version: 0, count_hlc: null };
    if (current.version !== expectedVersion) throw new StaleVersionError(expectedVersion, current.version);
    // A count a till stamped slightly ahead of our clock must not supersede this newer setting.
    if (current.count_hlc !== null) stock.clock.receive(current.count_hlc);
    const op: HubOp = {
      type: 'set_stock',
      opId: newOpId(),
      hlc: stock.clock.tick(),
      locationId,
      sku,
      ...patch,
    };
    await apply([{ op, actor: actorOf(principal) }]);
    const [row] = await rowsAt(tx, locationId, [sku]);
    if (!row) throw new Error(`stock row ${locationId}/${sku} vanished inside its own write`);
    return row;
  });
}

type LinesOp = Extract<HubOp, { type: 'receive' | 'adjust' | 'count' }>;
type OpBody<T extends LinesOp['type']> = Omit<Extract<LinesOp, { type: T }>, 'opId' | 'hlc' | 'locationId'>;

async function writeLines(
  stock: StockWriter,
  principal: Principal,
  locationId: string,
  body: OpBody<'receive'> | OpBody<'adjust'> | OpBody<'count'>,
  reference: string | null,
): Promise<StockWriteResult> {
  assertCanWriteStock(principal, locationId);
  const skus = body.lines.map((l) => l.sku);
  return stock.write(async (tx, apply) => {
    await assertKnown(tx, locationId, skus);
    const op: LinesOp = { ...body, opId: newOpId(), hlc: stock.clock.tick(), locationId };
    await apply([{ op, actor: actorOf(principal), reference }]);
    return { opId: op.opId, rows: await rowsAt(tx, locationId, skus) };
  });
}

/** Goods delivered to the location: on_hand up by each line. */
export function receiveStock(
  stock: StockWriter,
  principal: Principal,
  locationId: string,
  receipt: ReceiptCreate,
): Promise<StockWriteResult> {
  return writeLines(stock, principal, locationId, { type: 'receive', ...receipt }, receipt.reference ?? null);
}

/** Damage, shrink, found or dispose (see AdjustOp for what each moves). */
export function adjustStock(
  stock: StockWriter,
  principal: Principal,
  locationId: string,
  adjustment: AdjustmentCreate,
): Promise<StockWriteResult> {
  return writeLines(stock, principal, locationId, { type: 'adjust', ...adjustment }, null);
}

/** A cycle count entered in the back office: on_hand becomes what was counted, as of now. */
export function countStock(
  stock: StockWriter,
  principal: Principal,
  locationId: string,
  count: CountCreate,
): Promise<StockWriteResult> {
  return writeLines(stock, principal, locationId, { type: 'count', ...count }, null);
}
