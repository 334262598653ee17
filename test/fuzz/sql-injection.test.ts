import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestHub, type TestHub } from '../../hub/test/helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from '../../hub/test/helpers/fixtures.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { INJECTIONS, tablesIntact } from './hostile.js';

/*
 * Injection payloads in every free-text field of valid requests, and in the query filters: each is
 * stored and returned verbatim, or refused with 400 where the field's format excludes it (NUL,
 * which Postgres cannot store, is a 400 `invalid_text`: rest-fuzz.test.ts).
 */

type Json = Record<string, unknown>;
const json = (res: { body: unknown }) => res.body as Json;
const items = (res: { body: unknown }) => (res.body as { items: Json[] }).items;

describe(`SQL injection payloads on ${testDbKind()}`, () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'store-a' }, { id: 'wh-1', kind: 'warehouse' }],
      products: [{ sku: 'LIP-1' }],
      stock: [{ locationId: 'wh-1', sku: 'LIP-1', onHand: 1000 }],
    });
  });
  afterAll(async () => {
    await hub?.close();
  });

  it.each(INJECTIONS.map((p, i) => [p, i] as const))(
    'keeps %j verbatim in every text field',
    async (p, i) => {
      const sku = `INJ-${i}`;
      const product = await hub.request({
        method: 'POST',
        url: '/v1/products',
        payload: { sku, name: p, category: p, priceMinor: 100 },
      });
      expect(product.statusCode, JSON.stringify(product.body)).toBe(201);
      expect(json(await hub.request({ method: 'GET', url: `/v1/products/${sku}` }))).toMatchObject({
        name: p,
        category: p,
      });
      const found = await hub.request({ method: 'GET', url: `/v1/products?q=${encodeURIComponent(p)}` });
      expect(found.statusCode).toBe(200);
      expect(items(found).map((x) => x.sku)).toContain(sku);

      const renamed = await hub.request({
        method: 'PATCH',
        url: '/v1/locations/store-a',
        payload: { name: p },
      });
      expect(renamed.statusCode).toBe(200);
      expect(json(await hub.request({ method: 'GET', url: '/v1/locations/store-a' })).name).toBe(p);

      const receipt = await hub.request({
        method: 'POST',
        url: '/v1/locations/wh-1/receipts',
        payload: { reference: p, lines: [{ sku: 'LIP-1', qty: 1 }] },
      });
      expect(receipt.statusCode).toBe(201);
      const adjustment = await hub.request({
        method: 'POST',
        url: '/v1/locations/wh-1/adjustments',
        payload: { reason: 'shrink', note: p, lines: [{ sku: 'LIP-1', qty: 1 }] },
      });
      expect(adjustment.statusCode).toBe(201);
      for (const write of [receipt, adjustment]) {
        const { rows } = await hub.database.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM movements WHERE op_id = $1',
          [json(write).opId],
        );
        expect(rows[0]!.n).toBe(1);
      }
      const refs = await hub.database.db.query<{ reference: string | null }>(
        'SELECT reference FROM movements WHERE op_id = $1',
        [json(receipt).opId],
      );
      expect(refs.rows[0]!.reference).toBe(p);

      const order = await hub.request({
        method: 'POST',
        url: '/v1/orders',
        headers: { 'idempotency-key': `${p}-${i}` },
        payload: {
          channel: p.slice(0, 32),
          customerRef: p,
          lines: [{ sku: 'LIP-1', qty: 1 }],
          fulfilment: {
            type: 'shipping',
            address: { name: p, line1: p, city: p, postalCode: p.slice(0, 20), country: 'FR' },
          },
        },
      });
      expect(order.statusCode, JSON.stringify(order.body)).toBe(201);
      const orderId = String(json(order).id ?? json(order).orderId);
      expect(json(await hub.request({ method: 'GET', url: `/v1/orders/${orderId}` }))).toMatchObject({
        customerRef: p,
      });
      const byChannel = await hub.request({
        method: 'GET',
        url: `/v1/orders?channel=${encodeURIComponent(p.slice(0, 32))}`,
      });
      expect(byChannel.statusCode).toBe(200);
      expect(items(byChannel).map((o) => o.customerRef)).toContain(p);

      // Filters: free text matches nothing; a field with a format refuses the payload, naming it.
      const prefix = await hub.request({
        method: 'GET',
        url: `/v1/locations/wh-1/inventory?skuPrefix=${encodeURIComponent(p)}`,
      });
      expect(prefix.statusCode).toBe(200);
      expect(items(prefix)).toEqual([]);
      for (const url of [
        `/v1/locations/wh-1/inventory?sku=${encodeURIComponent(p)}`,
        `/v1/movements?sku=${encodeURIComponent(p)}`,
        `/v1/products/${encodeURIComponent(p)}`,
      ]) {
        const res = await hub.request({ method: 'GET', url });
        expect(res.statusCode, url).toBe(400);
        expect(json(res).code).toBe('invalid_request');
      }

      expect(await tablesIntact(hub.database.db)).toBe(true);
    },
  );

  it('leaves the ledger consistent after all of them', async () => {
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
    const { rows } = await hub.database.db.query<{ on_hand: number }>(
      `SELECT on_hand FROM stock WHERE location_id = 'wh-1' AND sku = 'LIP-1'`,
    );
    // Each payload received one unit and shrank one: back to the seeded 1000.
    expect(rows[0]!.on_hand).toBe(1000);
  });
});
