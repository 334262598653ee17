import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Hlc, HybridClock } from './hlc.js';
import { HubOp, type StockOp, TillOp } from './operations.js';
import { MemoryLedger, type Movement } from './reducer.js';
import { rowKey, type StockRow } from './stock.js';

/*
 * Property tests of the settlement rules: the final rows are a function of the *set* of ops, not of
 * the order they reach the reducer in, and they equal an independent "set semantics" oracle.
 */

const LOCATIONS = ['loc-a', 'loc-b', 'loc-c'] as const;
const SKUS = ['SKU-1', 'SKU-2', 'SKU-3'] as const;
const TILLS = ['till-a', 'till-b', 'till-c'] as const;
const NODES = [...TILLS, 'hub'] as const;
type Node = (typeof NODES)[number];

const NUM_RUNS = 200;

const location = fc.constantFrom(...LOCATIONS);
const sku = fc.constantFrom(...SKUS);
const qty = fc.integer({ min: 1, max: 5 });
const qtyLines = fc.array(fc.record({ sku, qty }), { minLength: 1, maxLength: 3 });
const countLines = fc.uniqueArray(fc.record({ sku, counted: fc.integer({ min: 0, max: 20 }) }), {
  minLength: 1,
  maxLength: 3,
  selector: (l) => l.sku,
});
const tillNode = fc.constantFrom<Node>(...TILLS);
const anyNode = fc.constantFrom<Node>(...NODES);
const hubNode = fc.constant<Node>('hub');

/** An op without its id, seq and HLC (assigned in arrival-at-the-till order below). */
type Body = Record<string, unknown> & { type: string };

/** Ops only a till makes, ops only the hub makes, and ops either makes (REST reuses the till shapes). */
const bodies: fc.Arbitrary<[Node, Body]> = fc.oneof(
  fc.tuple(
    tillNode,
    qtyLines.map((ls) => ({
      type: 'sale',
      receiptId: 'r',
      lines: ls.map((l) => ({ ...l, unitPriceMinor: 100 })),
    })),
  ),
  fc.tuple(
    tillNode,
    fc
      .array(fc.record({ sku, qty, condition: fc.constantFrom('sellable', 'damaged') }), {
        minLength: 1,
        maxLength: 3,
      })
      .map((ls) => ({
        type: 'return',
        receiptId: 'r',
        lines: ls.map((l) => ({ ...l, unitPriceMinor: 100 })),
      })),
  ),
  fc.tuple(
    tillNode,
    qtyLines.map((lines) => ({ type: 'pickup', orderId: 'o', lines })),
  ),
  fc.tuple(
    anyNode,
    qtyLines.map((lines) => ({ type: 'receive', lines })),
  ),
  fc.tuple(
    anyNode,
    fc
      .record({ reason: fc.constantFrom('damage', 'shrink', 'found', 'dispose'), lines: qtyLines })
      .map((r) => ({ type: 'adjust', ...r })),
  ),
  fc.tuple(
    anyNode,
    countLines.map((lines) => ({ type: 'count', lines })),
  ),
  fc.tuple(
    anyNode,
    fc
      .record({ toLocationId: location, lines: qtyLines })
      .map((r) => ({ type: 'transfer_out', transferId: 't', ...r })),
  ),
  fc.tuple(
    anyNode,
    fc
      .record({ fromLocationId: location, lines: qtyLines })
      .map((r) => ({ type: 'transfer_in', transferId: 't', ...r })),
  ),
  fc.tuple(
    hubNode,
    fc
      .record({ type: fc.constantFrom('reserve', 'release', 'ship'), lines: qtyLines })
      .map((r) => ({ orderId: 'o', ...r })),
  ),
  fc.tuple(
    hubNode,
    fc
      .record({ condition: fc.constantFrom('sellable', 'damaged'), lines: qtyLines })
      .map((r) => ({ type: 'restock', orderId: 'o', ...r })),
  ),
  fc.tuple(
    hubNode,
    fc
      .record(
        {
          sku,
          onHand: fc.integer({ min: 0, max: 20 }),
          reorderPoint: fc.integer({ min: 0, max: 5 }),
        },
        { requiredKeys: ['sku'] },
      )
      .filter((r) => r.onHand !== undefined || r.reorderPoint !== undefined)
      .map((r) => ({ type: 'set_stock', ...r })),
  ),
);

/**
 * A history: ops made on several nodes, each stamped by its own node's HLC from a physical clock
 * that jumps around a small range (so walls collide across nodes and node ids break the ties).
 */
