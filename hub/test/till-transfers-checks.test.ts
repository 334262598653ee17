import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ledgerMismatches } from './helpers/fixtures.js';
import { type SocketHub, type SocketTill, startSocketHub } from './helpers/socket-hub.js';
import { push } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

interface TransferBody {
  id: string;
  status: string;
  lines: Array<{ sku: string; qty: number; receivedQty: number }>;
}

// A till's transfer and pickup ops are checked against its location, the transfer record and the
// order's holds (issue 13, finding 4): a mismatch moves only the till's own shelf and opens a conflict.
describe(`transfers and pickups from tills are checked on ${testDbKind()}`, () => {
  let hub: SocketHub;
  let b: SocketTill;
  beforeEach(async () => {
    hub = await startSocketHub({
      locations: [{ id: 'wh', kind: 'warehouse' }, { id: 'store-a' }, { id: 'store-b' }],
      products: [{ sku: 'LIP-1' }],
      stock: [
        { locationId: 'wh', sku: 'LIP-1', onHand: 20 },
        { locationId: 'store-a', sku: 'LIP-1', onHand: 10 },
        { locationId: 'store-b', sku: 'LIP-1', onHand: 10 },
      ],
    });
    b = await hub.till('store-b');
  });
  afterEach(async () => {
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
    await hub.close();
  });

  async function row(locationId: string) {
    const { rows } = await hub.database.db.query<{ on_hand: number; reserved: number; incoming: number }>(
      "SELECT on_hand, reserved, incoming FROM stock WHERE location_id = $1 AND sku = 'LIP-1'",
      [locationId],
    );
    return rows[0];
  }
  async function conflicts() {
    const { rows } = await hub.database.db.query<{ kind: string; location_id: string; code: string | null }>(
      "SELECT kind, location_id, COALESCE(details->>'code', details->>'reason') AS code FROM conflicts ORDER BY id",
    );
    return rows;
  }
  const transfer = async (id: string) =>
    (await hub.request({ method: 'GET', url: `/v1/transfers/${id}` })).body as TransferBody;
  async function shipToA(qty: number): Promise<string> {
    const res = await hub.request({
      method: 'POST',
      url: '/v1/transfers',
      payload: { fromLocationId: 'wh', toLocationId: 'store-a', lines: [{ sku: 'LIP-1', qty }] },
    });
    expect(res.statusCode).toBe(201);
    return (res.body as TransferBody).id;
  }
  async function pushed(op: unknown) {
    const ack = await push(b.socket, [op]);
    expect(ack.ok && ack.value.results.map((r) => r.status)).toEqual(['applied']);
  }

  it("a till of store B receiving store A's transfer leaves the transfer open for A", async () => {
    const id = await shipToA(5);
    await pushed(
      b.ops.other({
        type: 'transfer_in',
        transferId: id,
        fromLocationId: 'wh',
        lines: [{ sku: 'LIP-1', qty: 5 }],
      }),
    );
    // The units are on B's shelf (a receipt), B's incoming was never raised, A still waits for 5.
    expect(await row('store-b')).toMatchObject({ on_hand: 15, incoming: 0 });
    expect(await row('store-a')).toMatchObject({ on_hand: 10, incoming: 5 });
    expect(await transfer(id)).toMatchObject({ status: 'in_transit', lines: [{ qty: 5, receivedQty: 0 }] });
    expect(await conflicts()).toEqual([
      { kind: 'transfer_mismatch', location_id: 'store-b', code: 'wrong_destination' },
    ]);
    const { rows } = await hub.database.db.query<{ op_type: string; reason: string }>(
      "SELECT op_type, reason FROM movements WHERE location_id = 'store-b' AND reference = $1",
      [id],
    );
    expect(rows).toEqual([{ op_type: 'transfer_in', reason: 'receive' }]);

    // A's manager can still receive it.
    const manager = await hub.token('store_manager', 'store-a');
    const received = await hub.request({
      method: 'POST',
      url: `/v1/transfers/${id}/receive`,
      token: manager,
    });
    expect(received.statusCode).toBe(200);
    expect(received.body).toMatchObject({ status: 'received' });
    expect(await row('store-a')).toMatchObject({ on_hand: 15, incoming: 0 });
  });

  it('bounds a transfer_out by what the till store had: 1,000,000 claimed, 10 shipped', async () => {
    await pushed(
      b.ops.other({
        type: 'transfer_out',
        transferId: 'tr-big',
        toLocationId: 'store-a',
        lines: [{ sku: 'LIP-1', qty: 1_000_000 }],
      }),
    );
    expect(await row('store-b')).toMatchObject({ on_hand: 0 });
    expect(await row('store-a')).toMatchObject({ on_hand: 10, incoming: 10 });
    expect(await transfer('tr-big')).toMatchObject({
      status: 'in_transit',
      lines: [{ sku: 'LIP-1', qty: 10, receivedQty: 0 }],
    });
    expect(await conflicts()).toEqual([
      { kind: 'transfer_mismatch', location_id: 'store-b', code: 'more_than_on_hand' },
    ]);
  });

  it('moves nothing for a transfer_out naming an existing transfer with other lines', async () => {
    const id = await shipToA(5);
    await pushed(
      b.ops.other({
        type: 'transfer_out',
        transferId: id,
        toLocationId: 'store-a',
        lines: [{ sku: 'LIP-1', qty: 3 }],
      }),
    );
    expect(await row('store-b')).toMatchObject({ on_hand: 10, incoming: 0 });
    expect(await row('store-a')).toMatchObject({ incoming: 5 });
    expect(await transfer(id)).toMatchObject({ status: 'in_transit', lines: [{ qty: 5, receivedQty: 0 }] });
    expect(await conflicts()).toEqual([
      { kind: 'transfer_mismatch', location_id: 'store-b', code: 'already_exists' },
    ]);
  });

  it('receives what is outstanding and books the surplus as a plain receipt', async () => {
    const shipped = await hub.request({
      method: 'POST',
      url: '/v1/transfers',
      payload: { fromLocationId: 'wh', toLocationId: 'store-b', lines: [{ sku: 'LIP-1', qty: 4 }] },
    });
    const id = (shipped.body as TransferBody).id;
    await pushed(
      b.ops.other({
        type: 'transfer_in',
        transferId: id,
        fromLocationId: 'wh',
        lines: [{ sku: 'LIP-1', qty: 6 }],
      }),
    );
    // Incoming never goes below what was shipped here; all six units are on the shelf.
    expect(await row('store-b')).toMatchObject({ on_hand: 16, incoming: 0 });
    expect(await transfer(id)).toMatchObject({ status: 'received', lines: [{ qty: 4, receivedQty: 4 }] });
    expect(await conflicts()).toEqual([
      { kind: 'transfer_mismatch', location_id: 'store-b', code: 'over_receipt' },
    ]);
  });

  it("opens a conflict for a pickup of an order held at another store, and leaves both stores' holds", async () => {
    const order = async (pickupLocationId: string) => {
      const res = await hub.request({
        method: 'POST',
        url: '/v1/orders',
        payload: {
          channel: 'web',
          customerRef: 'c',
          lines: [{ sku: 'LIP-1', qty: 2 }],
          fulfilment: { type: 'pickup', pickupLocationId },
        },
        headers: { 'idempotency-key': `k-${pickupLocationId}` },
      });
      expect(res.statusCode).toBe(201);
      return (res.body as { id: string }).id;
    };
    const atA = await order('store-a');
    await order('store-b');
    await pushed(b.ops.other({ type: 'pickup', orderId: atA, lines: [{ sku: 'LIP-1', qty: 2 }] }));

    // The units left B's shelf (handed over), but B's hold is its own order's and A's is untouched.
    expect(await row('store-b')).toMatchObject({ on_hand: 8, reserved: 2 });
    expect(await row('store-a')).toMatchObject({ on_hand: 10, reserved: 2 });
    const got = (await hub.request({ method: 'GET', url: `/v1/orders/${atA}` })).body;
    expect(got).toMatchObject({
      status: 'pending',
      allocations: [{ locationId: 'store-a', sku: 'LIP-1', qty: 2, status: 'held' }],
    });
    expect(await conflicts()).toEqual([
      { kind: 'pickup_mismatch', location_id: 'store-b', code: 'not_a_pickup_order_of_this_store' },
    ]);
  });
});
