import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { testDbKind } from './helpers/test-db.js';

interface HoldBody {
  reference: string;
  orderId: string;
  locationId: string;
  lines: Array<{ sku: string; held: number }>;
  expiresAt: string | null;
}

describe(`reserve and release for channels running their own orders on ${testDbKind()}`, () => {
  let hub: TestHub;
  let db: Database;
  let channel: string;
  let keys = 0;
  beforeEach(async () => {
    hub = await buildTestHub();
    db = hub.database.db;
    await seedCatalog(db, {
      locations: [{ id: 'wh-1', kind: 'warehouse', safetyStock: 1 }, { id: 'store-b' }],
      products: [{ sku: 'SKU-1' }, { sku: 'SKU-2' }],
      stock: [
        { locationId: 'wh-1', sku: 'SKU-1', onHand: 10 },
        { locationId: 'wh-1', sku: 'SKU-2', onHand: 4 },
      ],
    });
    channel = await hub.token('channel');
  });
  afterEach(async () => {
    expect(await ledgerMismatches(db)).toEqual([]);
    await hub.close();
  });

  async function reserved(locationId: string, sku: string) {
    const { rows } = await db.query<{ reserved: number }>(
      'SELECT reserved FROM stock WHERE location_id = $1 AND sku = $2',
      [locationId, sku],
    );
    return rows[0]?.reserved ?? 0;
  }

  const call = (
    action: 'reserve' | 'release',
    payload: object,
    opts: { key?: string; token?: string | null; locationId?: string } = {},
  ) =>
    hub.request({
      method: 'POST',
      url: `/v1/locations/${opts.locationId ?? 'wh-1'}/inventory/${action}`,
      payload,
      token: opts.token === undefined ? channel : opts.token,
      headers: { 'idempotency-key': opts.key ?? `k-${++keys}` },
    });

  it('holds, replays a retry without holding twice, then releases what the reference holds', async () => {
    const body = { reference: 'SHOP-1001', lines: [{ sku: 'SKU-1', qty: 3 }] };
    const first = await call('reserve', body, { key: 'r-1' });
    expect(first.statusCode).toBe(200);
    const hold = first.body as HoldBody;
    expect(hold).toMatchObject({
      reference: 'SHOP-1001',
      locationId: 'wh-1',
      lines: [{ sku: 'SKU-1', held: 3 }],
      expiresAt: null,
    });
    expect(hold.orderId).toMatch(/^ext_/);
    expect((await call('reserve', body, { key: 'r-1' })).body).toEqual(first.body);
    expect(await reserved('wh-1', 'SKU-1')).toBe(3);
    const reused = await call('reserve', { ...body, lines: [{ sku: 'SKU-1', qty: 4 }] }, { key: 'r-1' });
    expect(reused.statusCode).toBe(422);

    const more = await call('reserve', { reference: 'SHOP-1001', lines: [{ sku: 'SKU-2', qty: 1 }] });
    expect((more.body as HoldBody).lines).toEqual([
      { sku: 'SKU-1', held: 3 },
      { sku: 'SKU-2', held: 1 },
    ]);

    const released = await call('release', { reference: 'SHOP-1001', lines: [{ sku: 'SKU-1', qty: 2 }] });
    expect(released.statusCode).toBe(200);
    expect((released.body as HoldBody).lines).toEqual([
      { sku: 'SKU-1', held: 1 },
      { sku: 'SKU-2', held: 1 },
    ]);
    expect(await reserved('wh-1', 'SKU-1')).toBe(1);

    const tooMuch = await call('release', { reference: 'SHOP-1001', lines: [{ sku: 'SKU-1', qty: 2 }] });
    expect(tooMuch.statusCode).toBe(409);
    expect(tooMuch.body).toMatchObject({
      code: 'insufficient_hold',
      details: { lines: [{ sku: 'SKU-1', requested: 2, held: 1 }] },
    });
    expect(await reserved('wh-1', 'SKU-1')).toBe(1);

    await call('release', {
      reference: 'SHOP-1001',
      lines: [
        { sku: 'SKU-1', qty: 1 },
        { sku: 'SKU-2', qty: 1 },
      ],
    });
    expect(await reserved('wh-1', 'SKU-1')).toBe(0);
    expect(await reserved('wh-1', 'SKU-2')).toBe(0);
    const { rows } = await db.query<{ status: string; cancel_reason: string }>(
      'SELECT status, cancel_reason FROM orders WHERE id = $1',
      [hold.orderId],
    );
    expect(rows[0]).toEqual({ status: 'canceled', cancel_reason: 'released' });
  });

  it('refuses a hold beyond what is available above safety stock, holding nothing', async () => {
    const res = await call('reserve', {
      reference: 'SHOP-2',
      lines: [
        { sku: 'SKU-1', qty: 2 },
        { sku: 'SKU-2', qty: 4 },
      ],
    });
    expect(res.statusCode).toBe(409);
    expect(res.body).toMatchObject({
      code: 'insufficient_stock',
      details: { lines: [{ sku: 'SKU-2', requested: 4, available: 3 }] },
    });
    expect(await reserved('wh-1', 'SKU-1')).toBe(0);
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM allocations');
    expect(rows[0]?.n).toBe(0);
  });

  it('keeps references apart per token and answers bad requests clearly', async () => {
    const other = await hub.token('channel');
    await call('reserve', { reference: 'SAME', lines: [{ sku: 'SKU-1', qty: 1 }] });
    const theirs = await call(
      'release',
      { reference: 'SAME', lines: [{ sku: 'SKU-1', qty: 1 }] },
      { token: other },
    );
    expect(theirs.statusCode).toBe(404);
    expect(await reserved('wh-1', 'SKU-1')).toBe(1);

    const payload = { reference: 'X', lines: [{ sku: 'SKU-1', qty: 1 }] };
    expect((await call('reserve', payload, { locationId: 'nowhere' })).statusCode).toBe(404);
    expect((await call('reserve', { ...payload, lines: [{ sku: 'SKU-1', qty: 0 }] })).statusCode).toBe(400);
    const unknown = await call('reserve', { ...payload, lines: [{ sku: 'NOPE', qty: 1 }] });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toMatchObject({ message: expect.stringMatching(/^body\.lines\.0\.sku/) });
    expect((await call('reserve', payload, { token: null })).statusCode).toBe(401);
    expect(
      (await call('reserve', payload, { token: await hub.token('store_manager', 'wh-1') })).statusCode,
    ).toBe(403);
    const noKey = await hub.request({
      method: 'POST',
      url: '/v1/locations/wh-1/inventory/reserve',
      payload,
      token: channel,
    });
    expect(noKey.statusCode).toBe(400);
    expect(await reserved('wh-1', 'SKU-1')).toBe(1);
  });

  it('expires a hold with ttlSeconds like an unpaid order', async () => {
    const res = await call('reserve', {
      reference: 'TTL',
      lines: [{ sku: 'SKU-1', qty: 2 }],
      ttlSeconds: 60,
    });
    const hold = res.body as HoldBody;
    expect(hold.expiresAt).not.toBeNull();
    await call('reserve', { reference: 'FOREVER', lines: [{ sku: 'SKU-1', qty: 1 }] });
    await db.query("UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = $1", [
      hold.orderId,
    ]);
    expect(await hub.app.jobs.runNow('reservation-expiry')).toBe(1);
    expect(await reserved('wh-1', 'SKU-1')).toBe(1);
    const list = await hub.request({ method: 'GET', url: '/v1/orders?kind=external', token: channel });
    expect(
      (list.body as { items: Array<{ externalRef: string; status: string }> }).items.map((o) => [
        o.externalRef,
        o.status,
      ]),
    ).toEqual([
      ['FOREVER', 'pending'],
      ['TTL', 'canceled'],
    ]);
  });
});
