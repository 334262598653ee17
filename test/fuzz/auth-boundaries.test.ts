import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestHub, type TestHub } from '../../hub/test/helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from '../../hub/test/helpers/fixtures.js';
import { authFor, connectRaw, enrolDevice, push, type RawTill } from '../../hub/test/helpers/sync-client.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { tillOps } from '../../hub/test/helpers/till-ops.js';
import { writeFootprint } from './hostile.js';
import { type DocumentedRoute, documentedRoutes, fillPath, isErrorShape } from './openapi-routes.js';

/*
 * Boundaries not covered elsewhere (hub/test covers the stock write routes by role, a device's
 * wrong_location, and /hq and cashier UI security headers): every documented route that names a
 * location, driven from the OpenAPI doc; another device's ops replayed; the rate limit's answer.
 */

/** Valid bodies, so a refusal is the authorisation's and not the schema's. */
const BODIES: Record<string, unknown> = {
  'PATCH /v1/locations/{locationId}': { name: 'Taken over' },
  'PATCH /v1/locations/{locationId}/inventory/{sku}': { onHand: 0 },
  'POST /v1/locations/{locationId}/receipts': { lines: [{ sku: 'LIP-1', qty: 1 }] },
  'POST /v1/locations/{locationId}/adjustments': { reason: 'shrink', lines: [{ sku: 'LIP-1', qty: 1 }] },
  'POST /v1/locations/{locationId}/counts': { lines: [{ sku: 'LIP-1', counted: 0 }] },
  'POST /v1/locations/{locationId}/inventory/reserve': {
    reference: 'o-1',
    lines: [{ sku: 'LIP-1', qty: 1 }],
  },
  'POST /v1/locations/{locationId}/inventory/release': {
    reference: 'o-1',
    lines: [{ sku: 'LIP-1', qty: 1 }],
  },
};

/** Stock writes a sales channel may never make (it reserves and releases only). */
const STOCK_WRITES = [
  'PATCH /v1/locations/{locationId}/inventory/{sku}',
  'POST /v1/locations/{locationId}/receipts',
  'POST /v1/locations/{locationId}/adjustments',
  'POST /v1/locations/{locationId}/counts',
];

