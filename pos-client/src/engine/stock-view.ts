import { applyEffect, effectsOf, emptyRow, type StockRow, type TillOp } from '@tillsync/sync-protocol';

/*
 * The cashier's view of a row is the hub's authoritative row (base) with this till's
 * not-yet-acknowledged ops applied on top, in seq order, through the shared reducer: the same
 * numbers the hub will compute, shown before the hub has seen the ops.
 */

/** The SKUs at `locationId` an op changes. */
export function skusTouched(op: TillOp, locationId: string): string[] {
  return effectsOf(op)
    .filter((e) => e.locationId === locationId)
    .map((e) => e.sku);
}

/** Apply an op's effects at `locationId` to the given rows (missing rows start empty). */
export function applyLocally(
  op: TillOp,
  locationId: string,
  row: (sku: string) => StockRow | undefined,
): StockRow[] {
  const out = new Map<string, StockRow>();
  for (const effect of effectsOf(op)) {
    if (effect.locationId !== locationId) continue;
    const current = out.get(effect.sku) ?? row(effect.sku) ?? emptyRow(locationId, effect.sku);
    // A count made here is the latest thing this till knows of the row: nothing applied after it.
    out.set(effect.sku, applyEffect(current, effect, op.hlc, 0).row);
  }
  return [...out.values()];
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
  for (const op of pending) {
    for (const effect of effectsOf(op)) {
      if (effect.locationId !== locationId || !wanted.has(effect.sku)) continue;
      const current = rows.get(effect.sku) ?? emptyRow(locationId, effect.sku);
      rows.set(effect.sku, applyEffect(current, effect, op.hlc, 0).row);
    }
  }
  return [...rows.values()];
}
