import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ledgerMismatches } from '../../hub/test/helpers/fixtures.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { expectConverged, startTill, type TestTill } from './helpers/tills.js';

/** Online orders meet the stores: reservations pushed to tills, pickup at the till, offline oversells. */
describe(`online orders at the tills (${testDbKind()})`, () => {
  let hub: TestHubServer;
  const tills: TestTill[] = [];

  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }, { id: 'warehouse', kind: 'warehouse', priority: 1 }],
      products: [{ sku: 'CANDLE', priceMinor: 3200 }],
      stock: [
        { locationId: 'paris', sku: 'CANDLE', onHand: 3 },
        { locationId: 'warehouse', sku: 'CANDLE', onHand: 10 },
      ],
    });
  });
  afterEach(async () => {
    for (const t of tills.splice(0)) await t.close();
    await hub.close();
  });

  async function order(key: string, fulfilment: Record<string, unknown>, qty: number) {
    const res = await fetch(`${hub.url}/v1/orders`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${hub.adminToken}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body: JSON.stringify({
        channel: 'web',
        customerRef: 'c-1',
        lines: [{ sku: 'CANDLE', qty }],
        fulfilment,
      }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; status: string };
  }

  /** The marketplace's own hold on all 10 warehouse candles (reserve/release endpoints). */
  function holds(action: 'reserve' | 'release', key: string) {
    return fetch(`${hub.url}/v1/locations/warehouse/inventory/${action}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${hub.adminToken}`,
        'content-type': 'application/json',
        'idempotency-key': key,
      },
      body: JSON.stringify({ reference: 'mkt-77', lines: [{ sku: 'CANDLE', qty: 10 }] }),
    });
  }

  async function getOrder(id: string) {
    const res = await fetch(`${hub.url}/v1/orders/${id}`, {
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    return (await res.json()) as {
      status: string;
      atRisk: boolean;
      allocations: Array<{ locationId: string; qty: number; status: string }>;
    };
  }

  it('shows a pickup order at the store, hands it over offline, and the hub closes the order', async () => {
    const t = await startTill(hub, 'paris', 'paris-1');
    tills.push(t);
    const o = await order('k-pickup', { type: 'pickup', pickupLocationId: 'paris' }, 2);
    await expect
      .poll(() => t.till.cashier.pickupOrders())
      .toEqual([{ orderId: o.id, expiresAt: expect.any(Number), lines: [{ sku: 'CANDLE', qty: 2 }] }]);
    expect(t.till.cashier.stock('CANDLE')).toMatchObject({ onHand: 3, reserved: 2 });

    await hub.stop();
    t.till.cashier.pickup(o.id);
    expect(t.till.cashier.pickupOrders()).toEqual([]);
    expect(t.till.cashier.stock('CANDLE')).toMatchObject({ onHand: 1, reserved: 0 });
    await hub.resume();
    await expectConverged(hub, t);
    expect(await getOrder(o.id)).toMatchObject({ status: 'delivered' });
    expect(await ledgerMismatches(hub.db)).toEqual([]);
  });

  it('moves a shipping reservation broken by an offline sale to another location', async () => {
    const t = await startTill(hub, 'paris', 'paris-1');
    tills.push(t);
    // A marketplace holds all the warehouse's candles, so the web order lands on Paris.
    expect((await holds('reserve', 'k-hold')).status).toBe(200);
    const o = await order('k-ship', shipping, 2);
    expect((await getOrder(o.id)).allocations).toEqual([
      expect.objectContaining({ locationId: 'paris', qty: 2, status: 'held' }),
    ]);
    await t.agent.stop();
    // Offline, the cashier sells all 3 (overriding the reservation: the customer is at the counter).
    t.till.cashier.sell({ lines: [{ ref: 'CANDLE', qty: 3 }], reservedOverride: 'walk-in customer' });
    // Meanwhile the marketplace lets its hold go; then the till comes back.
    expect((await holds('release', 'k-release')).status).toBe(200);
    t.agent.start();
    await expectConverged(hub, t);
    const after = await getOrder(o.id);
    // Paris could not keep its promise: the 2 units are now held at the warehouse.
    expect(after.allocations.filter((a) => a.status === 'held')).toEqual([
      expect.objectContaining({ locationId: 'warehouse', qty: 2 }),
    ]);
    expect(await hub.onHand('paris', 'CANDLE')).toBe(0);
    expect(await ledgerMismatches(hub.db)).toEqual([]);
  });
});

const shipping = {
  type: 'shipping',
  address: {
    name: 'A. Client',
    line1: '1 rue de la Paix',
    city: 'Paris',
    postalCode: '75002',
    country: 'FR',
  },
};
