import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidInputError,
  NotEnrolledError,
  ReservedStockError,
  Till,
  UnknownProductError,
} from '../src/index.js';
import { CATALOG, provision, removeDir, stockPush, stockRow, tempDir } from './helpers/till-fixture.js';

/*
 * The till engine on its own: a real SQLite file, enrolled by hand, no hub. Stock arrives the way
 * the hub would send it (a stock push), and every cashier action is checked in the view, the
 * outbox and the receipts.
 */

describe('a till selling on its own (no hub)', () => {
  let dir: string;
  let now: number;
  let till: Till;

  const open = () => Till.open({ dataDir: dir, now: () => now });
  const outboxDepth = () => till.cashier.status().outboxDepth;
  const receiptCount = () => till.db.prepare('SELECT count(*) AS n FROM receipts').pluck().get();

  beforeEach(() => {
    dir = tempDir('till-engine-');
    now = 1_700_000_000_000;
    till = provision(open(), {
      catalog: CATALOG,
      at: now,
      stock: stockPush('0', '2', [stockRow('LIP-RED', { onHand: 10 }), stockRow('MASCARA', { onHand: 5 })]),
    });
  });
  afterEach(() => {
    till.close();
    removeDir(dir);
  });

  it('sells by SKU and by barcode: the stock drops at once, one outbox entry and one receipt per sale', () => {
    const first = till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 2 }] });
    expect(first).toMatchObject({
      receiptId: 'paris-1-000001',
      kind: 'sale',
      seq: 1,
      totalMinor: 3000,
      payments: [{ method: 'cash', amountMinor: 3000 }],
      lines: [{ sku: 'LIP-RED', name: 'Red lipstick', qty: 2, unitPriceMinor: 1500 }],
    });
    expect(till.cashier.stock('LIP-RED')?.onHand).toBe(8);
    expect(outboxDepth()).toBe(1);
    expect(receiptCount()).toBe(1);

    const second = till.cashier.sell({
      lines: [
        { ref: '3600000000017', qty: 1 },
        { ref: 'MASCARA', qty: 1 },
      ],
      paymentMethod: 'card',
    });
    expect(second.totalMinor).toBe(3700);
    expect(till.cashier.stock('3600000000017')?.onHand).toBe(7);
    expect(till.cashier.stock('MASCARA')?.onHand).toBe(4);
    expect(outboxDepth()).toBe(2);
    expect(receiptCount()).toBe(2);
    expect(till.cashier.receipt(second.receiptId)).toEqual(second);

    const [, op] = till.replica.pendingBatch(10).map((e) => e.op);
    expect(op).toMatchObject({
      type: 'sale',
      seq: 2,
      locationId: 'paris',
      receiptId: second.receiptId,
      lines: [
        { sku: 'LIP-RED', qty: 1, unitPriceMinor: 1500 },
        { sku: 'MASCARA', qty: 1, unitPriceMinor: 2200 },
      ],
      payments: [{ method: 'card', amountMinor: 3700 }],
    });
  });

  it('writes nothing when a sale fails inside its transaction, and the next sale takes the seq', () => {
    expect(() =>
      till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 2 }], paymentMethod: 'bitcoin' as 'cash' }),
    ).toThrow(InvalidInputError);
    expect(outboxDepth()).toBe(0);
    expect(receiptCount()).toBe(0);
    expect(till.cashier.stock('LIP-RED')?.onHand).toBe(10);
    expect(till.cashier.status().nextSeq).toBe(1);

    expect(till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 2 }] }).seq).toBe(1);
    expect(till.cashier.stock('LIP-RED')?.onHand).toBe(8);
  });

  it('refuses unknown products, empty sales, bad quantities and bad payments with a clear error', () => {
    expect(() => till.cashier.sell({ lines: [{ ref: 'NO-SUCH-SKU', qty: 1 }] })).toThrow(UnknownProductError);
    expect(() =>
      till.cashier.sell({
        lines: [
          { ref: 'LIP-RED', qty: 1 },
          { ref: '0000000000000', qty: 1 },
        ],
      }),
    ).toThrow(/no product with SKU or barcode "0000000000000"/);
    expect(() => till.cashier.sell({ lines: [] })).toThrow(InvalidInputError);
    expect(() => till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 0 }] })).toThrow(InvalidInputError);
    expect(() => till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1.5 }] })).toThrow(InvalidInputError);
    expect(() =>
      till.cashier.sell({
        lines: [{ ref: 'LIP-RED', qty: 1 }],
        payments: [{ method: 'cash', amountMinor: -100 }],
      }),
    ).toThrow(InvalidInputError);
    expect(() => till.cashier.count([{ ref: 'NO-SUCH-SKU', counted: 3 }])).toThrow(UnknownProductError);
    expect(() => till.cashier.receive([{ ref: 'LIP-RED', qty: -4 }])).toThrow(InvalidInputError);

    expect(outboxDepth()).toBe(0);
    expect(receiptCount()).toBe(0);
    expect(till.cashier.stock('LIP-RED')?.onHand).toBe(10);
  });

  it('numbers its ops 1, 2, 3 and carries on from 4 after a restart', () => {
    till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    till.cashier.receive([{ ref: 'MASCARA', qty: 6 }], 'DN-1001');
    till.cashier.count([{ ref: 'LIP-RED', counted: 9 }]);
    expect(till.replica.pendingBatch(10).map((e) => e.seq)).toEqual([1, 2, 3]);

    till.close();
    till = open();
    expect(till.cashier.status()).toMatchObject({ outboxDepth: 3, nextSeq: 4 });
    expect(till.replica.pendingBatch(10).map((e) => e.op.type)).toEqual(['sale', 'receive', 'count']);
    expect(till.cashier.stock('LIP-RED')?.onHand).toBe(9);
    expect(till.cashier.stock('MASCARA')?.onHand).toBe(11);
    expect(till.cashier.adjust('damage', [{ ref: 'MASCARA', qty: 1 }]).seq).toBe(4);
  });

  it('stamps strictly increasing HLC times even when the wall clock goes backwards, across a restart', () => {
    const stamps = [till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] })];
    now -= 60_000;
    stamps.push(till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] }));
    stamps.push(till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] }));
    till.close();
    now -= 3_600_000;
    till = open();
    stamps.push(till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] }));

    const hlcs = till.replica.pendingBatch(10).map((e) => e.op.hlc);
    expect(hlcs).toHaveLength(4);
    expect(hlcs.every((hlc) => hlc.endsWith(':paris-1'))).toBe(true);
    for (let i = 1; i < hlcs.length; i++) expect(hlcs[i]! > hlcs[i - 1]!).toBe(true);
  });

  describe('returns', () => {
    it('refunds at the price the customer paid, even after a price change, to the same payment method', () => {
      const sale = till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 3 }], paymentMethod: 'card' });
      till.replica.saveCatalog([{ ...CATALOG[0]!, priceMinor: 1800 }], now);

      const back = till.cashier.returnItems({
        originalReceiptId: sale.receiptId,
        lines: [{ ref: 'LIP-RED', qty: 1 }],
      });
      expect(back).toMatchObject({
        kind: 'return',
        originalReceiptId: sale.receiptId,
        totalMinor: 1500,
        payments: [{ method: 'card', amountMinor: 1500 }],
        lines: [{ sku: 'LIP-RED', qty: 1, unitPriceMinor: 1500, condition: 'sellable' }],
      });
      expect(till.cashier.stock('LIP-RED')).toMatchObject({ onHand: 8, damaged: 0 });
      expect(till.replica.pendingBatch(10).at(-1)?.op).toMatchObject({
        type: 'return',
        originalReceiptId: sale.receiptId,
        lines: [{ sku: 'LIP-RED', qty: 1, unitPriceMinor: 1500, condition: 'sellable' }],
      });

      // Without a receipt the current price applies.
      expect(till.cashier.returnItems({ lines: [{ ref: 'LIP-RED', qty: 1 }] }).totalMinor).toBe(1800);
    });

    it('sends damaged units to damaged, not back on the shelf', () => {
      const sale = till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 2 }] });
      till.cashier.returnItems({
        originalReceiptId: sale.receiptId,
        lines: [{ ref: 'LIP-RED', qty: 1, condition: 'damaged' }],
      });
      expect(till.cashier.stock('LIP-RED')).toMatchObject({ onHand: 8, damaged: 1 });
    });

    it('never takes back more than the receipt sold, counting earlier returns', () => {
      const sale = till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 2 }] });
      expect(() =>
        till.cashier.returnItems({ originalReceiptId: sale.receiptId, lines: [{ ref: 'LIP-RED', qty: 3 }] }),
      ).toThrow(`receipt ${sale.receiptId} has 2 × LIP-RED left to return`);
      till.cashier.returnItems({ originalReceiptId: sale.receiptId, lines: [{ ref: 'LIP-RED', qty: 1 }] });
      expect(() =>
        till.cashier.returnItems({ originalReceiptId: sale.receiptId, lines: [{ ref: 'LIP-RED', qty: 2 }] }),
      ).toThrow(`receipt ${sale.receiptId} has 1 × LIP-RED left to return`);
      // The same SKU on two lines counts once against what is left.
      expect(() =>
        till.cashier.returnItems({
          originalReceiptId: sale.receiptId,
          lines: [
            { ref: 'LIP-RED', qty: 1 },
            { ref: '3600000000017', qty: 1 },
          ],
        }),
      ).toThrow(InvalidInputError);
      expect(() =>
        till.cashier.returnItems({ originalReceiptId: sale.receiptId, lines: [{ ref: 'MASCARA', qty: 1 }] }),
      ).toThrow(`receipt ${sale.receiptId} has 0 × MASCARA left to return`);
      expect(() =>
        till.cashier.returnItems({
          originalReceiptId: 'paris-1-999999',
          lines: [{ ref: 'LIP-RED', qty: 1 }],
        }),
      ).toThrow('no sale receipt paris-1-999999 on this till');

      expect(till.cashier.stock('LIP-RED')?.onHand).toBe(9);
      expect(outboxDepth()).toBe(2);
      expect(receiptCount()).toBe(2);
    });

    it('does not accept a return receipt as the original', () => {
      const sale = till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
      const back = till.cashier.returnItems({
        originalReceiptId: sale.receiptId,
        lines: [{ ref: 'LIP-RED', qty: 1 }],
      });
      expect(() =>
        till.cashier.returnItems({ originalReceiptId: back.receiptId, lines: [{ ref: 'LIP-RED', qty: 1 }] }),
      ).toThrow(InvalidInputError);
    });
  });

  it('a count sets on_hand to what was counted, and later sales apply on top', () => {
    till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 2 }] });
    const count = till.cashier.count([{ ref: 'LIP-RED', counted: 5 }]);
    expect(till.cashier.stock('LIP-RED')).toMatchObject({ onHand: 5, countHlc: count.hlc, version: 3 });
    till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    expect(till.cashier.stock('LIP-RED')).toMatchObject({ onHand: 4, version: 4 });
  });

  describe('units reserved for online orders', () => {
    beforeEach(() => {
      till.replica.applyStockPush(
        stockPush('2', '3', [stockRow('MASCARA', { onHand: 5, reserved: 4, version: 2 })]),
      );
    });

    it('sells the free units, then asks for an override and writes nothing', () => {
      till.cashier.sell({ lines: [{ ref: 'MASCARA', qty: 1 }] });
      expect(till.cashier.stock('MASCARA')).toMatchObject({ onHand: 4, reserved: 4 });

      let refusal: unknown;
      try {
        till.cashier.sell({ lines: [{ ref: 'MASCARA', qty: 1 }] });
      } catch (err) {
        refusal = err;
      }
      expect(refusal).toBeInstanceOf(ReservedStockError);
      expect(refusal).toMatchObject({
        code: 'reserved_stock',
        details: { lines: [{ sku: 'MASCARA', requested: 1, available: 0, reserved: 4 }] },
      });
      expect(outboxDepth()).toBe(1);
      expect(receiptCount()).toBe(1);
      expect(till.cashier.stock('MASCARA')?.onHand).toBe(4);
    });

    it('counts every line of the same SKU against the free units', () => {
      expect(() =>
        till.cashier.sell({
          lines: [
            { ref: 'MASCARA', qty: 1 },
            { ref: 'MASCARA', qty: 1 },
          ],
        }),
      ).toThrow(ReservedStockError);
    });

    it('sells reserved units when the cashier confirms an override', () => {
      const sale = till.cashier.sell({
        lines: [{ ref: 'MASCARA', qty: 3 }],
        reservedOverride: 'customer at the counter',
      });
      expect(till.cashier.stock('MASCARA')).toMatchObject({ onHand: 2, reserved: 4 });
      expect(till.replica.pendingBatch(1)[0]?.op).toMatchObject({
        receiptId: sale.receiptId,
        reservedOverride: { reason: 'customer at the counter' },
      });
    });

    it('lets a SKU without reservations oversell: a sale is a physical fact', () => {
      till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 12 }] });
      expect(till.cashier.stock('LIP-RED')?.onHand).toBe(-2);
    });
  });

  it('reports outbox depth and the age of the oldest unsynced op', () => {
    expect(till.cashier.status()).toMatchObject({
      outboxDepth: 0,
      oldestUnsyncedAgeMs: null,
      lastAckedSeq: 0,
    });
    till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    now += 60_000;
    till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    now += 30_000;
    expect(till.cashier.status()).toMatchObject({
      deviceId: 'paris-1',
      locationId: 'paris',
      outboxDepth: 2,
      oldestUnsyncedAgeMs: 90_000,
      nextSeq: 3,
      cursor: 2,
      rejected: [],
    });
  });
});

describe('a till that is not enrolled', () => {
  it('refuses to sell and reports an empty status', () => {
    const dir = tempDir('till-unenrolled-');
    const till = Till.open({ dataDir: dir });
    try {
      till.replica.saveCatalog(CATALOG, 1_700_000_000_000);
      expect(() => till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] })).toThrow(NotEnrolledError);
      expect(() => till.cashier.count([{ ref: 'LIP-RED', counted: 1 }])).toThrow(/till enrol --hub/);
      expect(till.replica.enrolment).toBeNull();
      expect(till.cashier.status()).toMatchObject({
        deviceId: null,
        locationId: null,
        outboxDepth: 0,
        oldestUnsyncedAgeMs: null,
        nextSeq: 1,
      });
    } finally {
      till.close();
      removeDir(dir);
    }
  });
});
