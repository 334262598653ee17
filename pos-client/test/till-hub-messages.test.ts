import { Ack, encodeHlc, Hello, type OpResult, PROTOCOL_VERSION } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Till } from '../src/index.js';
import { product, provision, removeDir, stockPush, stockRow, tempDir } from './helpers/till-fixture.js';

/*
 * What the till does with the hub's messages, fed by hand (no socket): acks, stock pushes, hello
 * and drift-repair snapshots. Every message goes through the protocol's zod schema first, as the
 * sync agent does.
 */

const CATALOG = [
  product('LIP-RED', 'Red lipstick', 1500),
  product('MASCARA', 'Mascara', 2200),
  // Listed in the till's catalogue before the hub stocks it anywhere.
  product('GLOSS-NEW', 'New gloss', 900),
];

describe('a till applying what the hub sends', () => {
  let dir: string;
  let now: number;
  let till: Till;

  const open = () => Till.open({ dataDir: dir, now: () => now });
  const sellOne = (sku: string) => till.cashier.sell({ lines: [{ ref: sku, qty: 1 }] });
  const outboxSeqs = () => till.replica.pendingBatch(100).map((e) => e.seq);
  const opId = (seq: number) => till.replica.pendingBatch(100).find((e) => e.seq === seq)?.opId ?? '';
  const applied = (seq: number): OpResult => ({ seq, opId: opId(seq), status: 'applied' });
  const rejected = (seq: number, code: string, reason: string) =>
    ({ seq, opId: opId(seq), status: 'rejected', code, reason }) as OpResult;
  const hello = (lastAckedSeq: number, stockCursor: string) =>
    Hello.parse({
      protocolVersion: PROTOCOL_VERSION,
      serverTime: now,
      serverHlc: encodeHlc({ wall: now, counter: 0, node: 'hub' }),
      deviceId: 'paris-1',
      locationId: 'paris',
      lastAckedSeq,
      stockCursor,
    });

  beforeEach(() => {
    dir = tempDir('till-hub-msgs-');
    now = 1_700_000_000_000;
    // The hub's rows at cursor 1: 10 lipsticks (version 3), 5 mascaras (version 1).
    till = provision(open(), {
      catalog: CATALOG,
      at: now,
      stock: stockPush('0', '1', [
        stockRow('LIP-RED', { onHand: 10, version: 3 }),
        stockRow('MASCARA', { onHand: 5 }),
      ]),
    });
  });
  afterEach(() => {
    till.close();
    removeDir(dir);
  });

  describe('acks', () => {
    it('deletes only the ops the hub acknowledged and takes the rows of the batch', () => {
      sellOne('LIP-RED');
      sellOne('LIP-RED');
      sellOne('LIP-RED');
      expect(till.cashier.stock('LIP-RED')?.onHand).toBe(7);

      till.replica.applyAck(
        Ack.parse({
          lastAckedSeq: 2,
          results: [applied(1), applied(2)],
          stock: [stockPush('1', '2', [stockRow('LIP-RED', { onHand: 8, version: 5 })])],
        }),
      );
      expect(outboxSeqs()).toEqual([3]);
      expect(till.cashier.status()).toMatchObject({
        outboxDepth: 1,
        lastAckedSeq: 2,
        cursor: 2,
        rejected: [],
      });
      // The hub's 8 (two sales in) minus the one it has not seen yet.
      expect(till.cashier.stock('LIP-RED')).toMatchObject({ onHand: 7, version: 6 });
    });

    it('keeps a permanent rejection for the cashier, removes its effect from the view, and goes on', () => {
      now = 1_700_000_100_000;
      sellOne('LIP-RED');
      till.cashier.count([{ ref: 'MASCARA', counted: 2 }]);
      sellOne('LIP-RED');
      expect(till.cashier.stock('MASCARA')?.onHand).toBe(2);

      till.replica.applyAck(
        Ack.parse({
          lastAckedSeq: 3,
          results: [applied(1), rejected(2, 'malformed', 'count line 1: bad count'), applied(3)],
          stock: [stockPush('1', '2', [stockRow('LIP-RED', { onHand: 8, version: 5 })])],
        }),
      );
      expect(till.cashier.status()).toMatchObject({
        outboxDepth: 0,
        lastAckedSeq: 3,
        rejected: [
          {
            seq: 2,
            type: 'count',
            code: 'malformed',
            reason: 'count line 1: bad count',
            rejectedAt: 1_700_000_100_000,
          },
        ],
      });
      expect(till.cashier.status().rejected[0]?.op).toMatchObject({
        type: 'count',
        lines: [{ sku: 'MASCARA', counted: 2 }],
      });
      expect(till.cashier.stock('MASCARA')).toMatchObject({ onHand: 5, version: 1 });
      expect(till.cashier.stock('LIP-RED')?.onHand).toBe(8);
    });

    it('takes a refused sale of a SKU the hub does not stock out of the view', () => {
      sellOne('GLOSS-NEW');
      expect(till.cashier.stock('GLOSS-NEW')?.onHand).toBe(-1);

      till.replica.applyAck(
        Ack.parse({
          lastAckedSeq: 1,
          results: [rejected(1, 'unknown_sku', 'no product GLOSS-NEW at the hub')],
          stock: [],
        }),
      );
      expect(till.cashier.status().rejected.map((r) => r.code)).toEqual(['unknown_sku']);
      expect(till.cashier.stock('GLOSS-NEW')).toMatchObject({ onHand: 0, version: 0 });
    });

    it('keeps ops held back by a seq gap, unrejected, to send again', () => {
      sellOne('LIP-RED');
      sellOne('MASCARA');
      till.replica.applyAck(
        Ack.parse({
          lastAckedSeq: 0,
          results: [rejected(1, 'seq_gap', 'expected seq 1'), rejected(2, 'seq_gap', 'expected seq 1')],
          stock: [],
        }),
      );
      expect(outboxSeqs()).toEqual([1, 2]);
      expect(till.cashier.status()).toMatchObject({ outboxDepth: 2, lastAckedSeq: 0, rejected: [] });
      expect(till.cashier.stock('LIP-RED')?.onHand).toBe(9);
      expect(till.cashier.stock('MASCARA')?.onHand).toBe(4);
    });

    it('drops a seq conflict from the outbox (the hub never acknowledges it) and keeps it on the rejected list', () => {
      sellOne('LIP-RED');
      sellOne('MASCARA');
      sellOne('LIP-RED');
      till.replica.applyAck(
        Ack.parse({
          lastAckedSeq: 1,
          results: [applied(1), rejected(2, 'seq_conflict', 'seq 2 was used by another op')],
          stock: [stockPush('1', '2', [stockRow('LIP-RED', { onHand: 9, version: 4 })])],
        }),
      );
      expect(outboxSeqs()).toEqual([3]);
      expect(till.cashier.status().rejected.map((r) => [r.seq, r.code])).toEqual([[2, 'seq_conflict']]);
      expect(till.cashier.stock('MASCARA')?.onHand).toBe(5);
      expect(till.cashier.stock('LIP-RED')?.onHand).toBe(8);
    });
  });

  describe('stock pushes', () => {
    it('ignores a row older than or as old as the one it holds, and takes a newer one', () => {
      till.replica.applyStockPush(stockPush('1', '2', [stockRow('LIP-RED', { onHand: 7, version: 2 })]));
      expect(till.cashier.stock('LIP-RED')).toMatchObject({ onHand: 10, version: 3 });
      till.replica.applyStockPush(stockPush('2', '3', [stockRow('LIP-RED', { onHand: 6, version: 3 })]));
      expect(till.cashier.stock('LIP-RED')).toMatchObject({ onHand: 10, version: 3 });
      till.replica.applyStockPush(
        stockPush('3', '4', [stockRow('LIP-RED', { onHand: 9, reserved: 2, version: 4 })]),
      );
      expect(till.cashier.stock('LIP-RED')).toMatchObject({ onHand: 9, reserved: 2, version: 4 });
    });

    it('ignores rows of another location', () => {
      till.replica.applyStockPush(
        stockPush('1', '2', [stockRow('LIP-RED', { locationId: 'lyon', onHand: 50, version: 9 })]),
      );
      expect(till.cashier.stock('LIP-RED')).toMatchObject({ locationId: 'paris', onHand: 10, version: 3 });
    });

    it('shows the hub row plus the ops the hub has not acknowledged yet', () => {
      sellOne('LIP-RED');
      sellOne('LIP-RED');
      // Another till sold 3: the hub's row does not include this till's 2.
      till.replica.applyStockPush(stockPush('1', '2', [stockRow('LIP-RED', { onHand: 7, version: 4 })]));
      expect(till.cashier.stock('LIP-RED')).toMatchObject({ onHand: 5, version: 6 });
      expect(till.cashier.status().outboxDepth).toBe(2);
    });

    it('moves the cursor only when a page continues from it, and reports a gap', () => {
      expect(till.replica.applyStockPush(stockPush('1', '3', []))).toBe(false);
      expect(till.cashier.status().cursor).toBe(3);

      // Cursors 4 and 5 were missed: the rows still count, the cursor waits for the pull.
      expect(
        till.replica.applyStockPush(stockPush('5', '6', [stockRow('MASCARA', { onHand: 4, version: 2 })])),
      ).toBe(true);
      expect(till.cashier.status().cursor).toBe(3);
      expect(till.cashier.stock('MASCARA')?.onHand).toBe(4);

      // A pulled page overlapping what we hold continues from it.
      expect(till.replica.applyStockPush(stockPush('2', '5', []))).toBe(false);
      expect(till.cashier.status().cursor).toBe(5);

      // An old page changes nothing.
      expect(
        till.replica.applyStockPush(stockPush('1', '4', [stockRow('MASCARA', { onHand: 1, version: 1 })])),
      ).toBe(false);
      expect(till.cashier.status().cursor).toBe(5);
      expect(till.cashier.stock('MASCARA')?.onHand).toBe(4);
    });
  });

  describe('hello', () => {
    it('stops counting ops the hub already applied, keeps them in the outbox, and never reuses their seqs', () => {
      sellOne('LIP-RED');
      sellOne('LIP-RED');
      sellOne('LIP-RED');
      // The hub applied seqs 1 and 2 but the ack was lost; its row shows them, the pull brings it.
      till.replica.applyHello(
        hello(2, '4'),
        [stockPush('1', '4', [stockRow('LIP-RED', { onHand: 8, version: 5 })])],
        250,
      );

      expect(till.cashier.stock('LIP-RED')).toMatchObject({ onHand: 7, version: 6 });
      expect(till.cashier.status()).toMatchObject({ lastAckedSeq: 2, nextSeq: 4, cursor: 4, outboxDepth: 3 });
      // Resent, the hub answers them as duplicates; only that ack removes them.
      expect(outboxSeqs()).toEqual([1, 2, 3]);
      expect(till.replica.clockOffsetMs()).toBe(250);
    });

    it('moves past the seqs the hub has seen when the till lost its data', () => {
      till.replica.applyHello(hello(41, '1'), [], 0);
      expect(till.cashier.status()).toMatchObject({ lastAckedSeq: 41, nextSeq: 42 });
      expect(sellOne('LIP-RED').seq).toBe(42);
      expect(till.cashier.stock('LIP-RED')?.onHand).toBe(9);
    });

    it('never moves the acknowledged seq backwards', () => {
      sellOne('LIP-RED');
      till.replica.applyAck(Ack.parse({ lastAckedSeq: 1, results: [applied(1)], stock: [] }));
      till.replica.applyHello(hello(0, '1'), [], 0);
      expect(till.cashier.status()).toMatchObject({ lastAckedSeq: 1, nextSeq: 2 });
    });
  });

  describe('drift repair', () => {
    it('rebuilds every row from the snapshot and re-applies the ops not yet acknowledged', () => {
      sellOne('LIP-RED');
      sellOne('GLOSS-NEW');
      till.db.prepare("UPDATE stock_base SET on_hand = 999 WHERE sku = 'MASCARA'").run();
      till.db.prepare("UPDATE stock SET on_hand = 999 WHERE sku = 'MASCARA'").run();
      till.db
        .prepare(
          "INSERT INTO stock_base (sku, on_hand, reserved, incoming, damaged, reorder_point, version) VALUES ('STRAY', 3, 0, 0, 0, 0, 1)",
        )
        .run();

      till.replica.replaceStock([
        stockPush('0', '7', [
          stockRow('LIP-RED', { onHand: 10, version: 3 }),
          stockRow('MASCARA', { onHand: 5, version: 2 }),
        ]),
      ]);
      expect(
        till.db.prepare('SELECT sku, on_hand, version FROM stock_base ORDER BY sku').raw().all(),
      ).toEqual([
        ['LIP-RED', 10, 3],
        ['MASCARA', 5, 2],
      ]);
      expect(till.cashier.stock('LIP-RED')?.onHand).toBe(9);
      expect(till.cashier.stock('MASCARA')).toMatchObject({ onHand: 5, version: 2 });
      expect(till.cashier.stock('GLOSS-NEW')?.onHand).toBe(-1);
      expect(till.cashier.stock('STRAY')).toBeUndefined();
      expect(till.cashier.status()).toMatchObject({ cursor: 7, outboxDepth: 2 });
    });
  });

  it('keeps the view, the outbox and the cursor across a restart', () => {
    sellOne('LIP-RED');
    till.replica.applyStockPush(stockPush('1', '2', [stockRow('LIP-RED', { onHand: 6, version: 4 })]));
    till.close();
    till = open();
    expect(till.cashier.stock('LIP-RED')).toMatchObject({ onHand: 5, version: 5 });
    expect(till.cashier.status()).toMatchObject({ cursor: 2, outboxDepth: 1, nextSeq: 2 });
    till.replica.applyAck(
      Ack.parse({
        lastAckedSeq: 1,
        results: [applied(1)],
        stock: [stockPush('2', '3', [stockRow('LIP-RED', { onHand: 5, version: 5 })])],
      }),
    );
    expect(till.cashier.stock('LIP-RED')).toMatchObject({ onHand: 5, version: 5 });
    expect(till.cashier.status().outboxDepth).toBe(0);
  });
});
