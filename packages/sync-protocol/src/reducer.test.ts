import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { encodeHlc, type Hlc } from './hlc.js';
import { newOpId } from './ids.js';
import { HubOp, type StockOp, TillOp, type TillOpInput } from './operations.js';
import { applyEffect, effectsOf, MemoryLedger, type RowEffect, reduceOp } from './reducer.js';
import { emptyRow, type StockRow } from './stock.js';

/*
 * Unit tests of the one stock reducer. Every expected number below is written out by hand from the
 * rules in DESIGN.md ("Stock model", "Operations and their settlement"), never recomputed with the
 * code under test.
 */

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type TillSpec = DistributiveOmit<TillOpInput, 'opId' | 'seq' | 'locationId'> & { locationId?: string };
type HubSpec = DistributiveOmit<z.input<typeof HubOp>, 'opId' | 'locationId'> & { locationId?: string };

const STORE = 'store-1';
const WAREHOUSE = 'warehouse-1';

/** An HLC at wall time `wall` (ms) on `node`. */
function at(wall: number, node = 'till-1'): Hlc {
  return encodeHlc({ wall, counter: 0, node });
}

let seq = 0;
/** A till op at the store, validated by the schema so fixtures are always well-formed. */
function till(spec: TillSpec): StockOp {
  seq += 1;
  return TillOp.parse({ opId: newOpId(), seq, locationId: STORE, ...spec });
}

/** A hub op (REST write or reservation) at the store. */
function hub(spec: HubSpec): StockOp {
  return HubOp.parse({ opId: newOpId(), locationId: STORE, ...spec });
}

function row(fields: Partial<StockRow> = {}): StockRow {
  return { ...emptyRow(STORE, 'LIP-RED'), ...fields };
}

