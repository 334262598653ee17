import { ReservedStockError } from '@tillsync/pos-client';
import type { TillOp } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ledgerMismatches } from '../../hub/test/helpers/fixtures.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { expectConverged, expectLedgerOnce, startTill, type TestTill } from './helpers/tills.js';

describe(`tills and hub on ${testDbKind()}: offline selling and convergence`, () => {
  let hub: TestHubServer;
  const tills: TestTill[] = [];

  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }, { id: 'lyon' }],
      products: [
        { sku: 'LIP-RED', priceMinor: 1500, barcode: '3600000000017' },
        { sku: 'MASCARA', priceMinor: 2200 },
      ],
      stock: [
        { locationId: 'paris', sku: 'LIP-RED', onHand: 10 },
        { locationId: 'paris', sku: 'MASCARA', onHand: 5 },
        { locationId: 'lyon', sku: 'LIP-RED', onHand: 8 },
      ],
    });
  });
  afterEach(async () => {
    for (const t of tills.splice(0)) await t.close();
    await hub.close();
  });

  async function till(locationId: string, id: string) {
    const t = await startTill(hub, locationId, id);
    tills.push(t);
    return t;
  }

  it('sells while the hub is down, lands every sale exactly once on return, and the other till sees it', async () => {
    const p1 = await till('paris', 'paris-1');
    const p2 = await till('paris', 'paris-2');
    const l1 = await till('lyon', 'lyon-1');
    expect(p1.till.cashier.stock('LIP-RED')?.onHand).toBe(10);

    await hub.stop();
    const made: TillOp[] = [];
    const sale = p1.till.cashier.sell({ lines: [{ ref: '3600000000017', qty: 2 }] });
    expect(sale.totalMinor).toBe(3000);
    p1.till.cashier.sell({ lines: [{ ref: 'MASCARA', qty: 1 }] });
    l1.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 3 }] });
    // The cashier sees the sale at once, offline.
    expect(p1.till.cashier.stock('LIP-RED')?.onHand).toBe(8);
    expect(p1.till.cashier.status().outboxDepth).toBe(2);
    made.push(
      ...p1.till.replica.pendingBatch(10).map((e) => e.op),
      ...l1.till.replica.pendingBatch(10).map((e) => e.op),
    );

    await hub.resume();
    for (const t of [p1, p2, l1]) await expectConverged(hub, t);
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(8);
    expect(await hub.onHand('paris', 'MASCARA')).toBe(4);
    expect(await hub.onHand('lyon', 'LIP-RED')).toBe(5);
    expect(p2.till.cashier.stock('LIP-RED')?.onHand).toBe(8);
    expect(p1.till.cashier.status().outboxDepth).toBe(0);
    await expectLedgerOnce(hub, made);
    expect(await ledgerMismatches(hub.db)).toEqual([]);
  });

  it('two tills offline oversell the same SKU: both sales stand, the hub flags the oversell', async () => {
    const p1 = await till('paris', 'paris-1');
    const p2 = await till('paris', 'paris-2');
    await hub.stop();
    p1.till.cashier.sell({ lines: [{ ref: 'MASCARA', qty: 4 }] });
    p2.till.cashier.sell({ lines: [{ ref: 'MASCARA', qty: 3 }] });
    await hub.resume();
    await expectConverged(hub, p1);
    await expectConverged(hub, p2);
    // 5 - 4 - 3, whatever the order the tills came back in.
    expect(await hub.onHand('paris', 'MASCARA')).toBe(-2);
    expect(p1.till.cashier.stock('MASCARA')?.onHand).toBe(-2);
    const { rows } = await hub.db.query<{ kind: string }>("SELECT kind FROM conflicts WHERE sku = 'MASCARA'");
    expect(rows).toEqual([{ kind: 'oversell' }]);
  });

  for (const order of ['count first', 'late sales first'] as const) {
    it(`a count absorbs sales stamped before it, whatever arrives first (${order})`, async () => {
      const counter = await till('paris', 'paris-count');
      const seller = await till('paris', 'paris-sell');
      await hub.stop();
      // Seller rings 2 units, then the counter counts 6 on the shelf (it already saw those 2 gone),
      // then the seller rings 1 more after the count.
      // Each till stamps ops with its own hub-corrected clock; on a loaded machine two tills' measured
      // offsets differ by ~10 ms, so the ops are further apart than that to be ordered as rung.
      const apart = () => new Promise((r) => setTimeout(r, 60));
      seller.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 2 }] });
      await apart();
      counter.till.cashier.count([{ ref: 'LIP-RED', counted: 6 }]);
      await apart();
      seller.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });

      const [first, second] = order === 'count first' ? [counter, seller] : [seller, counter];
      await second.agent.stop();
      await hub.resume();
      await first.agent.drained();
      second.agent.start();
      await expectConverged(hub, first);
      await expectConverged(hub, second);
      // count 6, minus the 1 sold after it; the 2 sold before it are absorbed.
      expect(await hub.onHand('paris', 'LIP-RED')).toBe(5);
      const { rows } = await hub.db.query<{
        reason: string;
        outcome: string;
        d_on_hand: number;
        on_hand_after: number;
      }>(
        `SELECT reason, outcome, d_on_hand, on_hand_after FROM movements
         WHERE sku = 'LIP-RED' AND location_id = 'paris' AND reason IN ('sale', 'count') ORDER BY id`,
      );
      expect(rows).toEqual(
        order === 'count first'
          ? // The count lands first (10 → 6); the earlier sale arrives late and is absorbed, the later one applies.
            [
              { reason: 'count', outcome: 'applied', d_on_hand: -4, on_hand_after: 6 },
              { reason: 'sale', outcome: 'absorbed', d_on_hand: 0, on_hand_after: 6 },
              { reason: 'sale', outcome: 'applied', d_on_hand: -1, on_hand_after: 5 },
            ]
          : // Both sales land first (10 → 8 → 7); the late count keeps the sale made after it: 6 - 1.
            [
              { reason: 'sale', outcome: 'applied', d_on_hand: -2, on_hand_after: 8 },
              { reason: 'sale', outcome: 'applied', d_on_hand: -1, on_hand_after: 7 },
              { reason: 'count', outcome: 'applied', d_on_hand: -2, on_hand_after: 5 },
            ],
      );
      expect(await ledgerMismatches(hub.db)).toEqual([]);
    });
  }

  it('survives a till restart with a full outbox and a hub restart mid-stream', async () => {
    const p1 = await till('paris', 'paris-1');
    await hub.stop();
    for (let i = 0; i < 30; i++) p1.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    const before = p1.till.replica.pendingBatch(100).map((e) => e.op);
    expect(before).toHaveLength(30);
    await p1.restart();
    expect(p1.till.cashier.status().outboxDepth).toBe(30);
    expect(p1.till.cashier.stock('LIP-RED')?.onHand).toBe(-20);
    await hub.resume();
    await expectConverged(hub, p1);
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(-20);
    await expectLedgerOnce(hub, before);

    // Now cut the hub while a stream of sales is being pushed in small batches.
    for (let i = 0; i < 40; i++) p1.till.cashier.sell({ lines: [{ ref: 'MASCARA', qty: 1 }] });
    await hub.stop();
    await hub.resume();
    await expectConverged(hub, p1);
    expect(await hub.onHand('paris', 'MASCARA')).toBe(-35);
    expect(await ledgerMismatches(hub.db)).toEqual([]);
  });

  it('heals a till whose stored row was corrupted (drift detection)', async () => {
    const p1 = await till('paris', 'paris-1');
    p1.till.db.prepare("UPDATE stock_base SET on_hand = 999 WHERE sku = 'MASCARA'").run();
    p1.till.db.prepare("UPDATE stock SET on_hand = 999 WHERE sku = 'MASCARA'").run();
    expect(await p1.agent.checkDrift()).toBe(true);
    expect(p1.till.cashier.stock('MASCARA')?.onHand).toBe(5);
    expect(p1.agent.status().driftRepairs).toBe(1);
    await expectConverged(hub, p1);
  });

  it('refuses a second till process on the same data directory', async () => {
    const p1 = await till('paris', 'paris-1');
    const { Till } = await import('@tillsync/pos-client');
    expect(() => Till.open({ dataDir: p1.dir })).toThrow(/another till process is using/);
  });

  it('asks for an override before selling units reserved for online orders', async () => {
    const p1 = await till('paris', 'paris-1');
    // An online order holds 4 of the 5 mascaras (a bare reservation, as an order would make).
    await hub.reserve('paris', 'web-1', 'MASCARA', 4);
    await expect.poll(() => p1.till.cashier.stock('MASCARA')?.reserved).toBe(4);
    expect(p1.till.cashier.stock('MASCARA')).toMatchObject({ onHand: 5, reserved: 4 });
    p1.till.cashier.sell({ lines: [{ ref: 'MASCARA', qty: 1 }] });
    expect(() => p1.till.cashier.sell({ lines: [{ ref: 'MASCARA', qty: 1 }] })).toThrow(ReservedStockError);
    p1.till.cashier.sell({
      lines: [{ ref: 'MASCARA', qty: 1 }],
      reservedOverride: 'customer at the counter',
    });
    await expectConverged(hub, p1);
    expect(await hub.onHand('paris', 'MASCARA')).toBe(3);
  });
});
