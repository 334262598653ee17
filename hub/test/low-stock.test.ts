import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { seedCatalog } from './helpers/fixtures.js';
import { testDbKind } from './helpers/test-db.js';

interface LowStockBody {
  locationId: string;
  locationName: string;
  sku: string;
  productName: string;
  onHand: number;
  reserved: number;
  available: number;
  reorderPoint: number;
  shortfall: number;
}
type LowStockPage = { items: LowStockBody[]; nextCursor: string | null };

const HEADER =
  'location_id,location_name,sku,product_name,on_hand,reserved,available,reorder_point,shortfall';

describe(`brand-wide low stock on ${testDbKind()}`, () => {
  let hub: TestHub;

  beforeEach(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'store-a' }, { id: 'store-b' }],
      products: [{ sku: 'LIP-1' }, { sku: 'LIP-2' }],
      stock: [
        { locationId: 'store-a', sku: 'LIP-1', onHand: 3 },
        { locationId: 'store-a', sku: 'LIP-2', onHand: 10 },
        { locationId: 'store-b', sku: 'LIP-1', onHand: 5 },
        { locationId: 'store-b', sku: 'LIP-2', onHand: 0 },
      ],
    });
    // Names a spreadsheet would trip on: a formula, a comma, quotes, a leading minus.
    const located = await hub.request({
      method: 'POST',
      url: '/v1/locations',
      payload: { id: 'store-c', name: '-Left "Bank", Paris', kind: 'store' },
    });
    expect(located.statusCode).toBe(201);
    const product = await hub.request({
      method: 'POST',
      url: '/v1/products',
      payload: { sku: 'EVIL-1', name: '=HYPERLINK("http://x.test","click")', priceMinor: 100 },
    });
    expect(product.statusCode).toBe(201);

    await reorderPoint('store-a', 'LIP-1', 5); // 3 ≤ 5: shortfall 2
    await reorderPoint('store-a', 'LIP-2', 5); // 10 > 5 until 6 are held below
    await reorderPoint('store-b', 'LIP-1', 5); // 5 ≤ 5: at the point, shortfall 0
    // store-b LIP-2: 0 on hand but no reorder point: never flagged.
    await reorderPoint('store-c', 'EVIL-1', 4); // 0 then 2 shrunk: -2, shortfall 6
    const shrink = await hub.request({
      method: 'POST',
      url: '/v1/locations/store-c/adjustments',
      payload: { reason: 'shrink', lines: [{ sku: 'EVIL-1', qty: 2 }] },
    });
    expect(shrink.statusCode).toBe(201);
    const channel = await hub.token('channel');
    const hold = await hub.request({
      method: 'POST',
      url: '/v1/locations/store-a/inventory/reserve',
      headers: { 'idempotency-key': 'hold-1' },
      payload: { reference: 'web-1', lines: [{ sku: 'LIP-2', qty: 6 }] },
      token: channel,
    });
    expect(hold.statusCode).toBe(200);
  });
  afterEach(() => hub.close());

  async function reorderPoint(locationId: string, sku: string, value: number): Promise<void> {
    const url = `/v1/locations/${locationId}/inventory/${sku}`;
    const row = await hub.request({ method: 'GET', url });
    const res = await hub.request({
      method: 'PATCH',
      url,
      headers: { 'if-match': String(row.headers.etag) },
      payload: { reorderPoint: value },
    });
    expect(res.statusCode).toBe(200);
  }

  const get = (query: string, token?: string | null, headers: Record<string, string> = {}) =>
    hub.request({ method: 'GET', url: `/v1/inventory/low-stock${query}`, token, headers });

  it('lists every row at or below its reorder point, by location then SKU, with the shortfall', async () => {
    const res = await get('', await hub.token('hq'));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect((res.body as LowStockPage).items).toEqual([
      {
        locationId: 'store-a',
        locationName: 'Location store-a',
        sku: 'LIP-1',
        productName: 'Product LIP-1',
        onHand: 3,
        reserved: 0,
        available: 3,
        reorderPoint: 5,
        shortfall: 2,
      },
      expect.objectContaining({
        locationId: 'store-a',
        sku: 'LIP-2',
        onHand: 10,
        reserved: 6,
        available: 4,
        shortfall: 1,
      }),
      expect.objectContaining({
        locationId: 'store-b',
        sku: 'LIP-1',
        available: 5,
        reorderPoint: 5,
        shortfall: 0,
      }),
      {
        locationId: 'store-c',
        locationName: '-Left "Bank", Paris',
        sku: 'EVIL-1',
        productName: '=HYPERLINK("http://x.test","click")',
        onHand: -2,
        reserved: 0,
        available: -2,
        reorderPoint: 4,
        shortfall: 6,
      },
    ]);
    expect((res.body as LowStockPage).nextCursor).toBeNull();
  });

  it('agrees with each location inventory filtered belowReorderPoint (one definition)', async () => {
    const brandWide = ((await get('?limit=500')).body as LowStockPage).items.map(
      (i) => `${i.locationId}/${i.sku}`,
    );
    const perLocation: string[] = [];
    for (const loc of ['store-a', 'store-b', 'store-c']) {
      const res = await hub.request({
        method: 'GET',
        url: `/v1/locations/${loc}/inventory?belowReorderPoint=true&limit=500`,
      });
      perLocation.push(
        ...(res.body as { items: Array<{ sku: string }> }).items.map((i) => `${loc}/${i.sku}`),
      );
    }
    expect(brandWide).toEqual(perLocation);
    expect(brandWide).toHaveLength(4);
  });

  it('pages with a cursor and filters by location', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      const p = res.body as LowStockPage;
      expect(p.items.length).toBeLessThanOrEqual(3);
      seen.push(...p.items.map((i) => `${i.locationId}/${i.sku}`));
      cursor = p.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['store-a/LIP-1', 'store-a/LIP-2', 'store-b/LIP-1', 'store-c/EVIL-1']);

    const atA = ((await get('?locationId=store-a')).body as LowStockPage).items.map((i) => i.sku);
    expect(atA).toEqual(['LIP-1', 'LIP-2']);
    expect((await get('?cursor=WzFd')).statusCode).toBe(400);
    expect((await get('?format=xml')).statusCode).toBe(400);
  });

  it('exports every matching row as CSV: quoted per RFC 4180, formulas defused, numbers kept', async () => {
    for (const res of [
      await get('?format=csv&limit=1'),
      await get('?limit=1', undefined, { accept: 'text/csv' }),
      await get('', undefined, { accept: 'application/json;q=0.5, text/csv' }),
    ]) {
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(res.headers['content-disposition']).toBe(
        `attachment; filename="low-stock-${new Date().toISOString().slice(0, 10)}.csv"`,
      );
      const lines = res.text.split('\r\n');
      expect(lines[0]).toBe(HEADER);
      expect(lines).toHaveLength(6); // header, 4 rows, and the final CRLF
      expect(lines[5]).toBe('');
      expect(lines[4]).toBe(
        `store-c,"'-Left ""Bank"", Paris",EVIL-1,"'=HYPERLINK(""http://x.test"",""click"")",-2,0,-2,4,6`,
      );
      // The project's own CSV reader reads it back cell for cell.
      const records = parse(res.text, { columns: true }) as Array<Record<string, string>>;
      expect(records.map((r) => [r.location_id, r.sku, r.available, r.shortfall])).toEqual([
        ['store-a', 'LIP-1', '3', '2'],
        ['store-a', 'LIP-2', '4', '1'],
        ['store-b', 'LIP-1', '5', '0'],
        ['store-c', 'EVIL-1', '-2', '6'],
      ]);
      expect(records[3]).toMatchObject({
        location_name: `'-Left "Bank", Paris`,
        product_name: `'=HYPERLINK("http://x.test","click")`,
      });
    }

    const onlyB = await get('?format=csv&locationId=store-b');
    expect(onlyB.text).toBe(`${HEADER}\r\nstore-b,Location store-b,LIP-1,Product LIP-1,5,0,5,5,0\r\n`);
    // A browser's Accept (anything) and an explicit format=json stay JSON.
    for (const res of [
      await get('', undefined, { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }),
      await get('?format=json', undefined, { accept: 'text/csv' }),
      await get('', undefined, { accept: 'text/csv;q=0.1, application/json' }),
    ]) {
      expect(res.headers['content-type']).toMatch(/^application\/json/);
    }
  });

  it('keeps a store manager to its own location; channels are out', async () => {
    const managerB = await hub.token('store_manager', 'store-b');
    const own = await get('', managerB);
    expect(own.statusCode).toBe(200);
    expect((own.body as LowStockPage).items.map((i) => `${i.locationId}/${i.sku}`)).toEqual([
      'store-b/LIP-1',
    ]);
    const ownCsv = await get('?format=csv', managerB);
    expect(ownCsv.text.split('\r\n').filter(Boolean)).toHaveLength(2);

    const foreign = await get('?locationId=store-a', managerB);
    expect(foreign.statusCode).toBe(403);
    expect(foreign.body).toMatchObject({ code: 'forbidden' });
    expect((await get('?format=csv&locationId=store-a', managerB)).statusCode).toBe(403);
    expect((await get('', await hub.token('channel'))).statusCode).toBe(403);
    expect((await get('', null)).statusCode).toBe(401);
  });
});
