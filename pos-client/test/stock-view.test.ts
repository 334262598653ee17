import {
  emptyRow,
  type Hlc,
  HybridClock,
  MemoryLedger,
  newOpId,
  rowKey,
  type StockRow,
  TillOp,
} from '@tillsync/sync-protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyLocally, rebase } from '../src/engine/stock-view.js';

/*
 * The cashier's view is the hub's rows with the till's pending ops folded through the shared
 * reducer. These tests hold it to that definition: whatever the base and the ops, the view equals
 * a MemoryLedger (the reducer's own reference model) seeded with the base and fed the ops in seq
 * order, restricted to the till's location.
 */

const HERE = 'paris';
const SKUS = ['LIP', 'MASCARA', 'GLOSS'] as const;
const sku = fc.constantFrom(...SKUS);
const qty = fc.integer({ min: 1, max: 5 });
const qtyLines = fc.array(fc.record({ sku, qty }), { minLength: 1, maxLength: 3 });

/** Every kind of op a till records, without its id, seq, HLC and location. */
const body: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  qtyLines.map((ls) => ({
    type: 'sale',
    receiptId: 'r',
    lines: ls.map((l) => ({ ...l, unitPriceMinor: 100 })),
  })),
  fc
    .array(fc.record({ sku, qty, condition: fc.constantFrom('sellable', 'damaged') }), {
      minLength: 1,
      maxLength: 3,
    })
    .map((ls) => ({ type: 'return', receiptId: 'r', lines: ls.map((l) => ({ ...l, unitPriceMinor: 100 })) })),
  qtyLines.map((lines) => ({ type: 'receive', lines })),
  fc
    .record({ reason: fc.constantFrom('damage', 'shrink', 'found', 'dispose'), lines: qtyLines })
    .map((r) => ({ type: 'adjust', ...r })),
  fc
    .uniqueArray(fc.record({ sku, counted: fc.integer({ min: 0, max: 20 }) }), {
      minLength: 1,
      maxLength: 3,
      selector: (l) => l.sku,
    })
    .map((lines) => ({ type: 'count', lines })),
  // Another location's effect (the incoming units at the destination) is not this till's view.
  qtyLines.map((lines) => ({ type: 'transfer_out', transferId: 't', toLocationId: 'lyon', lines })),
  qtyLines.map((lines) => ({ type: 'transfer_in', transferId: 't', fromLocationId: 'lyon', lines })),
  qtyLines.map((lines) => ({ type: 'pickup', orderId: 'o', lines })),
);

/** A base row from the hub: any quantities, sometimes counted at a time among the pending ops'. */
interface BaseRow {
  onHand: number;
  reserved: number;
  incoming: number;
  damaged: number;
  version: number;
  /** Index of the stamp the hub's count of the row carries (null: never counted). */
  countedAt: number | null;
}

interface Scenario {
  base: Partial<Record<string, BaseRow>>;
  ops: Array<Record<string, unknown>>;
  subset: string[];
}

const baseRow: fc.Arbitrary<BaseRow> = fc.record({
  onHand: fc.integer({ min: -5, max: 30 }),
  reserved: fc.integer({ min: 0, max: 5 }),
  incoming: fc.integer({ min: 0, max: 5 }),
  damaged: fc.integer({ min: 0, max: 5 }),
  version: fc.integer({ min: 1, max: 50 }),
  countedAt: fc.option(fc.integer({ min: 0, max: 40 }), { nil: null }),
});

const scenario: fc.Arbitrary<Scenario> = fc.record({
  base: fc.dictionary(sku, baseRow),
  ops: fc.array(body, { maxLength: 25 }),
  subset: fc.subarray<string>([...SKUS], { minLength: 1 }),
});

