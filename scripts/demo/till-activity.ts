import type { Random } from '../../hub/src/demo/random.js';

/*
 * What a simulated till does next, decided only from what the till itself knows (its stock view and
 * its own receipts), as a cashier would. Pure: the caller rings the action up on the real till.
 */

/** The part of a till's stock view row the choice needs. */
export interface StockLine {
  sku: string;
  onHand: number;
  reserved: number;
  reorderPoint: number;
}

/** One SKU of an earlier sale of this till that a customer may bring back. */
export interface Returnable {
  receiptId: string;
  sku: string;
}

export interface TillSituation {
  /** The till's stock view, sellable catalogue SKUs only. */
  stock: readonly StockLine[];
  returnable: readonly Returnable[];
  /** The till's sync agent is stopped: what it sells now reaches the hub later. */
  offline: boolean;
}

export type TillAction =
  | {
      kind: 'sale';
      /** basket: 1–3 units in stock; sell-down: to the reorder point; oversell: more than the view shows. */
      why: 'basket' | 'sell-down' | 'oversell';
      lines: Array<{ sku: string; qty: number }>;
      payment: 'cash' | 'card';
    }
  | { kind: 'return'; receiptId: string; sku: string; condition: 'sellable' | 'damaged' }
  | { kind: 'receive'; sku: string; qty: number }
  | { kind: 'idle' };

/** Per action: how likely a till is to do it when it can. Everything else is an ordinary basket. */
export const CHANCES = {
  /** A delivery for a SKU nearly sold out, so a long demo does not empty the stores. */
  restock: 0.3,
  return: 0.05,
  /** Offline only: the till cannot see what the other till of its store sold meanwhile. */
  oversell: 0.01,
  /** Down to the reorder point: HQ's low-stock list gets a new line. */
  sellDown: 0.02,
  damagedReturn: 0.15,
};

/** Free units at or below this count as "nearly sold out". */
export const NEARLY_OUT = 2;

const free = (s: StockLine) => s.onHand - s.reserved;

export function chooseAction(situation: TillSituation, random: Random): TillAction {
  const { stock, returnable, offline } = situation;
  const pick = <T>(items: readonly T[]): T => items[random.int(0, items.length - 1)]!;
  const payment = random.next() < 0.7 ? 'card' : 'cash';

  const nearlyOut = stock.filter((s) => free(s) <= NEARLY_OUT);
  if (nearlyOut.length > 0 && random.next() < CHANCES.restock) {
    const s = pick(nearlyOut);
    return { kind: 'receive', sku: s.sku, qty: Math.max(10, s.reorderPoint * 3) + random.int(0, 12) };
  }
  if (returnable.length > 0 && random.next() < CHANCES.return) {
    const r = pick(returnable);
    const condition = random.next() < CHANCES.damagedReturn ? 'damaged' : 'sellable';
    return { kind: 'return', receiptId: r.receiptId, sku: r.sku, condition };
  }
  if (offline && random.next() < CHANCES.oversell) {
    // Units held for online orders cannot be sold without an override: only unreserved rows.
    const last = stock.filter((s) => s.reserved === 0 && free(s) >= 1 && free(s) <= 3);
    if (last.length > 0) {
      const s = pick(last);
      return {
        kind: 'sale',
        why: 'oversell',
        lines: [{ sku: s.sku, qty: free(s) + random.int(1, 2) }],
        payment,
      };
    }
  }
  if (random.next() < CHANCES.sellDown) {
    const above = stock.filter(
      (s) => s.reorderPoint > 0 && free(s) - s.reorderPoint >= 1 && free(s) - s.reorderPoint <= 6,
    );
    if (above.length > 0) {
      const s = pick(above);
      return {
        kind: 'sale',
        why: 'sell-down',
        lines: [{ sku: s.sku, qty: free(s) - s.reorderPoint }],
        payment,
      };
    }
  }
  const inStock = stock.filter((s) => free(s) >= 1);
  if (inStock.length === 0) return { kind: 'idle' };
  // 1–3 units, each of a SKU picked at random; a SKU picked twice becomes a line of 2 if it has them.
  const basket = new Map<string, number>();
  for (let units = random.int(1, 3); units > 0; units--) {
    const s = pick(inStock);
    const qty = basket.get(s.sku) ?? 0;
    if (qty < free(s)) basket.set(s.sku, qty + 1);
  }
  return { kind: 'sale', why: 'basket', lines: [...basket].map(([sku, qty]) => ({ sku, qty })), payment };
}