/** The row's numbers (everything except its identity). */
function numbers(r: StockRow | undefined) {
  if (r === undefined) return undefined;
  const { onHand, reserved, incoming, damaged, reorderPoint, version, countHlc } = r;
  return { onHand, reserved, incoming, damaged, reorderPoint, version, countHlc };
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

describe('effectsOf', () => {
  it('a sale takes each line off the shelf', () => {
    const op = till({
      type: 'sale',
      hlc: at(1),
      receiptId: 'r-1',
      lines: [
        { sku: 'LIP-RED', qty: 2, unitPriceMinor: 1299 },
        { sku: 'MASCARA', qty: 1, unitPriceMinor: 2500 },
      ],
    });
    expect(effectsOf(op)).toEqual([
      {
        kind: 'delta',
        locationId: 'store-1',
        sku: 'LIP-RED',
        reason: 'sale',
        delta: { onHand: -2, reserved: 0, incoming: 0, damaged: 0 },
      },
      {
        kind: 'delta',
        locationId: 'store-1',
        sku: 'MASCARA',
        reason: 'sale',
        delta: { onHand: -1, reserved: 0, incoming: 0, damaged: 0 },
      },
    ]);
  });

  it('a sellable return goes back on the shelf, a damaged one to the damaged bucket', () => {
    const op = till({
      type: 'return',
      hlc: at(1),
      receiptId: 'r-2',
      lines: [
        { sku: 'LIP-RED', qty: 1, unitPriceMinor: 1299 },
        { sku: 'MASCARA', qty: 2, unitPriceMinor: 2500, condition: 'damaged' },
        { sku: 'BLUSH', qty: 3, unitPriceMinor: 900, condition: 'sellable' },
      ],
    });
    expect(effectsOf(op)).toEqual([
      {
        kind: 'delta',
        locationId: 'store-1',
        sku: 'LIP-RED',
        reason: 'return',
        delta: { onHand: 1, reserved: 0, incoming: 0, damaged: 0 },
      },
      {
        kind: 'delta',
        locationId: 'store-1',
        sku: 'MASCARA',
        reason: 'return_damaged',
        delta: { onHand: 0, reserved: 0, incoming: 0, damaged: 2 },
      },
      {
        kind: 'delta',
        locationId: 'store-1',
        sku: 'BLUSH',
        reason: 'return',
        delta: { onHand: 3, reserved: 0, incoming: 0, damaged: 0 },
      },
    ]);
  });

  it('a receipt adds to on_hand', () => {
    const op = till({
      type: 'receive',
      hlc: at(1),
      reference: 'PO-77',
      lines: [{ sku: 'LIP-RED', qty: 24 }],
    });
    expect(effectsOf(op)).toEqual([
      {
        kind: 'delta',
        locationId: 'store-1',
        sku: 'LIP-RED',
        reason: 'receive',
        delta: { onHand: 24, reserved: 0, incoming: 0, damaged: 0 },
      },
    ]);
  });

  it.each([
    ['damage', 'adjust_damage', { onHand: -3, reserved: 0, incoming: 0, damaged: 3 }],
    ['shrink', 'adjust_shrink', { onHand: -3, reserved: 0, incoming: 0, damaged: 0 }],
    ['found', 'adjust_found', { onHand: 3, reserved: 0, incoming: 0, damaged: 0 }],
    ['dispose', 'adjust_dispose', { onHand: 0, reserved: 0, incoming: 0, damaged: -3 }],
  ] as const)('an adjustment for %s moves %s', (reason, movementReason, expected) => {
    const op = till({ type: 'adjust', hlc: at(1), reason, lines: [{ sku: 'LIP-RED', qty: 3 }] });
    expect(effectsOf(op)).toEqual([
      { kind: 'delta', locationId: 'store-1', sku: 'LIP-RED', reason: movementReason, delta: expected },
    ]);
  });

  it('a count sets each counted line, zero included', () => {
    const op = till({
      type: 'count',
      hlc: at(1),
      lines: [
        { sku: 'LIP-RED', counted: 7 },
        { sku: 'MASCARA', counted: 0 },
      ],
    });
    expect(effectsOf(op)).toEqual([
      { kind: 'count', locationId: 'store-1', sku: 'LIP-RED', reason: 'count', counted: 7 },
      { kind: 'count', locationId: 'store-1', sku: 'MASCARA', reason: 'count', counted: 0 },
    ]);
  });

  it('a transfer out leaves the source shelf and shows as incoming at the destination', () => {
    const op = till({
      type: 'transfer_out',
      hlc: at(1),
      transferId: 't-1',
      toLocationId: WAREHOUSE,
      lines: [
        { sku: 'LIP-RED', qty: 5 },
        { sku: 'MASCARA', qty: 2 },
      ],
    });
    expect(effectsOf(op)).toEqual([
      {
        kind: 'delta',
        locationId: 'store-1',
        sku: 'LIP-RED',
        reason: 'transfer_out',
        delta: { onHand: -5, reserved: 0, incoming: 0, damaged: 0 },
      },
      {
        kind: 'delta',
        locationId: 'warehouse-1',
        sku: 'LIP-RED',
        reason: 'transfer_incoming',
        delta: { onHand: 0, reserved: 0, incoming: 5, damaged: 0 },
      },
      {
        kind: 'delta',
        locationId: 'store-1',
        sku: 'MASCARA',
        reason: 'transfer_out',
        delta: { onHand: -2, reserved: 0, incoming: 0, damaged: 0 },
      },
      {
        kind: 'delta',
        locationId: 'warehouse-1',
        sku: 'MASCARA',
        reason: 'transfer_incoming',
        delta: { onHand: 0, reserved: 0, incoming: 2, damaged: 0 },
      },
    ]);
  });

  it('a transfer in moves units from incoming onto the shelf', () => {
    const op = till({
      type: 'transfer_in',
      locationId: WAREHOUSE,
      hlc: at(1),
      transferId: 't-1',
      fromLocationId: STORE,
      lines: [{ sku: 'LIP-RED', qty: 5 }],
    });
    expect(effectsOf(op)).toEqual([
      {
        kind: 'delta',
        locationId: 'warehouse-1',
        sku: 'LIP-RED',
        reason: 'transfer_in',
        delta: { onHand: 5, reserved: 0, incoming: -5, damaged: 0 },
      },
    ]);
  });

  it('a pickup takes reserved units off the shelf', () => {
    const op = till({ type: 'pickup', hlc: at(1), orderId: 'o-1', lines: [{ sku: 'LIP-RED', qty: 2 }] });
    expect(effectsOf(op)).toEqual([
      {
        kind: 'delta',
        locationId: 'store-1',
        sku: 'LIP-RED',
        reason: 'pickup',
        delta: { onHand: -2, reserved: -2, incoming: 0, damaged: 0 },
      },
    ]);
  });

  it.each([
    ['reserve', { onHand: 0, reserved: 4, incoming: 0, damaged: 0 }],
    ['release', { onHand: 0, reserved: -4, incoming: 0, damaged: 0 }],
    ['ship', { onHand: -4, reserved: -4, incoming: 0, damaged: 0 }],
  ] as const)('a hub %s moves the hold', (type, expected) => {
    const op = hub({ type, hlc: at(1, 'hub'), orderId: 'o-1', lines: [{ sku: 'LIP-RED', qty: 4 }] });
    expect(effectsOf(op)).toEqual([
      { kind: 'delta', locationId: 'store-1', sku: 'LIP-RED', reason: type, delta: expected },
    ]);
  });

  it.each([
    ['sellable', 'restock', { onHand: 2, reserved: 0, incoming: 0, damaged: 0 }],
    ['damaged', 'restock_damaged', { onHand: 0, reserved: 0, incoming: 0, damaged: 2 }],
  ] as const)('a %s restock lands as %s', (condition, reason, expected) => {
    const op = hub({
      type: 'restock',
      hlc: at(1, 'hub'),
      orderId: 'o-1',
      condition,
      lines: [{ sku: 'LIP-RED', qty: 2 }],
    });
    expect(effectsOf(op)).toEqual([
      { kind: 'delta', locationId: 'store-1', sku: 'LIP-RED', reason, delta: expected },
    ]);
  });

  it('set_stock is a count at hub time and/or a reorder point', () => {
    const both = hub({ type: 'set_stock', hlc: at(1, 'hub'), sku: 'LIP-RED', onHand: 12, reorderPoint: 4 });
    expect(effectsOf(both)).toEqual([
      { kind: 'count', locationId: 'store-1', sku: 'LIP-RED', reason: 'set_on_hand', counted: 12 },
      {
        kind: 'reorder_point',
        locationId: 'store-1',
        sku: 'LIP-RED',
        reason: 'set_reorder_point',
        reorderPoint: 4,
      },
    ]);
    const onlyReorder = hub({ type: 'set_stock', hlc: at(1, 'hub'), sku: 'LIP-RED', reorderPoint: 0 });
    expect(effectsOf(onlyReorder)).toEqual([
      {
        kind: 'reorder_point',
        locationId: 'store-1',
        sku: 'LIP-RED',
        reason: 'set_reorder_point',
        reorderPoint: 0,
      },
    ]);
    const onlyOnHand = hub({ type: 'set_stock', hlc: at(1, 'hub'), sku: 'LIP-RED', onHand: 0 });
    expect(effectsOf(onlyOnHand)).toEqual([
      { kind: 'count', locationId: 'store-1', sku: 'LIP-RED', reason: 'set_on_hand', counted: 0 },
    ]);
  });

  it('hub receipts, adjustments and counts decompose like the till ones', () => {
    const op = hub({
      type: 'adjust',
      hlc: at(1, 'hub'),
      reason: 'damage',
      lines: [{ sku: 'LIP-RED', qty: 1 }],
    });
    expect(effectsOf(op)).toEqual([
      {
        kind: 'delta',
        locationId: 'store-1',
        sku: 'LIP-RED',
        reason: 'adjust_damage',
        delta: { onHand: -1, reserved: 0, incoming: 0, damaged: 1 },
      },
    ]);
  });
});

describe('applying every op type to a row', () => {
  it('walks one row through its whole life with the expected numbers at every step', () => {
    const ledger = new MemoryLedger();
    const lip = () => numbers(ledger.row(STORE, 'LIP-RED'));
    const wh = () => numbers(ledger.row(WAREHOUSE, 'LIP-RED'));
    const L = 'LIP-RED';
    const steps: Array<[string, StockOp, ReturnType<typeof lip>]> = [
      [
        'receive 20',
        till({ type: 'receive', hlc: at(1), lines: [{ sku: L, qty: 20 }] }),
        { onHand: 20, reserved: 0, incoming: 0, damaged: 0, reorderPoint: 0, version: 1, countHlc: null },
      ],
      [
        'sell 3',
        till({
          type: 'sale',
          hlc: at(2),
          receiptId: 'r-1',
          lines: [{ sku: L, qty: 3, unitPriceMinor: 1299 }],
        }),
        { onHand: 17, reserved: 0, incoming: 0, damaged: 0, reorderPoint: 0, version: 2, countHlc: null },
      ],
      [
        'return 1 sellable',
        till({
          type: 'return',
          hlc: at(3),
          receiptId: 'r-2',
          lines: [{ sku: L, qty: 1, unitPriceMinor: 1299 }],
        }),
        { onHand: 18, reserved: 0, incoming: 0, damaged: 0, reorderPoint: 0, version: 3, countHlc: null },
      ],
      [
        'return 2 damaged',
        till({
          type: 'return',
          hlc: at(4),
          receiptId: 'r-3',
          lines: [{ sku: L, qty: 2, unitPriceMinor: 1299, condition: 'damaged' }],
        }),
        { onHand: 18, reserved: 0, incoming: 0, damaged: 2, reorderPoint: 0, version: 4, countHlc: null },
      ],
      [
        'adjust damage 1',
        till({ type: 'adjust', hlc: at(5), reason: 'damage', lines: [{ sku: L, qty: 1 }] }),
        { onHand: 17, reserved: 0, incoming: 0, damaged: 3, reorderPoint: 0, version: 5, countHlc: null },
      ],
      [
        'adjust shrink 2',
        till({ type: 'adjust', hlc: at(6), reason: 'shrink', lines: [{ sku: L, qty: 2 }] }),
        { onHand: 15, reserved: 0, incoming: 0, damaged: 3, reorderPoint: 0, version: 6, countHlc: null },
      ],
      [
        'adjust found 1',
        till({ type: 'adjust', hlc: at(7), reason: 'found', lines: [{ sku: L, qty: 1 }] }),
        { onHand: 16, reserved: 0, incoming: 0, damaged: 3, reorderPoint: 0, version: 7, countHlc: null },
      ],
      [
        'adjust dispose 3',
        till({ type: 'adjust', hlc: at(8), reason: 'dispose', lines: [{ sku: L, qty: 3 }] }),
        { onHand: 16, reserved: 0, incoming: 0, damaged: 0, reorderPoint: 0, version: 8, countHlc: null },
      ],
      [
        'reserve 4',
        hub({ type: 'reserve', hlc: at(9, 'hub'), orderId: 'o-1', lines: [{ sku: L, qty: 4 }] }),
        { onHand: 16, reserved: 4, incoming: 0, damaged: 0, reorderPoint: 0, version: 9, countHlc: null },
      ],
      [
        'pickup 1',
        till({ type: 'pickup', hlc: at(10), orderId: 'o-1', lines: [{ sku: L, qty: 1 }] }),
        { onHand: 15, reserved: 3, incoming: 0, damaged: 0, reorderPoint: 0, version: 10, countHlc: null },
      ],
      [
        'ship 2',
        hub({ type: 'ship', hlc: at(11, 'hub'), orderId: 'o-1', lines: [{ sku: L, qty: 2 }] }),
        { onHand: 13, reserved: 1, incoming: 0, damaged: 0, reorderPoint: 0, version: 11, countHlc: null },
      ],
      [
        'release 1',
        hub({ type: 'release', hlc: at(12, 'hub'), orderId: 'o-1', lines: [{ sku: L, qty: 1 }] }),
        { onHand: 13, reserved: 0, incoming: 0, damaged: 0, reorderPoint: 0, version: 12, countHlc: null },
      ],
      [
        'restock 2 sellable',
        hub({
          type: 'restock',
          hlc: at(13, 'hub'),
          orderId: 'o-1',
          condition: 'sellable',
          lines: [{ sku: L, qty: 2 }],
        }),
        { onHand: 15, reserved: 0, incoming: 0, damaged: 0, reorderPoint: 0, version: 13, countHlc: null },
      ],
      [
        'restock 1 damaged',
        hub({
          type: 'restock',
          hlc: at(14, 'hub'),
          orderId: 'o-1',
          condition: 'damaged',
          lines: [{ sku: L, qty: 1 }],
        }),
        { onHand: 15, reserved: 0, incoming: 0, damaged: 1, reorderPoint: 0, version: 14, countHlc: null },
      ],
      [
        'set reorder point 5',
        hub({ type: 'set_stock', hlc: at(15, 'hub'), sku: L, reorderPoint: 5 }),
        { onHand: 15, reserved: 0, incoming: 0, damaged: 1, reorderPoint: 5, version: 15, countHlc: null },
      ],
      [
        'transfer 4 out to the warehouse',
        till({
          type: 'transfer_out',
          hlc: at(16),
          transferId: 't-1',
          toLocationId: WAREHOUSE,
          lines: [{ sku: L, qty: 4 }],
        }),
        { onHand: 11, reserved: 0, incoming: 0, damaged: 1, reorderPoint: 5, version: 16, countHlc: null },
      ],
      [
        'count 9',
        till({ type: 'count', hlc: at(17), lines: [{ sku: L, counted: 9 }] }),
        {
          onHand: 9,
          reserved: 0,
          incoming: 0,
          damaged: 1,
          reorderPoint: 5,
          version: 17,
          countHlc: '000000000000017:00000:till-1',
        },
      ],
      [
        'set on_hand 12',
        hub({ type: 'set_stock', hlc: at(18, 'hub'), sku: L, onHand: 12 }),
        {
          onHand: 12,
          reserved: 0,
          incoming: 0,
          damaged: 1,
          reorderPoint: 5,
          version: 18,
          countHlc: '000000000000018:00000:hub',
        },
      ],
      [
        'set both on_hand 10 and reorder point 2',
        hub({ type: 'set_stock', hlc: at(19, 'hub'), sku: L, onHand: 10, reorderPoint: 2 }),
        {
          onHand: 10,
          reserved: 0,
          incoming: 0,
          damaged: 1,
          reorderPoint: 2,
          version: 20,
          countHlc: '000000000000019:00000:hub',
        },
      ],
    ];
    for (const [label, op, expected] of steps) {
      ledger.apply(op);
      expect(lip(), label).toEqual(expected);
      if (label === 'transfer 4 out to the warehouse') {
        expect(wh(), 'destination').toEqual({
          onHand: 0,
          reserved: 0,
          incoming: 4,
          damaged: 0,
          reorderPoint: 0,
          version: 1,
          countHlc: null,
        });
      }
    }

    ledger.apply(
      till({
        type: 'transfer_in',
        locationId: WAREHOUSE,
        hlc: at(20, 'till-9'),
        transferId: 't-1',
        fromLocationId: STORE,
        lines: [{ sku: L, qty: 4 }],
      }),
    );
    expect(wh()).toEqual({
      onHand: 4,
      reserved: 0,
      incoming: 0,
      damaged: 0,
      reorderPoint: 0,
      version: 2,
      countHlc: null,
    });
    expect(ledger.movements).toHaveLength(22);
  });

  it('a transfer out returns both the source and the destination row', () => {
    const ledger = new MemoryLedger();
    ledger.apply(till({ type: 'receive', hlc: at(1), lines: [{ sku: 'LIP-RED', qty: 10 }] }));
    const out = ledger.apply(
      till({
        type: 'transfer_out',
        hlc: at(2),
        transferId: 't-9',
        toLocationId: WAREHOUSE,
        lines: [{ sku: 'LIP-RED', qty: 6 }],
      }),
    );
    expect(out.rows).toEqual([
      { ...emptyRow(STORE, 'LIP-RED'), onHand: 4, version: 2 },
      { ...emptyRow(WAREHOUSE, 'LIP-RED'), incoming: 6, version: 1 },
    ]);
    expect(
      out.movements.map((m) => [m.locationId, m.reason, m.dOnHand, m.dIncoming, m.versionAfter]),
    ).toEqual([
      ['store-1', 'transfer_out', -6, 0, 2],
      ['warehouse-1', 'transfer_incoming', 0, 6, 1],
    ]);
  });
});

describe('settlement', () => {
  it('a delta stamped before the latest count is absorbed: ledgered, on_hand untouched', () => {
    const ledger = new MemoryLedger();
    ledger.apply(till({ type: 'receive', hlc: at(1000), lines: [{ sku: 'LIP-RED', qty: 10 }] }));
    ledger.apply(till({ type: 'count', hlc: at(3000), lines: [{ sku: 'LIP-RED', counted: 20 }] }));

    const late = ledger.apply(
      till({
        type: 'sale',
        hlc: at(2000, 'till-2'),
        receiptId: 'r-late',
        lines: [{ sku: 'LIP-RED', qty: 2, unitPriceMinor: 1299 }],
      }),
    );
    expect(late.movements).toEqual([
      {
        locationId: 'store-1',
        sku: 'LIP-RED',
        reason: 'sale',
        hlc: '000000000002000:00000:till-2',
        dOnHand: 0,
        dReserved: 0,
        dIncoming: 0,
        dDamaged: 0,
        absorbedOnHand: -2,
        counted: null,
        outcome: 'absorbed',
        onHandAfter: 20,
        versionAfter: 3,
        oversell: false,
      },
    ]);
    expect(numbers(ledger.row(STORE, 'LIP-RED'))).toEqual({
      onHand: 20,
      reserved: 0,
      incoming: 0,
      damaged: 0,
      reorderPoint: 0,
      version: 3,
      countHlc: '000000000003000:00000:till-1',
    });
  });

  it('an absorbed delta still applies its reserved, incoming and damaged parts', () => {
    const ledger = new MemoryLedger();
    ledger.apply(till({ type: 'count', hlc: at(3000), lines: [{ sku: 'LIP-RED', counted: 20 }] }));

    // A reservation has no on_hand part: stamped early or not, it is simply applied.
    const reserve = ledger.apply(
      hub({ type: 'reserve', hlc: at(1500, 'hub'), orderId: 'o-1', lines: [{ sku: 'LIP-RED', qty: 5 }] }),
    );
    expect(reserve.movements[0]).toMatchObject({ outcome: 'applied', dReserved: 5, absorbedOnHand: 0 });

    const damage = ledger.apply(
      till({
        type: 'adjust',
        hlc: at(2500, 'till-2'),
        reason: 'damage',
        lines: [{ sku: 'LIP-RED', qty: 3 }],
      }),
    );
    expect(damage.movements[0]).toMatchObject({
      outcome: 'absorbed',
      dOnHand: 0,
      dDamaged: 3,
      absorbedOnHand: -3,
      onHandAfter: 20,
    });

    const pickup = ledger.apply(
      till({ type: 'pickup', hlc: at(2600, 'till-2'), orderId: 'o-1', lines: [{ sku: 'LIP-RED', qty: 2 }] }),
    );
    expect(pickup.movements[0]).toMatchObject({
      outcome: 'absorbed',
      dOnHand: 0,
      dReserved: -2,
      absorbedOnHand: -2,
      onHandAfter: 20,
    });

    // A transfer arriving at the store, received before the count was taken.
    ledger.apply(
      till({
        type: 'transfer_out',
        locationId: WAREHOUSE,
        hlc: at(1000, 'till-9'),
        transferId: 't-1',
        toLocationId: STORE,
        lines: [{ sku: 'LIP-RED', qty: 4 }],
      }),
    );
    const transferIn = ledger.apply(
      till({
        type: 'transfer_in',
        hlc: at(2200, 'till-2'),
        transferId: 't-1',
        fromLocationId: WAREHOUSE,
        lines: [{ sku: 'LIP-RED', qty: 4 }],
      }),
    );
    expect(transferIn.movements[0]).toMatchObject({
      outcome: 'absorbed',
      dOnHand: 0,
      dIncoming: -4,
      absorbedOnHand: 4,
      onHandAfter: 20,
    });

    expect(numbers(ledger.row(STORE, 'LIP-RED'))).toEqual({
      onHand: 20,
      reserved: 3,
      incoming: 0,
      damaged: 3,
      reorderPoint: 0,
      version: 6,
      countHlc: '000000000003000:00000:till-1',
    });
  });

  it('a delta stamped after the latest count applies on top of it', () => {
    const ledger = new MemoryLedger();
    ledger.apply(till({ type: 'count', hlc: at(3000), lines: [{ sku: 'LIP-RED', counted: 20 }] }));
    const sale = ledger.apply(
      till({
        type: 'sale',
        hlc: at(4000, 'till-2'),
        receiptId: 'r-1',
        lines: [{ sku: 'LIP-RED', qty: 2, unitPriceMinor: 1299 }],
      }),
    );
    expect(sale.movements[0]).toMatchObject({
      outcome: 'applied',
      dOnHand: -2,
      absorbedOnHand: 0,
      onHandAfter: 18,
      versionAfter: 2,
    });
    expect(ledger.row(STORE, 'LIP-RED')).toMatchObject({ onHand: 18, version: 2 });
  });

  it('a count arriving late keeps the deltas stamped after it', () => {
    const ledger = new MemoryLedger();
    ledger.apply(till({ type: 'receive', hlc: at(1000), lines: [{ sku: 'LIP-RED', qty: 10 }] }));
    ledger.apply(
      till({
        type: 'sale',
        hlc: at(4000, 'till-2'),
        receiptId: 'r-1',
        lines: [{ sku: 'LIP-RED', qty: 2, unitPriceMinor: 1299 }],
      }),
    );
    ledger.apply(till({ type: 'receive', hlc: at(5000, 'till-2'), lines: [{ sku: 'LIP-RED', qty: 5 }] }));
    expect(ledger.row(STORE, 'LIP-RED')).toMatchObject({ onHand: 13, version: 3 });
    expect(ledger.onHandAfter(STORE, 'LIP-RED', at(3000))).toBe(3);
    expect(ledger.onHandAfter(STORE, 'LIP-RED', at(4000, 'till-2'))).toBe(5);
    expect(ledger.onHandAfter(STORE, 'LIP-RED', at(5000, 'till-2'))).toBe(0);

    // Counted 20 at 3000; -2 and +5 happened afterwards: 23.
    const count = ledger.apply(
      till({ type: 'count', hlc: at(3000), lines: [{ sku: 'LIP-RED', counted: 20 }] }),
    );
    expect(count.movements).toEqual([
      {
        locationId: 'store-1',
        sku: 'LIP-RED',
        reason: 'count',
        hlc: '000000000003000:00000:till-1',
        dOnHand: 10,
        dReserved: 0,
        dIncoming: 0,
        dDamaged: 0,
        absorbedOnHand: 0,
        counted: 20,
        outcome: 'applied',
        onHandAfter: 23,
        versionAfter: 4,
        oversell: false,
      },
    ]);
    expect(numbers(ledger.row(STORE, 'LIP-RED'))).toEqual({
      onHand: 23,
      reserved: 0,
      incoming: 0,
      damaged: 0,
      reorderPoint: 0,
      version: 4,
      countHlc: '000000000003000:00000:till-1',
    });

    // A delta stamped between the count and the later ones still applies.
    ledger.apply(
      till({
        type: 'adjust',
        hlc: at(3500, 'till-2'),
        reason: 'shrink',
        lines: [{ sku: 'LIP-RED', qty: 1 }],
      }),
    );
    expect(ledger.row(STORE, 'LIP-RED')).toMatchObject({ onHand: 22, version: 5 });
  });

  it('applyEffect adds laterOnHand to what was counted', () => {
    const effect: RowEffect = {
      kind: 'count',
      locationId: STORE,
      sku: 'LIP-RED',
      reason: 'count',
      counted: 20,
    };
    const { row: next, movement } = applyEffect(row({ onHand: 8, version: 2 }), effect, at(3000), -2);
    expect(numbers(next)).toEqual({
      onHand: 18,
      reserved: 0,
      incoming: 0,
      damaged: 0,
      reorderPoint: 0,
      version: 3,
      countHlc: '000000000003000:00000:till-1',
    });
    expect(movement).toMatchObject({ dOnHand: 10, counted: 20, onHandAfter: 18, outcome: 'applied' });

    // The till applying its own fresh count passes nothing: on_hand is exactly what was counted.
    expect(applyEffect(row({ onHand: 8 }), effect, at(3000)).row.onHand).toBe(20);
  });

  it('a count older than the latest one is superseded', () => {
    const ledger = new MemoryLedger();
    ledger.apply(till({ type: 'count', hlc: at(3000), lines: [{ sku: 'LIP-RED', counted: 20 }] }));
    const old = ledger.apply(
      till({ type: 'count', hlc: at(2000, 'till-2'), lines: [{ sku: 'LIP-RED', counted: 7 }] }),
    );
    expect(old.movements[0]).toEqual({
      locationId: 'store-1',
      sku: 'LIP-RED',
      reason: 'count',
      hlc: '000000000002000:00000:till-2',
      dOnHand: 0,
      dReserved: 0,
      dIncoming: 0,
      dDamaged: 0,
      absorbedOnHand: 0,
      counted: 7,
      outcome: 'superseded',
      onHandAfter: 20,
      versionAfter: 2,
      oversell: false,
    });
    expect(numbers(ledger.row(STORE, 'LIP-RED'))).toEqual({
      onHand: 20,
      reserved: 0,
      incoming: 0,
      damaged: 0,
      reorderPoint: 0,
      version: 2,
      countHlc: '000000000003000:00000:till-1',
    });

    // A newer count replaces it, and so does a set_stock at a later hub time.
    ledger.apply(till({ type: 'count', hlc: at(4000, 'till-2'), lines: [{ sku: 'LIP-RED', counted: 15 }] }));
    expect(ledger.row(STORE, 'LIP-RED')).toMatchObject({
      onHand: 15,
      version: 3,
      countHlc: at(4000, 'till-2'),
    });
    ledger.apply(hub({ type: 'set_stock', hlc: at(5000, 'hub'), sku: 'LIP-RED', onHand: 11 }));
    expect(ledger.row(STORE, 'LIP-RED')).toMatchObject({ onHand: 11, version: 4, countHlc: at(5000, 'hub') });
    // And a set_stock stamped before the latest count is superseded like any older count.
    const stale = ledger.apply(hub({ type: 'set_stock', hlc: at(4500, 'hub'), sku: 'LIP-RED', onHand: 99 }));
    expect(stale.movements[0]).toMatchObject({ reason: 'set_on_hand', outcome: 'superseded', dOnHand: 0 });
    expect(ledger.row(STORE, 'LIP-RED')).toMatchObject({ onHand: 11, version: 5, countHlc: at(5000, 'hub') });
  });

  it('bumps the version by exactly one on every kind of effect', () => {
    const start = row({ onHand: 5, version: 41, countHlc: at(3000) });
    const cases: Array<[string, RowEffect, Hlc]> = [
      [
        'applied delta',
        {
          kind: 'delta',
          locationId: STORE,
          sku: 'LIP-RED',
          reason: 'sale',
          delta: { onHand: -1, reserved: 0, incoming: 0, damaged: 0 },
        },
        at(4000),
      ],
      [
        'absorbed delta',
        {
          kind: 'delta',
          locationId: STORE,
          sku: 'LIP-RED',
          reason: 'sale',
          delta: { onHand: -1, reserved: 0, incoming: 0, damaged: 0 },
        },
        at(2000),
      ],
      [
        'applied count',
        { kind: 'count', locationId: STORE, sku: 'LIP-RED', reason: 'count', counted: 3 },
        at(4000),
      ],
      [
        'superseded count',
        { kind: 'count', locationId: STORE, sku: 'LIP-RED', reason: 'count', counted: 3 },
        at(2000),
      ],
      [
        'reorder point',
        {
          kind: 'reorder_point',
          locationId: STORE,
          sku: 'LIP-RED',
          reason: 'set_reorder_point',
          reorderPoint: 6,
        },
        at(2000),
      ],
    ];
    for (const [label, effect, hlc] of cases) {
      const { row: next, movement } = applyEffect(start, effect, hlc);
      expect(next.version, label).toBe(42);
      expect(movement.versionAfter, label).toBe(42);
    }
    // The input row is never mutated: the reducer is pure.
    expect(start).toEqual(row({ onHand: 5, version: 41, countHlc: at(3000) }));
  });

  it('setting the reorder point leaves the stock numbers alone', () => {
    const { row: next, movement } = applyEffect(
      row({ onHand: 5, reserved: 1, version: 3 }),
      {
        kind: 'reorder_point',
        locationId: STORE,
        sku: 'LIP-RED',
        reason: 'set_reorder_point',
        reorderPoint: 6,
      },
      at(10, 'hub'),
    );
    expect(numbers(next)).toEqual({
      onHand: 5,
      reserved: 1,
      incoming: 0,
      damaged: 0,
      reorderPoint: 6,
      version: 4,
      countHlc: null,
    });
    expect(movement).toMatchObject({ dOnHand: 0, dReserved: 0, outcome: 'applied', onHandAfter: 5 });
  });
});

describe('oversell', () => {
  const sale = (qty: number): RowEffect => ({
    kind: 'delta',
    locationId: STORE,
    sku: 'LIP-RED',
    reason: 'sale',
    delta: { onHand: -qty, reserved: 0, incoming: 0, damaged: 0 },
  });

  it('is flagged but still applied when a sale takes available below zero', () => {
    const { row: next, movement } = applyEffect(row({ onHand: 1, version: 1 }), sale(3), at(10));
    expect(next.onHand).toBe(-2);
    expect(next.version).toBe(2);
    expect(movement).toMatchObject({ outcome: 'applied', dOnHand: -3, onHandAfter: -2, oversell: true });
  });

  it('counts reserved units: selling into stock held for an online order is an oversell', () => {
    const { row: next, movement } = applyEffect(row({ onHand: 5, reserved: 4 }), sale(2), at(10));
    expect(next).toMatchObject({ onHand: 3, reserved: 4 });
    expect(movement.oversell).toBe(true);
  });

  it('is not flagged when available stays at zero or above', () => {
    expect(applyEffect(row({ onHand: 5, reserved: 3 }), sale(2), at(10)).movement.oversell).toBe(false);
  });

  it('is only flagged by a negative on_hand change', () => {
    const receive: RowEffect = {
      kind: 'delta',
      locationId: STORE,
      sku: 'LIP-RED',
      reason: 'receive',
      delta: { onHand: 1, reserved: 0, incoming: 0, damaged: 0 },
    };
    expect(applyEffect(row({ onHand: -4 }), receive, at(10)).movement).toMatchObject({
      onHandAfter: -3,
      oversell: false,
    });
    // An absorbed sale changes nothing on the shelf, so it oversells nothing.
    const absorbed = applyEffect(row({ onHand: 0, countHlc: at(3000) }), sale(2), at(2000));
    expect(absorbed.movement).toMatchObject({ outcome: 'absorbed', onHandAfter: 0, oversell: false });
  });
});

describe('multi-line operations', () => {
  it('chain lines on the same SKU within one op', () => {
    const ledger = new MemoryLedger();
    ledger.apply(till({ type: 'receive', hlc: at(1), lines: [{ sku: 'LIP-RED', qty: 10 }] }));
    const result = ledger.apply(
      till({
        type: 'sale',
        hlc: at(2),
        receiptId: 'r-1',
        lines: [
          { sku: 'LIP-RED', qty: 8, unitPriceMinor: 1299 },
          { sku: 'MASCARA', qty: 1, unitPriceMinor: 2500 },
          { sku: 'LIP-RED', qty: 4, unitPriceMinor: 1299 },
        ],
      }),
    );
    expect(
      result.movements.map((m) => [m.sku, m.dOnHand, m.onHandAfter, m.versionAfter, m.oversell]),
    ).toEqual([
      ['LIP-RED', -8, 2, 2, false],
      ['MASCARA', -1, -1, 1, true],
      ['LIP-RED', -4, -2, 3, true],
    ]);
    expect(result.rows.map((r) => [r.sku, r.onHand, r.version])).toEqual([
      ['LIP-RED', -2, 3],
      ['MASCARA', -1, 1],
    ]);
    expect(ledger.row(STORE, 'LIP-RED')).toMatchObject({ onHand: -2, version: 3 });
  });

  it('chain lines absorbed by a later count on the same SKU', () => {
    const ledger = new MemoryLedger();
    ledger.apply(till({ type: 'count', hlc: at(3000), lines: [{ sku: 'LIP-RED', counted: 6 }] }));
    const result = ledger.apply(
      till({
        type: 'adjust',
        hlc: at(2000, 'till-2'),
        reason: 'damage',
        lines: [
          { sku: 'LIP-RED', qty: 1 },
          { sku: 'LIP-RED', qty: 2 },
        ],
      }),
    );
    expect(
      result.movements.map((m) => [m.outcome, m.dOnHand, m.dDamaged, m.absorbedOnHand, m.versionAfter]),
    ).toEqual([
      ['absorbed', 0, 1, -1, 2],
      ['absorbed', 0, 2, -2, 3],
    ]);
    expect(ledger.row(STORE, 'LIP-RED')).toMatchObject({ onHand: 6, damaged: 3, version: 3 });
  });

  it('reduceOp is pure: it reads the ledger and changes nothing in it', () => {
    const ledger = new MemoryLedger();
    ledger.apply(till({ type: 'receive', hlc: at(1), lines: [{ sku: 'LIP-RED', qty: 10 }] }));
    const before = structuredClone(ledger.row(STORE, 'LIP-RED'));
    const result = reduceOp(
      till({
        type: 'sale',
        hlc: at(2),
        receiptId: 'r-1',
        lines: [{ sku: 'LIP-RED', qty: 3, unitPriceMinor: 1 }],
      }),
      ledger,
    );
    expect(result.rows[0]).toMatchObject({ onHand: 7, version: 2 });
    expect(ledger.row(STORE, 'LIP-RED')).toEqual(before);
    expect(ledger.movements).toHaveLength(1);
  });
});

describe('the DESIGN scenarios', () => {
  it('two offline tills selling the same SKU into an oversell converge in either arrival order', () => {
    const receive = hub({ type: 'receive', hlc: at(1000, 'hub'), lines: [{ sku: 'LIP-RED', qty: 3 }] });
    const saleA = till({
      type: 'sale',
      hlc: at(2000, 'till-a'),
      receiptId: 'a-1',
      lines: [{ sku: 'LIP-RED', qty: 2, unitPriceMinor: 1299 }],
    });
    const saleB = till({
      type: 'sale',
      hlc: at(2100, 'till-b'),
      receiptId: 'b-1',
      lines: [{ sku: 'LIP-RED', qty: 2, unitPriceMinor: 1299 }],
    });

    for (const [first, second] of [
      [saleA, saleB],
      [saleB, saleA],
    ] as const) {
      const ledger = new MemoryLedger();
      ledger.apply(receive);
      expect(ledger.apply(first).movements[0]).toMatchObject({ onHandAfter: 1, oversell: false });
      // Neither sale is refused: the second is recorded as the oversell.
      expect(ledger.apply(second).movements[0]).toMatchObject({ onHandAfter: -1, oversell: true });
      expect(numbers(ledger.row(STORE, 'LIP-RED'))).toEqual({
        onHand: -1,
        reserved: 0,
        incoming: 0,
        damaged: 0,
        reorderPoint: 0,
        version: 3,
        countHlc: null,
      });
    }
  });

  describe('a cycle count on one till while another till’s earlier sales arrive late', () => {
    // 10 on the shelf. Till B (offline) sells 2 at t=2000. Till A counts 6 at t=3000 (the 2 were
    // already gone, and 2 more went missing). Till B sells 1 at t=4000, till A sells 1 at t=5000.
    // The count is the truth at t=3000; only the sales after it count on top: 6 - 1 - 1 = 4.
    const receive = hub({ type: 'receive', hlc: at(1000, 'hub'), lines: [{ sku: 'LIP-RED', qty: 10 }] });
    const saleB1 = till({
      type: 'sale',
      hlc: at(2000, 'till-b'),
      receiptId: 'b-1',
      lines: [{ sku: 'LIP-RED', qty: 2, unitPriceMinor: 1299 }],
    });
    const countA = till({ type: 'count', hlc: at(3000, 'till-a'), lines: [{ sku: 'LIP-RED', counted: 6 }] });
    const saleB2 = till({
      type: 'sale',
      hlc: at(4000, 'till-b'),
      receiptId: 'b-2',
      lines: [{ sku: 'LIP-RED', qty: 1, unitPriceMinor: 1299 }],
    });
    const saleA = till({
      type: 'sale',
      hlc: at(5000, 'till-a'),
      receiptId: 'a-1',
      lines: [{ sku: 'LIP-RED', qty: 1, unitPriceMinor: 1299 }],
    });
    const expected = {
      onHand: 4,
      reserved: 0,
      incoming: 0,
      damaged: 0,
      reorderPoint: 0,
      version: 5,
      countHlc: '000000000003000:00000:till-a',
    };

    it('till A syncs first, till B’s sales arrive late', () => {
      const ledger = new MemoryLedger();
      const onHandAfter = [receive, countA, saleA, saleB1, saleB2].map(
        (op) => ledger.apply(op).movements[0]?.onHandAfter,
      );
      expect(onHandAfter).toEqual([10, 6, 5, 5, 4]);
      expect(ledger.movements.map((m) => m.outcome)).toEqual([
        'applied',
        'applied',
        'applied',
        'absorbed',
        'applied',
      ]);
      expect(ledger.movements[3]?.absorbedOnHand).toBe(-2);
      expect(numbers(ledger.row(STORE, 'LIP-RED'))).toEqual(expected);
    });

    it('till B syncs first, till A’s count arrives late', () => {
      const ledger = new MemoryLedger();
      const onHandAfter = [receive, saleB1, saleB2, countA, saleA].map(
        (op) => ledger.apply(op).movements[0]?.onHandAfter,
      );
      expect(onHandAfter).toEqual([10, 8, 7, 5, 4]);
      expect(ledger.movements.map((m) => m.outcome)).toEqual([
        'applied',
        'applied',
        'applied',
        'applied',
        'applied',
      ]);
      expect(numbers(ledger.row(STORE, 'LIP-RED'))).toEqual(expected);
    });

    it('every arrival order of the five ops gives 4', () => {
      const orders = permutations([receive, saleB1, countA, saleB2, saleA]);
      expect(orders).toHaveLength(120);
      for (const order of orders) {
        const ledger = new MemoryLedger();
        for (const op of order) ledger.apply(op);
        expect(numbers(ledger.row(STORE, 'LIP-RED'))).toEqual(expected);
      }
    });
  });
});
