import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { testDbKind } from './helpers/test-db.js';

interface OrderBody {
  id: string;
  status: string;
  channel: string;
  fulfilment: string;
  pickupLocationId: string | null;
  expiresAt: string | null;
  createdAt: string;
  cancelReason: string | null;
  lines: Array<{ sku: string; qty: number; returnedQty: number }>;
  allocations: Array<{ locationId: string; sku: string; qty: number; status: string }>;
  history: Array<{ from: string | null; to: string; reason: string | null }>;
}

const json = <T>(res: { body: unknown }): T => res.body as T;
const address = {
  name: 'Ada Lovelace',
  line1: '1 Rue de Rivoli',
  city: 'Paris',
  postalCode: '75001',
  country: 'FR',
};
const shipping = { type: 'shipping', address };
const pickupAt = (pickupLocationId: string) => ({ type: 'pickup', pickupLocationId });

describe(`online orders on ${testDbKind()}`, () => {
  let hub: TestHub;
  let db: Database;
  let keys = 0;
  beforeEach(async () => {
    hub = await buildTestHub();
    db = hub.database.db;
    await seedCatalog(db, {
      locations: [
        { id: 'wh-1', kind: 'warehouse', priority: 10 },
        { id: 'wh-2', kind: 'warehouse', priority: 20 },
        { id: 'store-a', priority: 10, safetyStock: 2 },
        { id: 'store-b', priority: 20 },
      ],
      products: [{ sku: 'SKU-1' }, { sku: 'SKU-2' }, { sku: 'SKU-3' }],
    });
  });
  afterEach(async () => {
    expect(await ledgerMismatches(db)).toEqual([]);
    await hub.close();
  });

  async function stockAt(locationId: string, sku: string) {
    const { rows } = await db.query<{ on_hand: number; reserved: number; damaged: number }>(
      'SELECT on_hand, reserved, damaged FROM stock WHERE location_id = $1 AND sku = $2',
      [locationId, sku],
    );
    const row = rows[0];
    return { onHand: row?.on_hand ?? 0, reserved: row?.reserved ?? 0, damaged: row?.damaged ?? 0 };
  }

  async function receive(locationId: string, lines: Array<{ sku: string; qty: number }>) {
    const res = await hub.request({
      method: 'POST',
      url: `/v1/locations/${locationId}/receipts`,
      payload: { lines },
    });
    expect(res.statusCode).toBe(201);
  }

  const order = (payload: object, opts: { key?: string; token?: string | null } = {}) =>
    hub.request({
      method: 'POST',
      url: '/v1/orders',
      payload,
      token: opts.token,
      headers: { 'idempotency-key': opts.key ?? `key-${++keys}` },
    });

  const act = (id: string, action: string, payload?: object) =>
    hub.request({ method: 'POST', url: `/v1/orders/${id}/${action}`, ...(payload ? { payload } : {}) });

  async function placed(lines: Array<{ sku: string; qty: number }>, fulfilment: object = shipping) {
    const res = await order({ channel: 'web', customerRef: 'cust-1', lines, fulfilment });
    expect(res.statusCode).toBe(201);
    return json<OrderBody>(res);
  }

  const allocationsOf = (o: OrderBody) =>
    o.allocations
      .map((a) => [a.locationId, a.sku, a.qty, a.status])
      .sort((a, b) => String(a).localeCompare(String(b)));

  /** Everything a refused order must leave untouched. */
  async function snapshot() {
    const { rows } = await db.query(
      `SELECT (SELECT count(*) FROM movements)::int AS movements, (SELECT count(*) FROM orders)::int AS orders,
              (SELECT count(*) FROM allocations)::int AS allocations, (SELECT count(*) FROM events)::int AS events,
              (SELECT count(*) FROM idempotency_keys)::int AS keys,
              (SELECT json_agg(json_build_array(location_id, sku, on_hand, reserved, version)
                 ORDER BY location_id, sku) FROM stock) AS stock`,
    );
    return rows[0];
  }

  describe('routing', () => {
    it('reserves the whole order at one warehouse when it can serve it', async () => {
      await receive('wh-1', [
        { sku: 'SKU-1', qty: 5 },
        { sku: 'SKU-2', qty: 5 },
      ]);
      await receive('store-b', [{ sku: 'SKU-1', qty: 10 }]);
      const o = await placed([
        { sku: 'SKU-1', qty: 2 },
        { sku: 'SKU-2', qty: 1 },
      ]);
      expect(o.status).toBe('pending');
      expect(allocationsOf(o)).toEqual([
        ['wh-1', 'SKU-1', 2, 'held'],
        ['wh-1', 'SKU-2', 1, 'held'],
      ]);
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 5, reserved: 2, damaged: 0 });
      expect(await stockAt('wh-1', 'SKU-2')).toEqual({ onHand: 5, reserved: 1, damaged: 0 });
      expect(await stockAt('store-b', 'SKU-1')).toEqual({ onHand: 10, reserved: 0, damaged: 0 });
    });

    it('prefers a warehouse over a store, then the lower priority number', async () => {
      await receive('store-b', [{ sku: 'SKU-1', qty: 100 }]);
      await receive('wh-2', [{ sku: 'SKU-1', qty: 3 }]);
      expect(allocationsOf(await placed([{ sku: 'SKU-1', qty: 3 }]))).toEqual([['wh-2', 'SKU-1', 3, 'held']]);
      await receive('wh-1', [{ sku: 'SKU-1', qty: 5 }]);
      await receive('wh-2', [{ sku: 'SKU-1', qty: 5 }]);
      expect(allocationsOf(await placed([{ sku: 'SKU-1', qty: 4 }]))).toEqual([['wh-1', 'SKU-1', 4, 'held']]);
    });

    it('takes a store that can serve the whole order before splitting between warehouses', async () => {
      await receive('wh-1', [{ sku: 'SKU-1', qty: 5 }]);
      await receive('store-b', [
        { sku: 'SKU-1', qty: 5 },
        { sku: 'SKU-2', qty: 5 },
      ]);
      const o = await placed([
        { sku: 'SKU-1', qty: 2 },
        { sku: 'SKU-2', qty: 2 },
      ]);
      expect(allocationsOf(o)).toEqual([
        ['store-b', 'SKU-1', 2, 'held'],
        ['store-b', 'SKU-2', 2, 'held'],
      ]);
    });

    it('splits line by line in routing order when no location can serve it all', async () => {
      await receive('wh-1', [{ sku: 'SKU-1', qty: 3 }]);
      await receive('wh-2', [
        { sku: 'SKU-1', qty: 2 },
        { sku: 'SKU-2', qty: 4 },
      ]);
      const o = await placed([
        { sku: 'SKU-1', qty: 4 },
        { sku: 'SKU-2', qty: 1 },
      ]);
      expect(allocationsOf(o)).toEqual([
        ['wh-1', 'SKU-1', 3, 'held'],
        ['wh-2', 'SKU-1', 1, 'held'],
        ['wh-2', 'SKU-2', 1, 'held'],
      ]);
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 3, reserved: 3, damaged: 0 });
      expect(await stockAt('wh-2', 'SKU-1')).toEqual({ onHand: 2, reserved: 1, damaged: 0 });
    });

    it('answers a new order exactly as GET /v1/orders/{id} then shows it', async () => {
      // The 201 is built from what the writes returned, not read back: it must not differ.
      await receive('wh-1', [{ sku: 'SKU-1', qty: 3 }]);
      await receive('wh-2', [
        { sku: 'SKU-1', qty: 2 },
        { sku: 'SKU-2', qty: 4 },
      ]);
      const o = await placed([
        { sku: 'SKU-2', qty: 1 },
        { sku: 'SKU-1', qty: 4 },
      ]);
      const got = json<OrderBody>(await hub.request({ method: 'GET', url: `/v1/orders/${o.id}` }));
      expect(o).toEqual(got);
    });

    it('never ships below a location’s safety stock, but a pickup there may take it all', async () => {
      await receive('store-a', [{ sku: 'SKU-1', qty: 5 }]);
      const before = await snapshot();
      const res = await order({
        channel: 'web',
        customerRef: 'c',
        lines: [{ sku: 'SKU-1', qty: 4 }],
        fulfilment: shipping,
      });
      expect(res.statusCode).toBe(409);
      expect(res.body).toMatchObject({
        code: 'insufficient_stock',
        details: { lines: [{ sku: 'SKU-1', requested: 4, available: 3 }] },
      });
      expect(await snapshot()).toEqual(before);
      expect(allocationsOf(await placed([{ sku: 'SKU-1', qty: 3 }]))).toEqual([
        ['store-a', 'SKU-1', 3, 'held'],
      ]);
      expect(allocationsOf(await placed([{ sku: 'SKU-1', qty: 2 }], pickupAt('store-a')))).toEqual([
        ['store-a', 'SKU-1', 2, 'held'],
      ]);
      expect(await stockAt('store-a', 'SKU-1')).toEqual({ onHand: 5, reserved: 5, damaged: 0 });
    });

    it('reserves a pickup order at its store only', async () => {
      await receive('wh-1', [{ sku: 'SKU-1', qty: 10 }]);
      await receive('store-b', [{ sku: 'SKU-1', qty: 1 }]);
      const res = await order({
        channel: 'web',
        customerRef: 'c',
        lines: [{ sku: 'SKU-1', qty: 2 }],
        fulfilment: pickupAt('store-b'),
      });
      expect(res.statusCode).toBe(409);
      expect(res.body).toMatchObject({ details: { lines: [{ sku: 'SKU-1', requested: 2, available: 1 }] } });
      const o = await placed([{ sku: 'SKU-1', qty: 1 }], pickupAt('store-b'));
      expect(o).toMatchObject({ fulfilment: 'pickup', pickupLocationId: 'store-b' });
      expect(allocationsOf(o)).toEqual([['store-b', 'SKU-1', 1, 'held']]);
    });

    it('skips inactive locations and reports every short line, reserving nothing', async () => {
      await receive('wh-1', [{ sku: 'SKU-1', qty: 10 }]);
      await receive('wh-2', [{ sku: 'SKU-1', qty: 2 }]);
      await db.query("UPDATE locations SET active = false WHERE id = 'wh-1'");
      const before = await snapshot();
      const res = await order({
        channel: 'web',
        customerRef: 'c',
        lines: [
          { sku: 'SKU-1', qty: 3 },
          { sku: 'SKU-2', qty: 1 },
        ],
        fulfilment: shipping,
      });
      expect(res.statusCode).toBe(409);
      expect(res.body).toMatchObject({
        details: {
          lines: [
            { sku: 'SKU-1', requested: 3, available: 2 },
            { sku: 'SKU-2', requested: 1, available: 0 },
          ],
        },
      });
      expect(await snapshot()).toEqual(before);
      expect(allocationsOf(await placed([{ sku: 'SKU-1', qty: 2 }]))).toEqual([['wh-2', 'SKU-1', 2, 'held']]);
    });
  });

  describe('bad input', () => {
    beforeEach(() => receive('wh-1', [{ sku: 'SKU-1', qty: 10 }]));

    it.each([
      ['zero quantity', [{ sku: 'SKU-1', qty: 0 }], 'body.lines.0.qty'],
      ['negative quantity', [{ sku: 'SKU-1', qty: -2 }], 'body.lines.0.qty'],
      [
        'an unknown SKU',
        [
          { sku: 'SKU-1', qty: 1 },
          { sku: 'NOPE', qty: 1 },
        ],
        'body.lines.1.sku',
      ],
      [
        'a SKU on two lines',
        [
          { sku: 'SKU-1', qty: 1 },
          { sku: 'SKU-1', qty: 2 },
        ],
        'body.lines.1.sku',
      ],
      ['101 lines', Array.from({ length: 101 }, (_, i) => ({ sku: `S-${i}`, qty: 1 })), 'body.lines'],
      ['no lines', [], 'body.lines'],
    ])('refuses %s with 400 naming the field', async (_, lines, field) => {
      const before = await snapshot();
      const res = await order({ channel: 'web', customerRef: 'c', lines, fulfilment: shipping });
      expect(res.statusCode).toBe(400);
      expect(res.body).toMatchObject({ code: 'invalid_request' });
      expect((res.body as { message: string }).message.startsWith(`${field}:`)).toBe(true);
      expect(await snapshot()).toEqual(before);
    });

    it('refuses a pickup at a warehouse or unknown location, a bad address, a missing key', async () => {
      const lines = [{ sku: 'SKU-1', qty: 1 }];
      const before = await snapshot();
      for (const [fulfilment, field] of [
        [pickupAt('wh-1'), 'body.fulfilment.pickupLocationId'],
        [pickupAt('nowhere'), 'body.fulfilment.pickupLocationId'],
        [{ type: 'shipping', address: { ...address, country: 'France' } }, 'body.fulfilment.address.country'],
        [{ type: 'drone' }, 'body.fulfilment'],
      ] as const) {
        const res = await order({ channel: 'web', customerRef: 'c', lines, fulfilment });
        expect(res.statusCode).toBe(400);
        expect((res.body as { message: string }).message).toMatch(
          new RegExp(`^${field.replaceAll('.', '\\.')}`),
        );
      }
      const noKey = await hub.request({
        method: 'POST',
        url: '/v1/orders',
        payload: { channel: 'web', customerRef: 'c', lines, fulfilment: shipping },
      });
      expect(noKey.statusCode).toBe(400);
      expect((noKey.body as { message: string }).message).toMatch(/^headers\.idempotency-key/);
      expect(await snapshot()).toEqual(before);
    });

    it('needs a channel or admin token', async () => {
      const payload = {
        channel: 'web',
        customerRef: 'c',
        lines: [{ sku: 'SKU-1', qty: 1 }],
        fulfilment: shipping,
      };
      expect((await order(payload, { token: null })).statusCode).toBe(401);
      expect((await order(payload, { token: await hub.token('hq') })).statusCode).toBe(403);
      expect((await order(payload, { token: await hub.token('store_manager', 'store-b') })).statusCode).toBe(
        403,
      );
      expect((await order(payload, { token: await hub.token('channel') })).statusCode).toBe(201);
    });
  });

  describe('Idempotency-Key', () => {
    beforeEach(() => receive('wh-1', [{ sku: 'SKU-1', qty: 10 }]));
    const body = {
      channel: 'web',
      customerRef: 'c',
      lines: [{ sku: 'SKU-1', qty: 2 }],
      fulfilment: shipping,
    };

    it('answers a retry with the same order and reserves once', async () => {
      const first = await order(body, { key: 'retry-me' });
      const again = await order({ ...body, lines: [{ qty: 2, sku: 'SKU-1' }] }, { key: 'retry-me' });
      expect(first.statusCode).toBe(201);
      expect(again.statusCode).toBe(201);
      expect(again.body).toEqual(first.body);
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 10, reserved: 2, damaged: 0 });
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM orders');
      expect(rows[0]?.n).toBe(1);
    });

    it('refuses the same key with another body (422), and scopes keys per token', async () => {
      await order(body, { key: 'k-1' });
      const before = await snapshot();
      const reused = await order({ ...body, lines: [{ sku: 'SKU-1', qty: 3 }] }, { key: 'k-1' });
      expect(reused.statusCode).toBe(422);
      expect(reused.body).toMatchObject({ code: 'idempotency_key_reused', details: { key: 'k-1' } });
      expect(await snapshot()).toEqual(before);
      const other = await order(body, { key: 'k-1', token: await hub.token('channel') });
      expect(other.statusCode).toBe(201);
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 10, reserved: 4, damaged: 0 });
    });

    it('does not remember a refused request: the same key succeeds once stock is there', async () => {
      const big = { ...body, lines: [{ sku: 'SKU-1', qty: 12 }] };
      expect((await order(big, { key: 'later' })).statusCode).toBe(409);
      await receive('wh-1', [{ sku: 'SKU-1', qty: 2 }]);
      expect((await order(big, { key: 'later' })).statusCode).toBe(201);
    });
  });

  describe('lifecycle', () => {
    beforeEach(() => receive('wh-1', [{ sku: 'SKU-1', qty: 10 }]));

    it('moves stock through confirm, fulfill, ship, deliver and a sellable return', async () => {
      const o = await placed([{ sku: 'SKU-1', qty: 3 }]);
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 10, reserved: 3, damaged: 0 });

      const confirmed = await act(o.id, 'confirm', {
        payment: { method: 'card', amountMinor: 3000, reference: 'pi_1' },
      });
      expect(confirmed.statusCode).toBe(200);
      expect(confirmed.body).toMatchObject({
        status: 'confirmed',
        expiresAt: null,
        payment: { reference: 'pi_1' },
      });
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 10, reserved: 3, damaged: 0 });

      expect(json<OrderBody>(await act(o.id, 'fulfill')).status).toBe('processing');
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 10, reserved: 3, damaged: 0 });

      const shipped = json<OrderBody>(await act(o.id, 'ship'));
      expect(shipped.status).toBe('shipped');
      expect(allocationsOf(shipped)).toEqual([['wh-1', 'SKU-1', 3, 'fulfilled']]);
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 7, reserved: 0, damaged: 0 });

      expect(json<OrderBody>(await act(o.id, 'deliver')).status).toBe('delivered');
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 7, reserved: 0, damaged: 0 });

      const returned = json<OrderBody>(
        await act(o.id, 'return', { locationId: 'store-b', condition: 'sellable' }),
      );
      expect(returned.status).toBe('returned');
      expect(returned.lines).toEqual([{ sku: 'SKU-1', qty: 3, returnedQty: 3 }]);
      expect(allocationsOf(returned)).toEqual([['wh-1', 'SKU-1', 3, 'returned']]);
      expect(await stockAt('store-b', 'SKU-1')).toEqual({ onHand: 3, reserved: 0, damaged: 0 });
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 7, reserved: 0, damaged: 0 });

      const detail = json<OrderBody>(await hub.request({ method: 'GET', url: `/v1/orders/${o.id}` }));
      expect(detail.history.map((h) => [h.from, h.to])).toEqual([
        [null, 'pending'],
        ['pending', 'confirmed'],
        ['confirmed', 'processing'],
        ['processing', 'shipped'],
        ['shipped', 'delivered'],
        ['delivered', 'returned'],
      ]);
      const { rows } = await db.query<{ type: string }>(
        "SELECT type FROM events WHERE payload->>'id' = $1 ORDER BY id",
        [o.id],
      );
      expect(rows.map((r) => r.type)).toEqual([
        'order.created',
        'order.confirmed',
        'order.processing',
        'order.shipped',
        'order.delivered',
        'order.returned',
      ]);
    });

    it('restocks a damaged return as damaged, a partial return only its lines', async () => {
      await receive('wh-1', [{ sku: 'SKU-2', qty: 5 }]);
      const o = await placed([
        { sku: 'SKU-1', qty: 2 },
        { sku: 'SKU-2', qty: 2 },
      ]);
      await act(o.id, 'confirm', { payment: { method: 'card', amountMinor: 4000, reference: 'pi_2' } });
      await act(o.id, 'fulfill');
      await act(o.id, 'ship');
      const over = await act(o.id, 'return', {
        locationId: 'wh-1',
        condition: 'damaged',
        lines: [{ sku: 'SKU-1', qty: 3 }],
      });
      expect(over.statusCode).toBe(409);
      expect(over.body).toMatchObject({
        code: 'over_return',
        details: { lines: [{ sku: 'SKU-1', requested: 3, outstanding: 2 }] },
      });
      const res = await act(o.id, 'return', {
        locationId: 'wh-1',
        condition: 'damaged',
        lines: [{ sku: 'SKU-1', qty: 1 }],
      });
      expect(res.statusCode).toBe(200);
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 8, reserved: 0, damaged: 1 });
      expect(await stockAt('wh-1', 'SKU-2')).toEqual({ onHand: 3, reserved: 0, damaged: 0 });
      expect(json<OrderBody>(res).lines).toEqual([
        { sku: 'SKU-1', qty: 2, returnedQty: 1 },
        { sku: 'SKU-2', qty: 2, returnedQty: 0 },
      ]);
    });

    it('releases the hold on cancel from pending, confirmed or processing', async () => {
      const pay = { payment: { method: 'card', amountMinor: 1000, reference: 'pi' } };
      const a = await placed([{ sku: 'SKU-1', qty: 1 }]);
      const b = await placed([{ sku: 'SKU-1', qty: 2 }]);
      const c = await placed([{ sku: 'SKU-1', qty: 3 }]);
      await act(b.id, 'confirm', pay);
      await act(c.id, 'confirm', pay);
      await act(c.id, 'fulfill');
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 10, reserved: 6, damaged: 0 });
      const canceled = json<OrderBody>(await act(a.id, 'cancel', { reason: 'customer changed mind' }));
      expect(canceled).toMatchObject({ status: 'canceled', cancelReason: 'customer changed mind' });
      expect(allocationsOf(canceled)).toEqual([['wh-1', 'SKU-1', 1, 'released']]);
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 10, reserved: 5, damaged: 0 });
      expect(json<OrderBody>(await act(b.id, 'cancel')).cancelReason).toBe('requested');
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 10, reserved: 3, damaged: 0 });
      await act(c.id, 'cancel');
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 10, reserved: 0, damaged: 0 });
    });

    it('refuses invalid transitions with 409 and the statuses allowed next, changing nothing', async () => {
      const o = await placed([{ sku: 'SKU-1', qty: 1 }]);
      const before = await snapshot();
      const ship = await act(o.id, 'ship');
      expect(ship.statusCode).toBe(409);
      expect(ship.body).toMatchObject({
        code: 'invalid_transition',
        details: { status: 'pending', allowed: ['confirmed', 'canceled'] },
      });
      expect((await act(o.id, 'return', { locationId: 'wh-1', condition: 'sellable' })).statusCode).toBe(409);
      expect(await snapshot()).toEqual(before);
      await act(o.id, 'cancel');
      const again = await act(o.id, 'cancel');
      expect(again.body).toMatchObject({ details: { status: 'canceled', allowed: [] } });
      expect((await act('ord_missing', 'cancel')).statusCode).toBe(404);
    });

    it('hands a pickup order over at the hub: the store’s on_hand and reserved drop', async () => {
      await receive('store-b', [{ sku: 'SKU-1', qty: 4 }]);
      const o = await placed([{ sku: 'SKU-1', qty: 2 }], pickupAt('store-b'));
      await act(o.id, 'confirm', { payment: { method: 'card', amountMinor: 2000, reference: 'pi_3' } });
      const ship = await act(o.id, 'ship');
      expect(ship.body).toMatchObject({
        details: { status: 'confirmed', allowed: ['processing', 'delivered', 'canceled'] },
      });
      const delivered = json<OrderBody>(await act(o.id, 'deliver'));
      expect(delivered.status).toBe('delivered');
      expect(allocationsOf(delivered)).toEqual([['store-b', 'SKU-1', 2, 'fulfilled']]);
      expect(await stockAt('store-b', 'SKU-1')).toEqual({ onHand: 2, reserved: 0, damaged: 0 });
      const { rows } = await db.query<{ reason: string }>(
        'SELECT reason FROM movements WHERE reference = $1 ORDER BY id',
        [o.id],
      );
      expect(rows.map((r) => r.reason)).toEqual(['reserve', 'pickup']);
    });

    it('lets a channel change only the orders its own token created', async () => {
      const web = await hub.token('channel');
      const app = await hub.token('channel');
      const res = await order(
        { channel: 'web', customerRef: 'c', lines: [{ sku: 'SKU-1', qty: 1 }], fulfilment: shipping },
        { token: web },
      );
      const id = json<OrderBody>(res).id;
      const theirs = await hub.request({ method: 'POST', url: `/v1/orders/${id}/cancel`, token: app });
      expect(theirs.statusCode).toBe(403);
      expect((await hub.request({ method: 'GET', url: `/v1/orders/${id}`, token: app })).statusCode).toBe(
        403,
      );
      const mine = await hub.request({ method: 'POST', url: `/v1/orders/${id}/cancel`, token: web });
      expect(mine.statusCode).toBe(200);
    });
  });

  describe('reservation TTL', () => {
    beforeEach(() => receive('wh-1', [{ sku: 'SKU-1', qty: 10 }]));

    it('expires an unpaid order after 900 s by default, once', async () => {
      const o = await placed([{ sku: 'SKU-1', qty: 4 }]);
      expect(Date.parse(o.expiresAt ?? '') - Date.parse(o.createdAt)).toBe(900_000);
      const paid = await placed([{ sku: 'SKU-1', qty: 1 }]);
      await act(paid.id, 'confirm', { payment: { method: 'card', amountMinor: 1000, reference: 'pi' } });
      expect(await hub.app.jobs.runNow('reservation-expiry')).toBe(0);

      await db.query("UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = $1", [o.id]);
      const late = await act(o.id, 'confirm', {
        payment: { method: 'card', amountMinor: 1000, reference: 'pi' },
      });
      expect(late.statusCode).toBe(409);
      expect(late.body).toMatchObject({ code: 'order_expired' });

      expect(await hub.app.jobs.runNow('reservation-expiry')).toBe(1);
      expect(await hub.app.jobs.runNow('reservation-expiry')).toBe(0);
      const expired = json<OrderBody>(await hub.request({ method: 'GET', url: `/v1/orders/${o.id}` }));
      expect(expired).toMatchObject({ status: 'canceled', cancelReason: 'expired', expiresAt: null });
      expect(allocationsOf(expired)).toEqual([['wh-1', 'SKU-1', 4, 'released']]);
      expect(await stockAt('wh-1', 'SKU-1')).toEqual({ onHand: 10, reserved: 1, damaged: 0 });
      const { rows } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM events WHERE type = 'order.canceled' AND payload->'change'->>'reason' = 'expired'",
      );
      expect(rows[0]?.n).toBe(1);
    });
  });

  describe('listing', () => {
    it('filters by status, channel, location and creation time, page by page', async () => {
      await receive('wh-1', [{ sku: 'SKU-1', qty: 10 }]);
      await receive('store-b', [{ sku: 'SKU-2', qty: 10 }]);
      const web1 = await placed([{ sku: 'SKU-1', qty: 1 }]);
      const app1 = json<OrderBody>(
        await order({
          channel: 'app',
          customerRef: 'c',
          lines: [{ sku: 'SKU-2', qty: 1 }],
          fulfilment: shipping,
        }),
      );
      const web2 = await placed([{ sku: 'SKU-1', qty: 1 }]);
      await act(web2.id, 'cancel');
      await db.query("UPDATE orders SET created_at = '2024-01-01T00:00:00Z' WHERE id = $1", [web1.id]);

      const list = async (qs: string, token?: string) => {
        const res = await hub.request({ method: 'GET', url: `/v1/orders?${qs}`, token });
        expect(res.statusCode).toBe(200);
        return json<{ items: OrderBody[]; nextCursor: string | null }>(res);
      };
      const ids = async (qs: string, token?: string) => (await list(qs, token)).items.map((o) => o.id);

      expect(await ids('')).toEqual([web2.id, app1.id, web1.id]);
      expect(await ids('order=asc')).toEqual([web1.id, app1.id, web2.id]);
      expect(await ids('status=canceled')).toEqual([web2.id]);
      expect(await ids('channel=app')).toEqual([app1.id]);
      expect(await ids('locationId=store-b')).toEqual([app1.id]);
      expect(await ids('to=2024-06-01T00:00:00Z')).toEqual([web1.id]);
      expect(await ids('from=2024-06-01T00:00:00Z')).toEqual([web2.id, app1.id]);

      const first = await list('limit=2');
      expect(first.items.map((o) => o.id)).toEqual([web2.id, app1.id]);
      expect(first.items[0]?.allocations).toEqual([
        { locationId: 'wh-1', sku: 'SKU-1', qty: 1, status: 'released' },
      ]);
      const second = await list(`limit=2&cursor=${first.nextCursor}`);
      expect(second).toEqual({ items: [expect.objectContaining({ id: web1.id })], nextCursor: null });
      expect((await hub.request({ method: 'GET', url: '/v1/orders?cursor=nope' })).statusCode).toBe(400);
      expect((await hub.request({ method: 'GET', url: '/v1/orders?status=lost' })).statusCode).toBe(400);

      expect(await ids('', await hub.token('hq'))).toHaveLength(3);
      expect(await ids('', await hub.token('store_manager', 'store-b'))).toEqual([app1.id]);
      expect(await ids('', await hub.token('channel'))).toEqual([]);
      const storeA = await hub.token('store_manager', 'store-a');
      expect(
        (await hub.request({ method: 'GET', url: `/v1/orders/${app1.id}`, token: storeA })).statusCode,
      ).toBe(403);
      const storeB = await hub.token('store_manager', 'store-b');
      expect(
        (await hub.request({ method: 'GET', url: `/v1/orders/${app1.id}`, token: storeB })).statusCode,
      ).toBe(200);
      expect((await hub.request({ method: 'GET', url: '/v1/orders', token: null })).statusCode).toBe(401);
    });
  });
});