/** The base rows and pending ops of a scenario: ops numbered in seq order, their HLCs increasing. */
function build(s: Scenario): { base: Map<string, StockRow>; ops: TillOp[] } {
  let t = 1_000_000;
  const clock = new HybridClock('paris-1', { now: () => t });
  const stamps: Hlc[] = [];
  for (let i = 0; i <= 40; i++) {
    t += 1_000;
    stamps.push(clock.tick());
  }
  const base = new Map<string, StockRow>();
  for (const name of SKUS) {
    const r = s.base[name];
    if (!r) continue;
    const { countedAt, ...qtys } = r;
    base.set(name, {
      ...emptyRow(HERE, name),
      ...qtys,
      countHlc: countedAt === null ? null : stamps[countedAt]!,
    });
  }
  // The ops are stamped in the same span as the base's counts: some before, some after them.
  const ops = s.ops.map((b, i) =>
    TillOp.parse({ ...b, opId: newOpId(), seq: i + 1, hlc: stamps[Math.min(40, i + 10)]!, locationId: HERE }),
  );
  return { base, ops };
}

/** The reducer's reference model: base rows in, ops applied one by one, this location's rows out. */
function folded(base: Map<string, StockRow>, ops: TillOp[]): StockRow[] {
  const ledger = new MemoryLedger();
  for (const row of base.values()) ledger.rows.set(rowKey(row.locationId, row.sku), row);
  for (const op of ops) ledger.apply(op);
  return [...ledger.rows.values()].filter((r) => r.locationId === HERE);
}

const bySku = (rows: StockRow[]) => [...rows].sort((a, b) => a.sku.localeCompare(b.sku));

describe('the stock view', () => {
  it('equals the pending ops folded through the reducer over the base', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { base, ops } = build(s);
        const view = rebase(SKUS, HERE, (k) => base.get(k), ops);
        expect(bySku(view)).toEqual(bySku(folded(base, ops)));
      }),
      { numRuns: 300 },
    );
  });

  it('is the same whether ops are applied as they are recorded or refreshed from the base', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { base, ops } = build(s);
        const live = new Map(base);
        for (const op of ops)
          for (const row of applyLocally(op, HERE, (k) => live.get(k))) live.set(row.sku, row);
        expect(bySku([...live.values()])).toEqual(bySku(rebase(SKUS, HERE, (k) => base.get(k), ops)));
      }),
      { numRuns: 300 },
    );
  });

  it('refreshes only the SKUs asked for, each as the full refresh has it', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { base, ops } = build(s);
        const all = rebase(SKUS, HERE, (k) => base.get(k), ops);
        const some = rebase(s.subset, HERE, (k) => base.get(k), ops);
        expect(bySku(some)).toEqual(bySku(all.filter((r) => s.subset.includes(r.sku))));
      }),
      { numRuns: 200 },
    );
  });

  it("absorbs a pending sale stamped before the hub's count of the row, and applies one after it", () => {
    const { base, ops } = build({
      base: { LIP: { onHand: 10, reserved: 0, incoming: 0, damaged: 0, version: 4, countedAt: 11 } },
      ops: [
        { type: 'sale', receiptId: 'r1', lines: [{ sku: 'LIP', qty: 2, unitPriceMinor: 100 }] },
        { type: 'sale', receiptId: 'r2', lines: [{ sku: 'LIP', qty: 1, unitPriceMinor: 100 }] },
        { type: 'sale', receiptId: 'r3', lines: [{ sku: 'LIP', qty: 3, unitPriceMinor: 100 }] },
      ],
      subset: ['LIP'],
    });
    // Stamped at 10 (before the count at 11): absorbed; 11 is not before it; 12 applies.
    const [row] = rebase(['LIP'], HERE, (k) => base.get(k), ops);
    expect(row).toMatchObject({ onHand: 6, version: 7 });
  });

  it("shows an op's effect at this location only", () => {
    const { base, ops } = build({
      base: {},
      ops: [
        { type: 'transfer_out', transferId: 't', toLocationId: 'lyon', lines: [{ sku: 'GLOSS', qty: 2 }] },
      ],
      subset: ['GLOSS'],
    });
    expect(applyLocally(ops[0]!, HERE, (k) => base.get(k))).toEqual([
      { ...emptyRow(HERE, 'GLOSS'), onHand: -2, version: 1 },
    ]);
  });
});
