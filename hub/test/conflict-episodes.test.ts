import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ledgerMismatches } from './helpers/fixtures.js';
import { type SocketHub, type SocketTill, startSocketHub } from './helpers/socket-hub.js';
import { push } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

const address = { name: 'A', line1: '1 Main St', city: 'Lyon', postalCode: '69001', country: 'FR' };

// Issue 13, finding 11: an order flagged at risk is one episode, one conflict and one
// order.at_risk event, however many later pushes find it still short.
describe(`one broken-reservation conflict per order episode on ${testDbKind()}`, () => {
  let hub: SocketHub;
  let till: SocketTill;
  beforeEach(async () => {
    hub = await startSocketHub({
      locations: [{ id: 'wh', kind: 'warehouse' }, { id: 'store-b' }],
      products: [{ sku: 'LIP-1' }, { sku: 'GUM-1' }],
      stock: [
        { locationId: 'store-b', sku: 'LIP-1', onHand: 3 },
        { locationId: 'store-b', sku: 'GUM-1', onHand: 100 },
      ],
    });
    till = await hub.till('store-b');
  });
  afterEach(async () => {
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
    await hub.close();
  });

  async function placed(fulfilment: object): Promise<string> {
    const res = await hub.request({
      method: 'POST',
      url: '/v1/orders',
      payload: { channel: 'web', customerRef: 'c', lines: [{ sku: 'LIP-1', qty: 2 }], fulfilment },
      headers: { 'idempotency-key': 'k-1' },
    });
    expect(res.statusCode).toBe(201);
    expect(res.body).toMatchObject({ allocations: [{ locationId: 'store-b', status: 'held' }] });
    return (res.body as { id: string }).id;
  }
  async function sell(sku: string, qty: number) {
    const ack = await push(till.socket, [till.ops.sale(sku, qty)]);
    expect(ack.ok && ack.value.results.map((r) => r.status)).toEqual(['applied']);
  }
  async function episodes(orderId: string) {
    const { rows } = await hub.database.db.query<{ id: number; status: string; resolution: string | null }>(
      `SELECT id, status, resolution FROM conflicts
       WHERE kind = 'broken_reservation' AND details->>'orderId' = $1 ORDER BY id`,
      [orderId],
    );
    const { rows: events } = await hub.database.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM events WHERE type = 'order.at_risk' AND payload->>'id' = $1",
      [orderId],
    );
    return { conflicts: rows, atRiskEvents: events[0]!.n };
  }

  it('opens one conflict for repeated pushes after the flag, and a new one after it is resolved', async () => {
    const order = await placed({ type: 'pickup', pickupLocationId: 'store-b' });
    await sell('LIP-1', 2); // offline oversell: 1 on the shelf for 2 promised
    for (let i = 0; i < 4; i++) await sell('GUM-1', 1);
    const first = await episodes(order);
    expect(first).toEqual({
      conflicts: [{ id: expect.any(Number), status: 'open', resolution: null }],
      atRiskEvents: 1,
    });

    const resolved = await hub.request({
      method: 'POST',
      url: `/v1/conflicts/${first.conflicts[0]!.id}/resolve`,
      payload: { note: 'customer called' },
    });
    expect(resolved.statusCode).toBe(200);
    // Still short: the next push opens the next episode, once.
    for (let i = 0; i < 3; i++) await sell('GUM-1', 1);
    expect(await episodes(order)).toEqual({
      conflicts: [
        { id: first.conflicts[0]!.id, status: 'resolved', resolution: 'customer called' },
        { id: expect.any(Number), status: 'open', resolution: null },
      ],
      atRiskEvents: 2,
    });
  });

  it('ends the episode when the order is re-allocated, so a later shortfall opens a new one', async () => {
    const order = await placed({ type: 'shipping', address });
    await sell('LIP-1', 2);
    await sell('GUM-1', 1);
    expect((await episodes(order)).conflicts).toEqual([
      { id: expect.any(Number), status: 'open', resolution: null },
    ]);

    // A unit arrives at the warehouse: the next push moves the short unit there.
    const receipt = await hub.request({
      method: 'POST',
      url: '/v1/locations/wh/receipts',
      payload: { lines: [{ sku: 'LIP-1', qty: 1 }] },
    });
    expect(receipt.statusCode).toBe(201);
    await sell('GUM-1', 1);
    expect(await episodes(order)).toEqual({
      conflicts: [{ id: expect.any(Number), status: 'resolved', resolution: 're-allocated' }],
      atRiskEvents: 1,
    });

    // The store sells its last unit too: a new episode, once.
    await sell('LIP-1', 1);
    await sell('GUM-1', 1);
    await sell('GUM-1', 1);
    const after = await episodes(order);
    expect(after.conflicts.map((c) => c.status)).toEqual(['resolved', 'open']);
    expect(after.atRiskEvents).toBe(2);
  });
});