describe(`authorisation boundaries on ${testDbKind()}`, () => {
  let hub: TestHub;
  let routes: DocumentedRoute[];
  const sockets: RawTill[] = [];

  beforeAll(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'store-a' }, { id: 'store-b' }],
      products: [{ sku: 'LIP-1' }],
      stock: [
        { locationId: 'store-a', sku: 'LIP-1', onHand: 50 },
        { locationId: 'store-b', sku: 'LIP-1', onHand: 50 },
      ],
    });
    routes = await documentedRoutes(hub);
  });
  afterAll(async () => {
    for (const s of sockets.splice(0)) s.close();
    await hub?.close();
  });

  async function expectRefused(route: DocumentedRoute, token: string, url: string, body: unknown) {
    const before = await writeFootprint(hub.database.db);
    const res = await hub.request({
      method: route.method,
      url,
      token,
      headers: { 'if-match': '1', 'idempotency-key': `k-${url}` },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    const what = `${route.method} ${url} → ${res.statusCode} ${res.text.slice(0, 200)}`;
    expect(res.statusCode, what).toBe(403);
    expect(isErrorShape(res.body), what).toBe(true);
    expect(await writeFootprint(hub.database.db), what).toBe(before);
  }

  it("refuses a store manager another store's data on every route naming a location", async () => {
    const manager = await hub.token('store_manager', 'store-a');
    const byPath = routes.filter((r) => r.pathParams.includes('locationId') && r.method !== 'DELETE');
    const byQuery = routes.filter((r) => r.method === 'GET' && r.queryParams.includes('locationId'));
    expect(byPath.length).toBeGreaterThan(5);
    expect(byQuery.length).toBeGreaterThan(3);
    for (const route of byPath) {
      const key = `${route.method} ${route.path}`;
      const body = route.method === 'GET' ? undefined : (BODIES[key] ?? {});
      // GET /v1/locations/{id} is the catalogue entry, readable by every role; its stock is not.
      if (key === 'GET /v1/locations/{locationId}') continue;
      await expectRefused(route, manager, fillPath(route, { locationId: 'store-b', sku: 'LIP-1' }), body);
    }
    // Something at store-b for the brand-wide lists to leak: an order to collect there.
    const order = await hub.request({
      method: 'POST',
      url: '/v1/orders',
      headers: { 'idempotency-key': 'pickup-b' },
      payload: {
        channel: 'web',
        customerRef: 'c-1',
        lines: [{ sku: 'LIP-1', qty: 1 }],
        fulfilment: { type: 'pickup', pickupLocationId: 'store-b' },
      },
    });
    expect(order.statusCode).toBe(201);
    expect(order.text).toContain('"store-b"');
    // A list filtered by another store is refused.
    for (const route of byQuery) {
      const url = `${fillPath(route, {})}?locationId=store-b`;
      const res = await hub.request({ method: 'GET', url, token: manager });
      const what = `${url} → ${res.statusCode} ${res.text.slice(0, 200)}`;
      expect([res.statusCode, isErrorShape(res.body)], what).toEqual([403, true]);
    }
    // Its own store answers (the refusals above were about the location, not the route).
    const own = await hub.request({ method: 'GET', url: '/v1/locations/store-a/inventory', token: manager });
    expect(own.statusCode).toBe(200);
  });

  it('refuses a sales channel every stock write at any location', async () => {
    const channel = await hub.token('channel');
    for (const key of STOCK_WRITES) {
      const route = routes.find((r) => `${r.method} ${r.path}` === key);
      expect(route, key).toBeDefined();
      await expectRefused(
        route!,
        channel,
        fillPath(route!, { locationId: 'store-a', sku: 'LIP-1' }),
        BODIES[key],
      );
    }
  });

  it("never applies another device's ops replayed by a second till, not even at its own store", async () => {
    const a = await enrolDevice(hub, 'store-a');
    const b = await enrolDevice(hub, 'store-a');
    const c = await enrolDevice(hub, 'store-b');
    const base = await hub.listen();
    const open = async (token: string) => {
      const { socket } = await connectRaw(base, authFor(token));
      sockets.push(socket);
      return socket;
    };
    const [sa, sb, sc] = [await open(a.token), await open(b.token), await open(c.token)];
    const sale = tillOps(a.id, 'store-a').sale('LIP-1', 2);
    const first = await push(sa, [sale]);
    expect(first.ok && first.value.results[0]).toMatchObject({ status: 'applied' });

    // The same op, byte for byte, from a till of the same store and from one of another store.
    for (const [socket, code] of [
      [sb, 'op_id_reused'],
      [sc, 'op_id_reused'],
    ] as const) {
      const replay = await push(socket, [sale]);
      expect(replay.ok && replay.value.results[0]).toMatchObject({ status: 'rejected', code });
    }
    // Its own ops stamped with another store's location: wrong_location, op id fresh.
    const foreign = tillOps(c.id, 'store-a').sale('LIP-1', 1, { seq: 2 });
    const wrong = await push(sc, [foreign]);
    expect(wrong.ok && wrong.value.results[0]).toMatchObject({ status: 'rejected', code: 'wrong_location' });

    const { rows } = await hub.database.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM movements WHERE op_id = ANY($1::uuid[])',
      [[sale.opId, foreign.opId]],
    );
    expect(rows[0]!.n).toBe(1);
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
  });
});

describe(`rate limit on ${testDbKind()}`, () => {
  it('answers 429 in the error shape once a client is over its limit', async () => {
    const hub = await buildTestHub({ rateLimitPerMinute: 5 });
    try {
      const statuses: number[] = [];
      let limited: unknown;
      for (let i = 0; i < 8; i++) {
        const res = await hub.request({ method: 'GET', url: '/v1/products' });
        statuses.push(res.statusCode);
        if (res.statusCode === 429) limited = res.body;
      }
      expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      expect(statuses.slice(5)).toEqual([429, 429, 429]);
      expect(limited).toMatchObject({ code: 'rate_limited' });
      expect(isErrorShape(limited)).toBe(true);
    } finally {
      await hub.close();
    }
  });
});
