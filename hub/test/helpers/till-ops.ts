import { HybridClock, newOpId, type TillOpInput } from '@tillsync/sync-protocol';

/** Ops as one till makes them: its own gap-free seq, its HLC, its location (override any field). */
export function tillOps(deviceId: string, locationId: string) {
  const clock = new HybridClock(deviceId);
  let seq = 0;
  const next = (body: Record<string, unknown>): TillOpInput => {
    seq += 1;
    return { opId: newOpId(), seq, hlc: clock.tick(), locationId, ...body } as TillOpInput;
  };
  return {
    sale: (sku: string, qty: number, over: Record<string, unknown> = {}): TillOpInput =>
      next({
        type: 'sale',
        receiptId: `r-${seq + 1}`,
        lines: [{ sku, qty, unitPriceMinor: 1000 }],
        payments: [{ method: 'card', amountMinor: 1000 * qty }],
        ...over,
      }),
    /** Any other op type. */
    other: next,
  };
}
