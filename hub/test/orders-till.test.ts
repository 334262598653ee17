import { newOpId } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import type { ReservationChangeAt } from '../src/ledger/reservation-feed.js';
import { reallocateBrokenReservations, recordTillPickup } from '../src/services/orders/index.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { testDbKind } from './helpers/test-db.js';

interface OrderBody {
  id: string;
  status: string;
  atRisk: boolean;
  allocations: Array<{ locationId: string; sku: string; qty: number; status: string }>;
}

const address = { name: 'A', line1: '1 Main St', city: 'Lyon', postalCode: '69001', country: 'FR' };

describe(`what a till's push means for orders on ${testDbKind()}`, () => {
  let hub: TestHub;
  let db: Database;
  let keys = 0;
  let published: ReservationChangeAt[][];
  beforeEach(async () => {
    hub = await buildTestHub();
    db = hub.database.db;
    await seedCatalog(db, {
      locations: [{ id: 'wh-1', kind: 'warehouse' }, { id: 'store-b' }],
      products: [{ sku: 'SKU-1' }],
      stock: [{ locationId: 'store-b', sku: 'SKU-1', onHand: 3 }],
    });
    published = [];
    hub.app.reservationFeed.on('changes', (c) => published.push(c));
  });
  afterEach(async () => {
    expect(await ledgerMismatches(db)).toEqual([]);
    await hub.close();
  });

  async function placed(qty: number, fulfilment: object) {
    const res = await hub.request({
      method: 'POST',
      url: '/v1/orders',
      payload: { channel: 'web', customerRef: 'c', lines: [{ sku: 'SKU-1', qty }], fulfilment },
      headers: { 'idempotency-key': `k-${++keys}` },
    });
    expect(res.statusCode).toBe(201);
    return res.body as OrderBody;
  }
  const get = async (id: string) =>
    (await hub.request({ method: 'GET', url: `/v1/orders/${id}` })).body as OrderBody;

  async function stockAt(locationId: string) {
    const { rows } = await db.query<{ on_hand: number; reserved: number }>(
      "SELECT on_hand, reserved FROM stock WHERE location_id = $1 AND sku = 'SKU-1'",
      [locationId],
    );
    return rows[0];
  }

  /** A till op moving stock as the sync layer would, with `then` run in the same transaction. */
  function tillWrite<T>(
    type: 'pickup' | 'adjust',
    qty: number,
    orderId: string,
    then: Parameters<typeof hub.app.stock.write<T>>[0],
  ) {
    return hub.app.stock.write(async (tx, apply) => {
      const base = { opId: newOpId(), hlc: hub.app.stock.clock.tick(), locationId: 'store-b' };
      const line = [{ sku: 'SKU-1', qty }];
      await apply([
        {
          op:
            type === 'pickup'
              ? { ...base, type: 'pickup', orderId, lines: line }
              : { ...base, type: 'adjust', reason: 'shrink', lines: line },
          actor: 'device:till-1',
        },
      ]);
      return then(tx, apply);
    });
  }

  it('records a pickup handed over at the till: allocations fulfilled, order delivered', async () => {
    const o = await placed(2, { type: 'pickup', pickupLocationId: 'store-b' });
    const opId = newOpId();
    const changes = await tillWrite('pickup', 2, o.id, (tx) =>
      recordTillPickup(tx, { orderId: o.id, locationId: 'store-b', lines: [{ sku: 'SKU-1', qty: 2 }], opId }),
    );
    expect(changes).toEqual([
      {
        locationId: 'store-b',
        orderId: o.id,
        sku: 'SKU-1',
        qty: 2,
        status: 'fulfilled',
        expiresAt: expect.any(Number),
      },
    ]);
    const after = await get(o.id);
    expect(after.status).toBe('delivered');
    expect(after.allocations).toEqual([{ locationId: 'store-b', sku: 'SKU-1', qty: 2, status: 'fulfilled' }]);
    expect(await stockAt('store-b')).toEqual({ on_hand: 1, reserved: 0 });
  });

  it('turns a pickup that does not match into a conflict instead of failing the batch', async () => {
    const o = await placed(1, { type: 'pickup', pickupLocationId: 'store-b' });
    const pickups = [
      { orderId: 'ord_unknown', qty: 1, settled: [] },
      // What the order holds here is handed over; the extra unit is the conflict.
      { orderId: o.id, qty: 2, settled: [expect.objectContaining({ qty: 1, status: 'fulfilled' })] },
    ];
    for (const p of pickups) {
      const changes = await hub.app.stock.write((tx) =>
        recordTillPickup(tx, {
          orderId: p.orderId,
          locationId: 'store-b',
          lines: [{ sku: 'SKU-1', qty: p.qty }],
          opId: newOpId(),
        }),
      );
      expect(changes).toEqual(p.settled);
    }
    const { rows } = await db.query<{ kind: string; reason: string }>(
      "SELECT kind, details->>'reason' AS reason FROM conflicts ORDER BY id",
    );
    expect(rows).toEqual([
      { kind: 'pickup_mismatch', reason: 'unknown_order' },
      { kind: 'pickup_mismatch', reason: 'more_than_held' },
    ]);
    expect((await get(o.id)).status).toBe('delivered');
  });

  it('moves the newest broken reservation elsewhere and flags what cannot move at risk', async () => {
    const older = await placed(2, { type: 'shipping', address });
    const newer = await placed(1, { type: 'shipping', address });
    expect(await stockAt('store-b')).toEqual({ on_hand: 3, reserved: 3 });
    await hub.request({
      method: 'POST',
      url: '/v1/locations/wh-1/receipts',
      payload: { lines: [{ sku: 'SKU-1', qty: 1 }] },
    });

    // Offline, the store lost 2 units: 1 on the shelf for 3 promised.
    const changes = await tillWrite('adjust', 2, '', (tx, apply) =>
      reallocateBrokenReservations(tx, apply, ['store-b'], hub.app.stock.clock),
    );
    expect(changes.map((c) => [c.locationId, c.orderId, c.qty, c.status])).toEqual([
      ['store-b', newer.id, 1, 'released'],
      ['wh-1', newer.id, 1, 'held'],
    ]);
    expect(await stockAt('store-b')).toEqual({ on_hand: 1, reserved: 2 });
    expect(await stockAt('wh-1')).toEqual({ on_hand: 1, reserved: 1 });
    expect((await get(newer.id)).allocations).toEqual([
      { locationId: 'store-b', sku: 'SKU-1', qty: 1, status: 'released' },
      { locationId: 'wh-1', sku: 'SKU-1', qty: 1, status: 'held' },
    ]);
    const atRisk = await get(older.id);
    expect(atRisk).toMatchObject({ atRisk: true, status: 'pending' });
    expect(atRisk.allocations).toEqual([{ locationId: 'store-b', sku: 'SKU-1', qty: 2, status: 'held' }]);
    const { rows } = await db.query<{ kind: string; short: number }>(
      "SELECT kind, (details->>'short')::int AS short FROM conflicts WHERE kind = 'broken_reservation'",
    );
    expect(rows).toEqual([{ kind: 'broken_reservation', short: 1 }]);
    const { rows: events } = await db.query<{ type: string }>(
      "SELECT type FROM events WHERE type IN ('order.reallocated', 'order.at_risk') ORDER BY id",
    );
    expect(events.map((e) => e.type)).toEqual(['order.reallocated', 'order.at_risk']);
  });

  it('publishes every reservation change of an order write to the tills after commit', async () => {
    const o = await placed(2, { type: 'pickup', pickupLocationId: 'store-b' });
    await hub.request({ method: 'POST', url: `/v1/orders/${o.id}/cancel` });
    expect(published.map((batch) => batch.map((c) => [c.locationId, c.orderId, c.qty, c.status]))).toEqual([
      [['store-b', o.id, 2, 'held']],
      [['store-b', o.id, 2, 'released']],
    ]);
  });
});