const history: fc.Arbitrary<StockOp[]> = fc
  .array(
    fc
      .record({ at: fc.integer({ min: 1, max: 40 }), location, made: bodies })
      // A transfer goes to another location (the schema refuses one to itself).
      .filter(
        ({ location: from, made: [, body] }) => !('toLocationId' in body) || body.toLocationId !== from,
      ),
    { minLength: 1, maxLength: 20 },
  )
  .map((events) => {
    let now = 0;
    const clocks = new Map(NODES.map((n) => [n, new HybridClock(n, { now: () => now })]));
    const seqs = new Map<Node, number>();
    return events.map(({ at, location: locationId, made: [node, body] }, i) => {
      now = at;
      const hlc = clocks.get(node)!.tick();
      const opId = `01900000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`;
      if (node === 'hub') return HubOp.parse({ ...body, opId, hlc, locationId });
      const seq = (seqs.get(node) ?? 0) + 1;
      seqs.set(node, seq);
      return TillOp.parse({ ...body, opId, seq, hlc, locationId });
    });
  });

/** A history and two arrival orders of it. */
const historyAndOrders = history.chain((ops) =>
  fc.tuple(
    fc.constant(ops),
    fc.shuffledSubarray(ops, { minLength: ops.length, maxLength: ops.length }),
    fc.shuffledSubarray(ops, { minLength: ops.length, maxLength: ops.length }),
  ),
);

function replay(ops: readonly StockOp[]): MemoryLedger {
  const ledger = new MemoryLedger();
  for (const op of ops) ledger.apply(op);
  return ledger;
}

/** The order-independent part of every row (reorder point is last-writer-wins by arrival). */
function settled(ledger: MemoryLedger) {
  const out: Record<string, Omit<StockRow, 'reorderPoint'>> = {};
  for (const [key, r] of [...ledger.rows].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const { reorderPoint: _, ...rest } = r;
    out[key] = rest;
  }
  return out;
}

/** Every row equals the sum of its movements, and its versions run 1..n in ledger order. */
function expectRowsAreTheLedgerReplay(ledger: MemoryLedger): void {
  const byRow = new Map<string, Movement[]>();
  for (const m of ledger.movements) {
    const key = rowKey(m.locationId, m.sku);
    byRow.set(key, [...(byRow.get(key) ?? []), m]);
  }
  expect([...byRow.keys()].sort()).toEqual([...ledger.rows.keys()].sort());
  for (const [key, ms] of byRow) {
    const r = ledger.rows.get(key)!;
    const sum = (f: (m: Movement) => number) => ms.reduce((s, m) => s + f(m), 0);
    expect(sum((m) => m.dOnHand)).toBe(r.onHand);
    expect(sum((m) => m.dReserved)).toBe(r.reserved);
    expect(sum((m) => m.dIncoming)).toBe(r.incoming);
    expect(sum((m) => m.dDamaged)).toBe(r.damaged);
    expect(ms.map((m) => m.versionAfter)).toEqual(ms.map((_, i) => i + 1));
    expect(r.version).toBe(ms.length);
    let running = 0;
    for (const m of ms) {
      running += m.dOnHand;
      expect(m.onHandAfter).toBe(running);
    }
  }
}

/*
 * The oracle, written from DESIGN.md without the reducer: what each op line does to each row, then
 * "latest count + on_hand deltas stamped after it" for on_hand and plain sums for the other parts.
 */
interface Touch {
  key: string;
  hlc: Hlc;
  /** Set for counts (till counts and set_stock on_hand). */
  counted?: number;
  onHand: number;
  reserved: number;
  incoming: number;
  damaged: number;
}

