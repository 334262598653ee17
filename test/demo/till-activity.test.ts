import { describe, expect, it } from 'vitest';
import { Random } from '../../hub/src/demo/random.js';
import {
  chooseAction,
  NEARLY_OUT,
  type StockLine,
  type TillAction,
} from '../../scripts/demo/till-activity.js';

// A store's view: plenty, just above the reorder point, at it, nearly out, sold out, held for orders.
const STOCK: StockLine[] = [
  { sku: 'PLENTY', onHand: 40, reserved: 0, reorderPoint: 8 },
  { sku: 'ABOVE', onHand: 11, reserved: 0, reorderPoint: 8 },
  { sku: 'AT-RP', onHand: 8, reserved: 0, reorderPoint: 8 },
  { sku: 'LAST-2', onHand: 2, reserved: 0, reorderPoint: 8 },
  { sku: 'OUT', onHand: 0, reserved: 0, reorderPoint: 8 },
  { sku: 'HELD', onHand: 3, reserved: 2, reorderPoint: 8 },
];
const bySku = new Map(STOCK.map((s) => [s.sku, s]));
const free = (sku: string) => bySku.get(sku)!.onHand - bySku.get(sku)!.reserved;

function draws(offline: boolean, n = 5_000): TillAction[] {
  const random = new Random(7);
  const returnable = [{ receiptId: 'till-000001', sku: 'PLENTY' }];
  return Array.from({ length: n }, () => chooseAction({ stock: STOCK, returnable, offline }, random));
}
const sales = (actions: TillAction[], why: string) =>
  actions.flatMap((a) => (a.kind === 'sale' && a.why === why ? [a] : []));

describe('what a simulated till does next', () => {
  it('rings baskets of 1–3 units of SKUs its view shows free, never more than free', () => {
    const baskets = sales(draws(false), 'basket');
    expect(baskets.length).toBeGreaterThan(3_000);
    for (const sale of baskets) {
      const units = sale.lines.reduce((n, l) => n + l.qty, 0);
      expect(units).toBeGreaterThanOrEqual(1);
      expect(units).toBeLessThanOrEqual(3);
      for (const l of sale.lines) expect(l.qty).toBeLessThanOrEqual(free(l.sku));
    }
    const sold = new Set(baskets.flatMap((s) => s.lines.map((l) => l.sku)));
    expect(sold).not.toContain('OUT');
    expect(sold).toContain('LAST-2');
  });

  it('now and then sells a SKU down to exactly its reorder point', () => {
    const downs = sales(draws(false), 'sell-down');
    expect(downs.length).toBeGreaterThan(20);
    for (const sale of downs) {
      const [line] = sale.lines;
      expect(sale.lines).toHaveLength(1);
      expect(free(line!.sku) - line!.qty).toBe(bySku.get(line!.sku)!.reorderPoint);
    }
  });

  it('restocks only nearly sold-out SKUs, and takes returns against its own receipts', () => {
    const actions = draws(false);
    const receipts = actions.flatMap((a) => (a.kind === 'receive' ? [a] : []));
    expect(receipts.length).toBeGreaterThan(500);
    for (const r of receipts) {
      expect(free(r.sku)).toBeLessThanOrEqual(NEARLY_OUT);
      expect(r.qty).toBeGreaterThanOrEqual(10);
    }
    const returns = actions.flatMap((a) => (a.kind === 'return' ? [a] : []));
    expect(returns.length).toBeGreaterThan(50);
    expect(new Set(returns.map((r) => `${r.receiptId}/${r.sku}`))).toEqual(new Set(['till-000001/PLENTY']));
    expect(new Set(returns.map((r) => r.condition))).toEqual(new Set(['sellable', 'damaged']));
  });

  it('oversells, rarely and only offline, an unreserved SKU by more than its view shows', () => {
    expect(sales(draws(false), 'oversell')).toEqual([]);
    const oversells = sales(draws(true), 'oversell');
    expect(oversells.length).toBeGreaterThan(10);
    expect(oversells.length).toBeLessThan(150);
    for (const sale of oversells) {
      const [line] = sale.lines;
      expect(line!.sku).not.toBe('HELD');
      expect(line!.qty).toBeGreaterThan(free(line!.sku));
    }
  });

  it('stays idle with nothing to sell, restock or take back', () => {
    const random = new Random(1);
    expect(chooseAction({ stock: [], returnable: [], offline: true }, random)).toEqual({ kind: 'idle' });
  });

  it('makes the same choices from the same seed', () => {
    expect(draws(true, 200)).toEqual(draws(true, 200));
  });
});
