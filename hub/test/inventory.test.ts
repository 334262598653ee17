import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { enrolDevice } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

interface Item {
  locationId: string;
  sku: string;
  onHand: number;
  reserved: number;
  available: number;
  incoming: number;
  damaged: number;
  reorderPoint: number;
  version: number;
  updatedAt: string | null;
}
interface Page {
  items: Item[];
  nextCursor: string | null;
}

const json = <T>(res: { body: unknown }): T => res.body as T;

describe(`inventory reads and If-Match settings on ${testDbKind()}`, () => {
  let hub: TestHub;
  let db: Database;
  beforeEach(async () => {
    hub = await buildTestHub();
    db = hub.database.db;
    await seedCatalog(db, {
      locations: [{ id: 'store-a' }, { id: 'store-b' }, { id: 'warehouse', kind: 'warehouse' }],
      products: [
        { sku: 'LIP-001' },
        { sku: 'LIP-002' },
        { sku: 'LIP-003' },
        { sku: 'MASC-001' },
        { sku: 'SOAP-001' },
      ],
      stock: [
        { locationId: 'store-a', sku: 'LIP-001', onHand: 12 },
        { locationId: 'store-a', sku: 'LIP-002', onHand: 3 },
        { locationId: 'store-a', sku: 'LIP-003', onHand: 8 },
        { locationId: 'store-a', sku: 'MASC-001', onHand: 5 },
        { locationId: 'store-b', sku: 'LIP-001', onHand: 4 },
        { locationId: 'warehouse', sku: 'LIP-001', onHand: 100 },
      ],
    });
  });
  afterEach(async () => {
    expect(await ledgerMismatches(db)).toEqual([]);
    await hub.close();
  });

  async function movementCount(): Promise<number> {
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM movements');
    return rows[0]?.n ?? 0;
  }

  const patch = (url: string, payload: unknown, ifMatch?: string, token?: string | null) =>
    hub.request({
      method: 'PATCH',
      url,
      payload: payload as Record<string, unknown>,
      headers: ifMatch === undefined ? {} : { 'if-match': ifMatch },
      token,
    });

  const skus = (res: { body: unknown }) => json<Page>(res).items.map((i) => i.sku);

  describe('GET /v1/locations/{locationId}/inventory', () => {
    it("lists a location's rows by SKU with available computed", async () => {
      const res = await hub.request({ method: 'GET', url: '/v1/locations/store-a/inventory' });
      expect(res.statusCode).toBe(200);
      const page = json<Page>(res);
      expect(page.nextCursor).toBeNull();
      expect(page.items.map((i) => [i.sku, i.onHand, i.available, i.version])).toEqual([
        ['LIP-001', 12, 12, 1],
        ['LIP-002', 3, 3, 1],
        ['LIP-003', 8, 8, 1],
        ['MASC-001', 5, 5, 1],
      ]);
      expect(page.items[0]).toEqual({
        locationId: 'store-a',
        sku: 'LIP-001',
        onHand: 12,
        reserved: 0,
        available: 12,
        incoming: 0,
        damaged: 0,
        reorderPoint: 0,
        version: 1,
        updatedAt: expect.any(String),
      });
    });

    it('filters by exact SKU and by SKU prefix', async () => {
      const exact = await hub.request({ method: 'GET', url: '/v1/locations/store-a/inventory?sku=LIP-002' });
      expect(skus(exact)).toEqual(['LIP-002']);
      const prefix = await hub.request({
        method: 'GET',
        url: '/v1/locations/store-a/inventory?skuPrefix=LIP-',
      });
      expect(skus(prefix)).toEqual(['LIP-001', 'LIP-002', 'LIP-003']);
      const none = await hub.request({
        method: 'GET',
        url: '/v1/locations/store-a/inventory?skuPrefix=SOAP',
      });
      expect(skus(none)).toEqual([]);
    });

    it('lists rows at or below their reorder point (available = onHand - reserved), ignoring unset ones', async () => {
      // LIP-001: 12 on hand, reorder at 12 → at the point. LIP-002: 3 on hand, reorder at 2 → above.
      // LIP-003: 8 on hand, reorder at 10 → below. MASC-001: no reorder point → never listed.
      await patch('/v1/locations/store-a/inventory/LIP-001', { reorderPoint: 12 }, '"1"');
      await patch('/v1/locations/store-a/inventory/LIP-002', { reorderPoint: 2 }, '"1"');
      await patch('/v1/locations/store-a/inventory/LIP-003', { reorderPoint: 10 }, '"1"');
      const res = await hub.request({
        method: 'GET',
        url: '/v1/locations/store-a/inventory?belowReorderPoint=true',
      });
      expect(json<Page>(res).items.map((i) => [i.sku, i.available, i.reorderPoint])).toEqual([
        ['LIP-001', 12, 12],
        ['LIP-003', 8, 10],
      ]);
      const all = await hub.request({
        method: 'GET',
        url: '/v1/locations/store-a/inventory?belowReorderPoint=false',
      });
      expect(skus(all)).toHaveLength(4);
    });

    it('filters by change time', async () => {
      const before = new Date(Date.now() - 1000).toISOString();
      await new Promise((r) => setTimeout(r, 20));
      const since = new Date().toISOString();
      await new Promise((r) => setTimeout(r, 20));
      await patch('/v1/locations/store-a/inventory/LIP-003', { onHand: 7 }, '1');
      const changed = await hub.request({
        method: 'GET',
        url: `/v1/locations/store-a/inventory?changedSince=${encodeURIComponent(since)}`,
      });
      expect(skus(changed)).toEqual(['LIP-003']);
      const older = await hub.request({
        method: 'GET',
        url: `/v1/locations/store-a/inventory?changedSince=${encodeURIComponent(before)}`,
      });
      expect(skus(older)).toEqual(['LIP-001', 'LIP-002', 'LIP-003', 'MASC-001']);
    });

    it('pages by SKU with a cursor until nextCursor is null', async () => {
      const first = await hub.request({ method: 'GET', url: '/v1/locations/store-a/inventory?limit=3' });
      expect(skus(first)).toEqual(['LIP-001', 'LIP-002', 'LIP-003']);
      const cursor = json<Page>(first).nextCursor;
      expect(cursor).toEqual(expect.any(String));
      const second = await hub.request({
        method: 'GET',
        url: `/v1/locations/store-a/inventory?limit=3&cursor=${cursor}`,
      });
      expect(skus(second)).toEqual(['MASC-001']);
      expect(json<Page>(second).nextCursor).toBeNull();

      const filtered = await hub.request({
        method: 'GET',
        url: '/v1/locations/store-a/inventory?limit=1&skuPrefix=LIP',
      });
      const next = await hub.request({
        method: 'GET',
        url: `/v1/locations/store-a/inventory?limit=1&skuPrefix=LIP&cursor=${json<Page>(filtered).nextCursor}`,
      });
      expect([...skus(filtered), ...skus(next)]).toEqual(['LIP-001', 'LIP-002']);
    });

    it('answers 404 for an unknown location and 400 naming a bad query field', async () => {
      const missing = await hub.request({ method: 'GET', url: '/v1/locations/nowhere/inventory' });
      expect(missing.statusCode).toBe(404);
      expect(missing.body).toMatchObject({ code: 'not_found', details: { location: 'nowhere' } });

      for (const [query, field] of [
        ['limit=0', 'querystring.limit'],
        ['cursor=garbage', 'querystring.cursor'],
        ['belowReorderPoint=yes', 'querystring.belowReorderPoint'],
        ['changedSince=yesterday', 'querystring.changedSince'],
        ['sku=bad%20sku', 'querystring.sku'],
        ['colour=red', 'querystring'],
      ] as const) {
        const res = await hub.request({ method: 'GET', url: `/v1/locations/store-a/inventory?${query}` });
        expect(res.statusCode, query).toBe(400);
        expect(res.body, query).toMatchObject({
          code: 'invalid_request',
          message: expect.stringContaining(field),
        });
      }
    });

    it('lets every role read, but a store manager or device only its own location', async () => {
      const url = '/v1/locations/store-a/inventory';
      const device = await enrolDevice(hub, 'store-a');
      const otherDevice = await enrolDevice(hub, 'store-b');
      const allowed = [
        await hub.token('hq'),
        await hub.token('channel'),
        await hub.token('store_manager', 'store-a'),
        device.token,
      ];
      for (const token of allowed) {
        expect((await hub.request({ method: 'GET', url, token })).statusCode).toBe(200);
      }
      for (const token of [await hub.token('store_manager', 'store-b'), otherDevice.token]) {
        const res = await hub.request({ method: 'GET', url, token });
        expect(res.statusCode).toBe(403);
        expect(res.body).toMatchObject({ code: 'forbidden' });
      }
      expect((await hub.request({ method: 'GET', url, token: null })).statusCode).toBe(401);
      expect((await hub.request({ method: 'GET', url, token: 'tsk.nope.nope' })).statusCode).toBe(401);
    });
  });

  describe('GET /v1/inventory/{sku}', () => {
    it('shows the SKU at every location with totals', async () => {
      await hub.request({
        method: 'PATCH',
        url: '/v1/locations/store-b/inventory/LIP-001',
        payload: { onHand: 6 },
        headers: { 'if-match': '"1"' },
      });
      const res = await hub.request({ method: 'GET', url: '/v1/inventory/LIP-001' });
      expect(res.statusCode).toBe(200);
      const body = json<{ sku: string; totals: unknown; locations: Item[] }>(res);
      expect(body.sku).toBe('LIP-001');
      expect(body.totals).toEqual({ onHand: 118, reserved: 0, available: 118, incoming: 0 });
      expect(body.locations.map((l) => [l.locationId, l.onHand, l.version])).toEqual([
        ['store-a', 12, 1],
        ['store-b', 6, 2],
        ['warehouse', 100, 1],
      ]);
    });

    it('shows a store manager its own location only; devices and channels see all', async () => {
      const manager = await hub.token('store_manager', 'store-b');
      const mine = json<{ totals: unknown; locations: Item[] }>(
        await hub.request({ method: 'GET', url: '/v1/inventory/LIP-001', token: manager }),
      );
      expect(mine.locations.map((l) => l.locationId)).toEqual(['store-b']);
      expect(mine.totals).toEqual({ onHand: 4, reserved: 0, available: 4, incoming: 0 });

      const device = await enrolDevice(hub, 'store-b');
      for (const token of [device.token, await hub.token('channel'), await hub.token('hq')]) {
        const all = json<{ locations: Item[] }>(
          await hub.request({ method: 'GET', url: '/v1/inventory/LIP-001', token }),
        );
        expect(all.locations.map((l) => l.locationId)).toEqual(['store-a', 'store-b', 'warehouse']);
      }
    });

    it('answers a catalogue SKU nobody stocks with zero totals, and an unknown SKU with 404', async () => {
      const none = await hub.request({ method: 'GET', url: '/v1/inventory/SOAP-001' });
      expect(none.body).toEqual({
        sku: 'SOAP-001',
        totals: { onHand: 0, reserved: 0, available: 0, incoming: 0 },
        locations: [],
      });
      const unknown = await hub.request({ method: 'GET', url: '/v1/inventory/NOPE-1' });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.body).toMatchObject({ code: 'not_found', details: { product: 'NOPE-1' } });
      expect((await hub.request({ method: 'GET', url: '/v1/inventory/bad%20sku' })).statusCode).toBe(400);
      expect(
        (await hub.request({ method: 'GET', url: '/v1/inventory/LIP-001', token: null })).statusCode,
      ).toBe(401);
    });
  });

  describe('GET /v1/locations/{locationId}/inventory/{sku}', () => {
    it('returns the row with its version as ETag', async () => {
      const res = await hub.request({ method: 'GET', url: '/v1/locations/store-a/inventory/LIP-002' });
      expect(res.statusCode).toBe(200);
      expect(res.headers.etag).toBe('"1"');
      expect(res.body).toMatchObject({ locationId: 'store-a', sku: 'LIP-002', onHand: 3, version: 1 });
    });

    it('answers a catalogue SKU the location never stocked with a zero row at version 0', async () => {
      const res = await hub.request({ method: 'GET', url: '/v1/locations/store-b/inventory/SOAP-001' });
      expect(res.statusCode).toBe(200);
      expect(res.headers.etag).toBe('"0"');
      expect(res.body).toEqual({
        locationId: 'store-b',
        sku: 'SOAP-001',
        onHand: 0,
        reserved: 0,
        available: 0,
        incoming: 0,
        damaged: 0,
        reorderPoint: 0,
        version: 0,
        updatedAt: null,
      });
    });

    it('answers 404 for an unknown SKU or location, 403 for another store', async () => {
      const sku = await hub.request({ method: 'GET', url: '/v1/locations/store-a/inventory/NOPE-1' });
      expect(sku.statusCode).toBe(404);
      expect(sku.body).toMatchObject({ details: { product: 'NOPE-1' } });
      const location = await hub.request({ method: 'GET', url: '/v1/locations/nowhere/inventory/LIP-001' });
      expect(location.statusCode).toBe(404);
      expect(location.body).toMatchObject({ details: { location: 'nowhere' } });
      const manager = await hub.token('store_manager', 'store-b');
      const other = await hub.request({
        method: 'GET',
        url: '/v1/locations/store-a/inventory/LIP-001',
        token: manager,
      });
      expect(other.statusCode).toBe(403);
    });
  });

  describe('PATCH /v1/locations/{locationId}/inventory/{sku}', () => {
    const url = '/v1/locations/store-a/inventory/LIP-001';

    it('sets on_hand and the reorder point at the current version, bumping version and ETag', async () => {
      const res = await patch(url, { onHand: 9 }, '"1"');
      expect(res.statusCode).toBe(200);
      expect(res.headers.etag).toBe('"2"');
      expect(res.body).toMatchObject({ onHand: 9, available: 9, reorderPoint: 0, version: 2 });

      // Both fields: one ledger entry each, so the version rises by two.
      const both = await patch(url, { onHand: 11, reorderPoint: 4 }, 'W/"2"');
      expect(both.statusCode).toBe(200);
      expect(both.headers.etag).toBe('"4"');
      expect(both.body).toMatchObject({ onHand: 11, reorderPoint: 4, version: 4 });

      const bare = await patch(url, { reorderPoint: 5 }, '4');
      expect(bare.statusCode).toBe(200);
      expect(bare.body).toMatchObject({ onHand: 11, reorderPoint: 5, version: 5 });

      const { rows } = await db.query<{
        reason: string;
        d_on_hand: number;
        version_after: number;
        actor: string;
      }>(
        `SELECT reason, d_on_hand, version_after, actor FROM movements
         WHERE location_id = 'store-a' AND sku = 'LIP-001' ORDER BY version_after`,
      );
      expect(rows.map((r) => [r.reason, r.d_on_hand, r.version_after])).toEqual([
        ['receive', 12, 1],
        ['set_on_hand', -3, 2],
        ['set_on_hand', 2, 3],
        ['set_reorder_point', 0, 4],
        ['set_reorder_point', 0, 5],
      ]);
      expect(rows[1]?.actor).toMatch(/^token:/);
    });

    it('starts a never-stocked row from If-Match 0', async () => {
      const res = await patch('/v1/locations/store-b/inventory/SOAP-001', { onHand: 7 }, '"0"');
      expect(res.statusCode).toBe(200);
      expect(res.headers.etag).toBe('"1"');
      expect(res.body).toMatchObject({ locationId: 'store-b', sku: 'SOAP-001', onHand: 7, version: 1 });
    });

    it('refuses a stale If-Match with 412 and leaves row and ledger untouched', async () => {
      expect((await patch(url, { onHand: 9 }, '"1"')).statusCode).toBe(200);
      const before = await movementCount();
      const stale = await patch(url, { onHand: 20 }, '"1"');
      expect(stale.statusCode).toBe(412);
      expect(stale.body).toEqual({
        code: 'stale_version',
        message: 'If-Match version 1 is stale: the row is at version 2',
        details: { expected: 1, actual: 2 },
      });
      expect(await movementCount()).toBe(before);
      const row = await hub.request({ method: 'GET', url });
      expect(row.body).toMatchObject({ onHand: 9, version: 2 });

      const ahead = await patch('/v1/locations/store-b/inventory/SOAP-001', { onHand: 1 }, '"3"');
      expect(ahead.statusCode).toBe(412);
      const { rows } = await db.query(
        "SELECT 1 FROM stock WHERE location_id = 'store-b' AND sku = 'SOAP-001'",
      );
      expect(rows).toEqual([]);
      expect(await movementCount()).toBe(before);
    });

    it('requires If-Match (428) and answers bad input with 400/401/403/404, writing nothing', async () => {
      const before = await movementCount();
      const missing = await patch(url, { onHand: 9 });
      expect(missing.statusCode).toBe(428);
      expect(missing.body).toMatchObject({ code: 'precondition_required', details: { header: 'If-Match' } });

      const bad: Array<[unknown, string | undefined, string]> = [
        [{ onHand: 9 }, '*', 'headers.if-match'],
        [{ onHand: 9 }, 'v1', 'headers.if-match'],
        [{}, '"1"', 'body'],
        [{ onHand: -1 }, '"1"', 'body.onHand'],
        [{ onHand: 1.5 }, '"1"', 'body.onHand'],
        [{ onHand: 1_000_001 }, '"1"', 'body.onHand'],
        [{ reorderPoint: 'ten' }, '"1"', 'body.reorderPoint'],
        [{ onHand: 9, reserved: 2 }, '"1"', 'body'],
      ];
      for (const [payload, ifMatch, field] of bad) {
        const res = await patch(url, payload, ifMatch);
        expect(res.statusCode, JSON.stringify(payload)).toBe(400);
        expect(res.body).toMatchObject({ code: 'invalid_request', message: expect.stringContaining(field) });
      }

      const unknownSku = await patch('/v1/locations/store-a/inventory/NOPE-1', { onHand: 1 }, '"0"');
      expect(unknownSku.statusCode).toBe(404);
      expect(unknownSku.body).toMatchObject({ details: { product: 'NOPE-1' } });
      const unknownLocation = await patch('/v1/locations/nowhere/inventory/LIP-001', { onHand: 1 }, '"0"');
      expect(unknownLocation.statusCode).toBe(404);
      expect(unknownLocation.body).toMatchObject({ details: { location: 'nowhere' } });

      expect((await patch(url, { onHand: 9 }, '"1"', null)).statusCode).toBe(401);
      const device = await enrolDevice(hub, 'store-a');
      for (const token of [
        await hub.token('store_manager', 'store-b'),
        await hub.token('hq'),
        await hub.token('channel'),
        device.token,
      ]) {
        const res = await patch(url, { onHand: 9 }, '"1"', token);
        expect(res.statusCode).toBe(403);
        expect(res.body).toMatchObject({ code: 'forbidden' });
      }
      expect(await movementCount()).toBe(before);
      expect((await hub.request({ method: 'GET', url })).body).toMatchObject({ onHand: 12, version: 1 });
    });

    it("lets a store manager set its own location's rows", async () => {
      const manager = await hub.token('store_manager', 'store-a');
      const res = await patch(url, { reorderPoint: 6 }, '"1"', manager);
      expect(res.statusCode).toBe(200);
      expect(res.body).toMatchObject({ reorderPoint: 6, version: 2 });
    });

    it('lets exactly one of 20 concurrent writers holding the same version win', async () => {
      const before = await movementCount();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => patch(url, { onHand: 100 + i }, '"1"')),
      );
      const statuses = results.map((r) => r.statusCode);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 412)).toHaveLength(19);
      const winner = json<Item>(results.find((r) => r.statusCode === 200) ?? { body: null });
      const row = await hub.request({ method: 'GET', url });
      expect(row.body).toMatchObject({ version: 2, onHand: winner.onHand });
      expect(await movementCount()).toBe(before + 1);
    });
  });
});