function touches(op: StockOp): Touch[] {
  const at = (loc: string, s: string, parts: Partial<Omit<Touch, 'key' | 'hlc'>>): Touch => ({
    key: rowKey(loc, s),
    hlc: op.hlc,
    onHand: 0,
    reserved: 0,
    incoming: 0,
    damaged: 0,
    ...parts,
  });
  const here = op.locationId;
  switch (op.type) {
    case 'sale':
      return op.lines.map((l) => at(here, l.sku, { onHand: -l.qty }));
    case 'return':
      return op.lines.map((l) =>
        at(here, l.sku, l.condition === 'damaged' ? { damaged: l.qty } : { onHand: l.qty }),
      );
    case 'receive':
      return op.lines.map((l) => at(here, l.sku, { onHand: l.qty }));
    case 'adjust':
      return op.lines.map((l) => {
        if (op.reason === 'damage') return at(here, l.sku, { onHand: -l.qty, damaged: l.qty });
        if (op.reason === 'shrink') return at(here, l.sku, { onHand: -l.qty });
        if (op.reason === 'found') return at(here, l.sku, { onHand: l.qty });
        return at(here, l.sku, { damaged: -l.qty });
      });
    case 'count':
      return op.lines.map((l) => at(here, l.sku, { counted: l.counted }));
    case 'transfer_out':
      return op.lines.flatMap((l) => [
        at(here, l.sku, { onHand: -l.qty }),
        at(op.toLocationId, l.sku, { incoming: l.qty }),
      ]);
    case 'transfer_in':
      return op.lines.map((l) => at(here, l.sku, { onHand: l.qty, incoming: -l.qty }));
    case 'pickup':
    case 'ship':
      return op.lines.map((l) => at(here, l.sku, { onHand: -l.qty, reserved: -l.qty }));
    case 'reserve':
      return op.lines.map((l) => at(here, l.sku, { reserved: l.qty }));
    case 'release':
      return op.lines.map((l) => at(here, l.sku, { reserved: -l.qty }));
    case 'restock':
      return op.lines.map((l) =>
        at(here, l.sku, op.condition === 'damaged' ? { damaged: l.qty } : { onHand: l.qty }),
      );
    case 'set_stock':
      return [
        ...(op.onHand === undefined ? [] : [at(here, op.sku, { counted: op.onHand })]),
        // Setting the reorder point is a ledger entry too: it only bumps the version.
        ...(op.reorderPoint === undefined ? [] : [at(here, op.sku, {})]),
      ];
  }
}

function oracle(ops: readonly StockOp[]): ReturnType<typeof settled> {
  const byRow = new Map<string, Touch[]>();
  for (const t of ops.flatMap(touches)) byRow.set(t.key, [...(byRow.get(t.key) ?? []), t]);
  const out: ReturnType<typeof settled> = {};
  for (const [key, ts] of [...byRow].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const [locationId = '', s = ''] = key.split('\u0000');
    const sum = (f: (t: Touch) => number, from: readonly Touch[] = ts) => from.reduce((n, t) => n + f(t), 0);
    const counts = ts.filter((t) => t.counted !== undefined).sort((a, b) => (a.hlc < b.hlc ? -1 : 1));
    const latest = counts.at(-1);
    const onHand =
      latest === undefined
        ? sum((t) => t.onHand)
        : latest.counted! +
          sum(
            (t) => t.onHand,
            ts.filter((t) => t.hlc > latest.hlc),
          );
    out[key] = {
      locationId,
      sku: s,
      onHand,
      reserved: sum((t) => t.reserved),
      incoming: sum((t) => t.incoming),
      damaged: sum((t) => t.damaged),
      version: ts.length,
      countHlc: latest?.hlc ?? null,
    };
  }
  return out;
}

describe('reducer properties', () => {
  it('generates distinct HLCs and valid ops of every kind', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(history, (ops) => {
        expect(new Set(ops.map((o) => o.hlc)).size).toBe(ops.length);
        for (const op of ops) seen.add(op.type);
      }),
      { numRuns: NUM_RUNS },
    );
    expect([...seen].sort()).toEqual(
      [
        'adjust',
        'count',
        'pickup',
        'receive',
        'release',
        'reserve',
        'restock',
        'return',
        'sale',
        'set_stock',
        'ship',
        'transfer_in',
        'transfer_out',
      ].sort(),
    );
  });

  it('any arrival order gives the same rows', () => {
    fc.assert(
      fc.property(historyAndOrders, ([ops, order1, order2]) => {
        const inHlcOrder = [...ops].sort((a, b) => (a.hlc < b.hlc ? -1 : 1));
        const reference = settled(replay(inHlcOrder));
        expect(settled(replay(ops))).toEqual(reference);
        expect(settled(replay(order1))).toEqual(reference);
        expect(settled(replay(order2))).toEqual(reference);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('rows are the replay of their movements, versions contiguous from 1', () => {
    fc.assert(
      fc.property(historyAndOrders, ([, order]) => {
        expectRowsAreTheLedgerReplay(replay(order));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('on_hand is the latest count plus the deltas stamped after it (set semantics)', () => {
    fc.assert(
      fc.property(historyAndOrders, ([ops, order]) => {
        expect(settled(replay(order))).toEqual(oracle(ops));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
