import { effectsOf, type LedgerView, reduceOp, type StockRow, type TillOp } from '@tillsync/sync-protocol';

/*
 * The cashier's view of a row is the hub's authoritative row (base) with this till's
 * not-yet-acknowledged ops applied on top, in seq order, through the shared reducer (reduceOp):
 * the same numbers the hub will compute, shown before the hub has seen the ops.
 *
 * One difference from the hub, by design: a count the till applies itself sees nothing stamped
 * after it (onHandAfter is 0). Its own later ops come after it in seq order and apply on top; what
 * other tills did later is not in the base yet, and the hub's next row brings it.
 */

/** The SKUs at `locationId` an op changes. */
export function skusTouched(op: TillOp, locationId: string): string[] {
  return effectsOf(op)
    .filter((e) => e.locationId === locationId)
    .map((e) => e.sku);
}

/** Rows of this location, by SKU, as the reducer reads them; no history beyond the rows. */
function viewOf(locationId: string, row: (sku: string) => StockRow | undefined): LedgerView {
  return {
    row: (loc, sku) => (loc === locationId ? row(sku) : undefined),
    onHandAfter: () => 0,
  };
}

/** Apply an op's effects at `locationId` to the given rows (missing rows start empty). */
export function applyLocally(
  op: TillOp,
  locationId: string,
  row: (sku: string) => StockRow | undefined,
): StockRow[] {
  return reduceOp(op, viewOf(locationId, row)).rows.filter((r) => r.locationId === locationId);
}

/** base + pending ops (seq order) for each SKU in `skus`. */
export function rebase(
  skus: Iterable<string>,
  locationId: string,
  base: (sku: string) => StockRow | undefined,
  pending: readonly TillOp[],
): StockRow[] {
  const wanted = new Set(skus);
  const rows = new Map<string, StockRow>();
  for (const sku of wanted) {
    const b = base(sku);
    if (b) rows.set(sku, b);
  }
  const view = viewOf(locationId, (sku) => rows.get(sku));
  for (const op of pending) {
    // Most pending ops touch none of the SKUs being refreshed: skip them before reducing.
    if (!effectsOf(op).some((e) => e.locationId === locationId && wanted.has(e.sku))) continue;
    for (const row of reduceOp(op, view).rows)
      if (row.locationId === locationId && wanted.has(row.sku)) rows.set(row.sku, row);
  }
  return [...rows.values()];
}
