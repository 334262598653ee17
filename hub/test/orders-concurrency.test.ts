import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { testDbKind } from './helpers/test-db.js';

describe(`orders racing for the last units on ${testDbKind()}`, () => {
  let hub: TestHub;
  let db: Database;
  beforeEach(async () => {
    hub = await buildTestHub();
    db = hub.database.db;
    await seedCatalog(db, {
      locations: [{ id: 'wh-1', kind: 'warehouse' }],
      products: [{ sku: 'SKU-1' }],
      stock: [{ locationId: 'wh-1', sku: 'SKU-1', onHand: 50 }],
    });
  });
  afterEach(async () => {
    expect(await ledgerMismatches(db)).toEqual([]);
    await hub.close();
  });

  const payload = {
    channel: 'web',
    customerRef: 'c',
    lines: [{ sku: 'SKU-1', qty: 1 }],
    fulfilment: {
      type: 'shipping',
      address: { name: 'A', line1: '1 Main St', city: 'Lyon', postalCode: '69001', country: 'FR' },
    },
  };

  it('200 concurrent orders of 1 unit for 50 available: exactly 50 reserved, 150 refused', async () => {
    const token = await hub.token('channel');
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        hub.request({
          method: 'POST',
          url: '/v1/orders',
          payload,
          token,
          headers: { 'idempotency-key': `race-${i}` },
        }),
      ),
    );
    const statuses = responses.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 201)).toHaveLength(50);
    expect(statuses.filter((s) => s === 409)).toHaveLength(150);
    const { rows } = await db.query<{ on_hand: number; reserved: number; orders: number; held: number }>(
      `SELECT on_hand, reserved, (SELECT count(*)::int FROM orders) AS orders,
              (SELECT sum(qty)::int FROM allocations WHERE status = 'held') AS held
       FROM stock WHERE location_id = 'wh-1' AND sku = 'SKU-1'`,
    );
    expect(rows[0]).toEqual({ on_hand: 50, reserved: 50, orders: 50, held: 50 });
    // No movement ever took reserved past on_hand.
    const { rows: peak } = await db.query<{ max: number }>(
      "SELECT max(reserved_after)::int AS max FROM (SELECT sum(d_reserved) OVER (ORDER BY version_after) AS reserved_after FROM movements WHERE location_id = 'wh-1' AND sku = 'SKU-1') m",
    );
    expect(peak[0]?.max).toBe(50);
  });

  it('20 concurrent retries with one key make one order', async () => {
    const token = await hub.token('channel');
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        hub.request({
          method: 'POST',
          url: '/v1/orders',
          payload,
          token,
          headers: { 'idempotency-key': 'one' },
        }),
      ),
    );
    expect(new Set(responses.map((r) => r.statusCode))).toEqual(new Set([201]));
    expect(new Set(responses.map((r) => (r.body as { id: string }).id)).size).toBe(1);
    const { rows } = await db.query<{ reserved: number }>('SELECT reserved FROM stock');
    expect(rows).toEqual([{ reserved: 1 }]);
  });
});
