import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { testDbKind } from './helpers/test-db.js';

describe(`reservation expiry with two hub instances on ${testDbKind()}`, () => {
  let hub: TestHub;
  beforeEach(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'wh-1', kind: 'warehouse' }],
      products: [{ sku: 'SKU-1' }],
      stock: [{ locationId: 'wh-1', sku: 'SKU-1', onHand: 20 }],
    });
  });
  afterEach(() => hub.close());

  it('releases each expired order exactly once when both instances run the job at the same moment', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await hub.request({
        method: 'POST',
        url: '/v1/orders',
        headers: { 'idempotency-key': `exp-${i}` },
        payload: {
          channel: 'web',
          customerRef: `c-${i}`,
          lines: [{ sku: 'SKU-1', qty: 2 }],
          fulfilment: {
            type: 'shipping',
            address: { name: 'N', line1: 'L', city: 'C', postalCode: 'P', country: 'FR' },
          },
        },
      });
      expect(res.statusCode).toBe(201);
      ids.push((res.body as { id: string }).id);
    }
    await hub.database.db.query("UPDATE orders SET expires_at = now() - interval '1 second'");

    // A second hub instance on the same database (on Postgres: its own requests through the pool).
    const second = await buildApp({
      config: { logLevel: 'silent', bodyLimit: 1_048_576, rateLimitPerMinute: 1000 },
      db: hub.database.db,
      jobs: false,
    });
    await second.ready();
    try {
      const released = await Promise.all([
        hub.app.jobs.runNow('reservation-expiry'),
        second.jobs.runNow('reservation-expiry'),
      ]);
      expect(released[0] + released[1]).toBe(6);
    } finally {
      await second.close();
    }

    const { rows } = await hub.database.db.query<{ reserved: number }>(
      "SELECT reserved FROM stock WHERE location_id = 'wh-1' AND sku = 'SKU-1'",
    );
    expect(rows).toEqual([{ reserved: 0 }]);
    const releases = await hub.database.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM movements WHERE reason = 'release'",
    );
    expect(releases.rows).toEqual([{ n: 6 }]);
    const events = await hub.database.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM events WHERE type = 'order.canceled'",
    );
    expect(events.rows).toEqual([{ n: 6 }]);
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
  });
});
