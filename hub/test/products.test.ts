import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { testDbKind } from './helpers/test-db.js';

interface ProductBody {
  sku: string;
  name: string;
  barcode: string | null;
  category: string | null;
  priceMinor: number;
  currency: string;
  active: boolean;
  createdAt: string;
  updatedAt: string;
}
interface PageBody {
  items: ProductBody[];
  nextCursor: string | null;
}

// sku, name, price: ten products at 250, four at 499 and 1299, five at 1999: plenty of ties.
const CATALOGUE: Array<[string, string, number]> = [
  ['SKU-01', 'Mascara', 999],
  ['SKU-02', 'Lipstick', 499],
  ['SKU-03', 'Blush', 1299],
  ['SKU-04', 'Primer', 250],
  ['SKU-05', 'Serum', 250],
  ['SKU-06', 'Toner', 1999],
  ['SKU-07', 'Cleanser', 250],
  ['SKU-08', 'Bronzer', 999],
  ['SKU-09', 'Concealer', 1999],
  ['SKU-10', 'Eyeliner', 250],
  ['SKU-11', 'Highlighter', 1999],
  ['SKU-12', 'Foundation', 499],
  ['SKU-13', 'Moisturiser', 250],
  ['SKU-14', 'Sunscreen', 250],
  ['SKU-15', 'Shampoo', 1299],
  ['SKU-16', 'Conditioner', 1299],
  ['SKU-17', 'Perfume', 250],
  ['SKU-18', 'Balm', 499],
  ['SKU-19', 'Exfoliant', 250],
  ['SKU-20', 'Mist', 1999],
  ['SKU-21', 'Powder', 1299],
  ['SKU-22', 'Gloss', 250],
  ['SKU-23', 'Palette', 1999],
  ['SKU-24', 'Sponge', 250],
  ['SKU-25', 'Brush', 499],
];
const HAIR = new Set(['SKU-15', 'SKU-16']);

const BY_PRICE = [
  'SKU-04',
  'SKU-05',
  'SKU-07',
  'SKU-10',
  'SKU-13',
  'SKU-14',
  'SKU-17',
  'SKU-19',
  'SKU-22',
  'SKU-24',
  'SKU-02',
  'SKU-12',
  'SKU-18',
  'SKU-25',
  'SKU-01',
  'SKU-08',
  'SKU-03',
  'SKU-15',
  'SKU-16',
  'SKU-21',
  'SKU-06',
  'SKU-09',
  'SKU-11',
  'SKU-20',
  'SKU-23',
];

async function createCatalogue(hub: TestHub): Promise<void> {
  for (const [sku, name, priceMinor] of CATALOGUE) {
    const res = await hub.request({
      method: 'POST',
      url: '/v1/products',
      payload: { sku, name, priceMinor, category: HAIR.has(sku) ? 'hair' : 'makeup' },
    });
    expect(res.statusCode).toBe(201);
  }
}

/** Follow nextCursor to the end; `between` runs after each page (to change the catalogue mid-walk). */
async function walk(
  hub: TestHub,
  query: string,
  between: (pageNo: number) => Promise<void> = async () => {},
): Promise<{ items: ProductBody[]; pages: number }> {
  const items: ProductBody[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url: string = `/v1/products?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await hub.request({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    const body = json<PageBody>(res);
    items.push(...body.items);
    cursor = body.nextCursor;
    pages += 1;
    await between(pages);
  } while (cursor);
  return { items, pages };
}

/** The parsed JSON body of a response, as the shape this endpoint documents. */
const json = <T>(res: { body: unknown }): T => res.body as T;
const skus = (items: ProductBody[]) => items.map((p) => p.sku);

describe(`a merchandiser manages the catalogue on ${testDbKind()}`, () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await buildTestHub();
  });
  afterAll(() => hub.close());

  it('creates, reads, renames, reprices and deletes a product', async () => {
    const created = await hub.request({
      method: 'POST',
      url: '/v1/products',
      payload: {
        sku: 'LIP-RED',
        name: 'Lipstick red',
        barcode: '4006381333931',
        category: 'lips',
        priceMinor: 1499,
      },
    });
    expect(created.statusCode).toBe(201);
    const product = json<ProductBody>(created);
    expect(product).toMatchObject({
      sku: 'LIP-RED',
      name: 'Lipstick red',
      barcode: '4006381333931',
      category: 'lips',
      priceMinor: 1499,
      currency: 'EUR',
      active: true,
    });
    expect(product.updatedAt).toBe(product.createdAt);

    const read = await hub.request({ method: 'GET', url: '/v1/products/LIP-RED' });
    expect(read.statusCode).toBe(200);
    expect(read.body).toEqual(product);

    const patched = await hub.request({
      method: 'PATCH',
      url: '/v1/products/LIP-RED',
      payload: { name: 'Lipstick ruby', priceMinor: 1599, barcode: null },
    });
    expect(patched.statusCode).toBe(200);
    const after = json<ProductBody>(patched);
    expect(after).toMatchObject({ name: 'Lipstick ruby', priceMinor: 1599, barcode: null, category: 'lips' });
    expect(after.createdAt).toBe(product.createdAt);
    expect(after.updatedAt > product.updatedAt).toBe(true);

    const again = await hub.request({
      method: 'PATCH',
      url: '/v1/products/LIP-RED',
      payload: { active: false },
    });
    expect(json<ProductBody>(again).updatedAt > after.updatedAt).toBe(true);

    const deleted = await hub.request({ method: 'DELETE', url: '/v1/products/LIP-RED' });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    const gone = await hub.request({ method: 'GET', url: '/v1/products/LIP-RED' });
    expect(gone.statusCode).toBe(404);
    expect(gone.body).toMatchObject({ code: 'not_found', message: 'product "LIP-RED" does not exist' });
  });

  it('refuses a second product with the same sku or barcode, naming the field', async () => {
    const first = { sku: 'DUP-1', name: 'Original', barcode: '12345678', priceMinor: 100 };
    expect((await hub.request({ method: 'POST', url: '/v1/products', payload: first })).statusCode).toBe(201);

    const sameSku = await hub.request({
      method: 'POST',
      url: '/v1/products',
      payload: { sku: 'DUP-1', name: 'Impostor', priceMinor: 1 },
    });
    expect(sameSku.statusCode).toBe(409);
    expect(sameSku.body).toMatchObject({ code: 'already_exists', details: { field: 'sku', value: 'DUP-1' } });

    const sameBarcode = await hub.request({
      method: 'POST',
      url: '/v1/products',
      payload: { sku: 'DUP-2', name: 'Impostor', barcode: '12345678', priceMinor: 1 },
    });
    expect(sameBarcode.statusCode).toBe(409);
    expect(sameBarcode.body).toMatchObject({ code: 'already_exists', details: { field: 'barcode' } });
    expect(json<{ message: string }>(sameBarcode).message).toContain('barcode "12345678"');

    await hub.request({
      method: 'POST',
      url: '/v1/products',
      payload: { sku: 'DUP-3', name: 'Other', priceMinor: 1 },
    });
    const patchClash = await hub.request({
      method: 'PATCH',
      url: '/v1/products/DUP-3',
      payload: { barcode: '12345678' },
    });
    expect(patchClash.statusCode).toBe(409);
    expect(patchClash.body).toMatchObject({ code: 'already_exists', details: { field: 'barcode' } });

    // Nothing changed: the original is intact, the impostors do not exist.
    expect((await hub.request({ method: 'GET', url: '/v1/products/DUP-1' })).body).toMatchObject({
      name: 'Original',
      barcode: '12345678',
    });
    expect((await hub.request({ method: 'GET', url: '/v1/products/DUP-2' })).statusCode).toBe(404);
    expect((await hub.request({ method: 'GET', url: '/v1/products/DUP-3' })).body).toMatchObject({
      barcode: null,
    });
  });

  it('will not delete a product that has stock anywhere, and suggests deactivating it', async () => {
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'store-1' }],
      products: [{ sku: 'STOCKED' }],
      stock: [{ locationId: 'store-1', sku: 'STOCKED', onHand: 4 }],
    });
    const res = await hub.request({ method: 'DELETE', url: '/v1/products/STOCKED' });
    expect(res.statusCode).toBe(409);
    expect(res.body).toMatchObject({ code: 'in_use', details: { product: 'STOCKED', uses: ['stock'] } });
    expect(json<{ message: string }>(res).message).toContain('PATCH /v1/products/STOCKED {"active": false}');

    expect((await hub.request({ method: 'GET', url: '/v1/products/STOCKED' })).statusCode).toBe(200);
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
    const deactivated = await hub.request({
      method: 'PATCH',
      url: '/v1/products/STOCKED',
      payload: { active: false },
    });
    expect(deactivated.body).toMatchObject({ active: false });
  });

  it('finds a product by its scanned barcode, or by part of it', async () => {
    for (const [sku, barcode] of [
      ['SCAN-1', '4006381333931'],
      ['SCAN-2', '4006381333948'],
    ]) {
      const payload = { sku, name: `Scanned ${sku}`, barcode, priceMinor: 100 };
      expect((await hub.request({ method: 'POST', url: '/v1/products', payload })).statusCode).toBe(201);
    }
    const exact = json<PageBody>(
      await hub.request({ method: 'GET', url: '/v1/products?barcode=4006381333948' }),
    );
    expect(skus(exact.items)).toEqual(['SCAN-2']);
    const partial = json<PageBody>(await hub.request({ method: 'GET', url: '/v1/products?q=400638133' }));
    expect(skus(partial.items)).toEqual(['SCAN-1', 'SCAN-2']);
    const unknown = json<PageBody>(
      await hub.request({ method: 'GET', url: '/v1/products?barcode=40063813' }),
    );
    expect(unknown.items).toEqual([]);
  });

  it('pages stably through products imported in one statement (equal creation times)', async () => {
    await hub.database.db.query(
      `INSERT INTO products (sku, name, price_minor) VALUES
       ('TIE-3', 'Tie', 1), ('TIE-1', 'Tie', 1), ('TIE-5', 'Tie', 1), ('TIE-2', 'Tie', 1), ('TIE-4', 'Tie', 1)`,
    );
    const { items, pages } = await walk(hub, 'q=TIE-&sort=createdAt&limit=2');
    expect(pages).toBe(3);
    expect(skus(items)).toEqual(['TIE-1', 'TIE-2', 'TIE-3', 'TIE-4', 'TIE-5']);
    const newestFirst = await walk(hub, 'q=TIE-&sort=-createdAt&limit=2');
    expect(skus(newestFirst.items)).toEqual(['TIE-5', 'TIE-4', 'TIE-3', 'TIE-2', 'TIE-1']);
  });

  it('answers 404 for a product that does not exist, on read, change and delete', async () => {
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const res = await hub.request({
        method,
        url: '/v1/products/NOPE-404',
        ...(method === 'PATCH' ? { payload: { name: 'x' } } : {}),
      });
      expect(res.statusCode).toBe(404);
      expect(res.body).toMatchObject({ code: 'not_found', details: { product: 'NOPE-404' } });
    }
  });
});

describe(`a shopper browses 25 products on ${testDbKind()}`, () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await buildTestHub();
    await createCatalogue(hub);
  });
  afterAll(() => hub.close());

  it('lists by sku by default, 50 to a page', async () => {
    const res = await hub.request({ method: 'GET', url: '/v1/products' });
    const body = json<PageBody>(res);
    expect(body.items).toHaveLength(25);
    expect(body.items[0]?.sku).toBe('SKU-01');
    expect(body.items[24]?.sku).toBe('SKU-25');
    expect(body.nextCursor).toBeNull();
  });

  it('walks every product exactly once by price, ascending, 7 to a page, ties in sku order', async () => {
    const { items, pages } = await walk(hub, 'sort=priceMinor&limit=7');
    expect(pages).toBe(4);
    expect(skus(items)).toEqual(BY_PRICE);
  });

  it('walks every product exactly once by price, descending, ties in reverse sku order', async () => {
    const { items, pages } = await walk(hub, 'sort=-priceMinor&limit=7');
    expect(pages).toBe(4);
    expect(skus(items)).toEqual([...BY_PRICE].reverse());
  });

  it('walks by name both ways and by sku descending', async () => {
    const byName = await walk(hub, 'sort=name&limit=7');
    expect(byName.items.map((p) => p.name)).toEqual([
      'Balm',
      'Blush',
      'Bronzer',
      'Brush',
      'Cleanser',
      'Concealer',
      'Conditioner',
      'Exfoliant',
      'Eyeliner',
      'Foundation',
      'Gloss',
      'Highlighter',
      'Lipstick',
      'Mascara',
      'Mist',
      'Moisturiser',
      'Palette',
      'Perfume',
      'Powder',
      'Primer',
      'Serum',
      'Shampoo',
      'Sponge',
      'Sunscreen',
      'Toner',
    ]);
    const byNameDesc = await walk(hub, 'sort=-name&limit=7');
    expect(byNameDesc.items.map((p) => p.name)).toEqual(byName.items.map((p) => p.name).reverse());
    const bySkuDesc = await walk(hub, 'sort=-sku&limit=10');
    expect(bySkuDesc.pages).toBe(3);
    expect(skus(bySkuDesc.items)[0]).toBe('SKU-25');
    expect(skus(bySkuDesc.items)[24]).toBe('SKU-01');
  });

  it('walks by creation time: the order they were created in, and back', async () => {
    const oldestFirst = await walk(hub, 'sort=createdAt&limit=7');
    expect(skus(oldestFirst.items)).toEqual(CATALOGUE.map(([sku]) => sku));
    const newestFirst = await walk(hub, 'sort=-createdAt&limit=7');
    expect(skus(newestFirst.items)).toEqual(CATALOGUE.map(([sku]) => sku).reverse());
  });

  it('filters by category, active and a search text', async () => {
    const hair = json<PageBody>(await hub.request({ method: 'GET', url: '/v1/products?category=hair' }));
    expect(skus(hair.items)).toEqual(['SKU-15', 'SKU-16']);

    const search = json<PageBody>(await hub.request({ method: 'GET', url: '/v1/products?q=CON' }));
    expect(search.items.map((p) => p.name)).toEqual(['Concealer', 'Conditioner']);
    const bySkuText = json<PageBody>(await hub.request({ method: 'GET', url: '/v1/products?q=sku-2' }));
    expect(skus(bySkuText.items)).toEqual(['SKU-20', 'SKU-21', 'SKU-22', 'SKU-23', 'SKU-24', 'SKU-25']);
    const none = json<PageBody>(await hub.request({ method: 'GET', url: '/v1/products?active=false' }));
    expect(none.items).toEqual([]);
    const allActive = json<PageBody>(
      await hub.request({ method: 'GET', url: '/v1/products?active=true&limit=1' }),
    );
    expect(allActive.items).toHaveLength(1);
    expect(allActive.nextCursor).not.toBeNull();
  });

  it('combines a filter with sorting and paging', async () => {
    const { items, pages } = await walk(hub, 'category=makeup&sort=-priceMinor&limit=5');
    expect(pages).toBe(5);
    expect(skus(items)).toEqual([...BY_PRICE].reverse().filter((sku) => !HAIR.has(sku)));
  });
});

describe(`the catalogue changes while a till pages through it on ${testDbKind()}`, () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await buildTestHub();
    await createCatalogue(hub);
  });
  afterAll(() => hub.close());

  it('a product added mid-walk ahead of the cursor is seen once; one behind it is not; none repeat', async () => {
    const { items } = await walk(hub, 'sort=priceMinor&limit=7', async (pageNo) => {
      if (pageNo !== 1) return;
      // The first page ended inside the 250 group (SKU-17): a cheap one sorting before it, a dear one after.
      for (const [sku, priceMinor] of [
        ['SKU-00', 250],
        ['SKU-99', 5000],
      ] as const) {
        const res = await hub.request({
          method: 'POST',
          url: '/v1/products',
          payload: { sku, name: `Added ${sku}`, priceMinor },
        });
        expect(res.statusCode).toBe(201);
      }
    });
    expect(skus(items)).toEqual([...BY_PRICE, 'SKU-99']);
    expect(new Set(skus(items)).size).toBe(26);
  });

  it('a product deleted mid-walk does not break it', async () => {
    const { items } = await walk(hub, 'sort=-priceMinor&limit=7', async (pageNo) => {
      if (pageNo === 1) await hub.request({ method: 'DELETE', url: '/v1/products/SKU-25' });
    });
    expect(skus(items)).toEqual(
      ['SKU-99', ...[...BY_PRICE].reverse(), 'SKU-00'].filter((s) => s !== 'SKU-25'),
    );
  });
});

describe(`who may read and write the catalogue on ${testDbKind()}`, () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, { locations: [{ id: 'store-1' }], products: [{ sku: 'ROLE-1' }] });
  });
  afterAll(() => hub.close());

  it('lets every role read, only admins write, and nobody without a token', async () => {
    const readers = [
      await hub.token('hq'),
      await hub.token('store_manager', 'store-1'),
      await hub.token('channel'),
    ];
    for (const token of readers) {
      expect((await hub.request({ method: 'GET', url: '/v1/products', token })).statusCode).toBe(200);
      expect((await hub.request({ method: 'GET', url: '/v1/products/ROLE-1', token })).statusCode).toBe(200);
      const writes = [
        {
          method: 'POST' as const,
          url: '/v1/products',
          payload: { sku: 'ROLE-2', name: 'x', priceMinor: 1 },
        },
        { method: 'PATCH' as const, url: '/v1/products/ROLE-1', payload: { priceMinor: 1 } },
        { method: 'DELETE' as const, url: '/v1/products/ROLE-1' },
      ];
      for (const write of writes) {
        const res = await hub.request({ ...write, token });
        expect(res.statusCode).toBe(403);
        expect(res.body).toMatchObject({ code: 'forbidden' });
      }
    }
    for (const req of [
      { method: 'GET' as const, url: '/v1/products' },
      { method: 'POST' as const, url: '/v1/products', payload: { sku: 'ROLE-2', name: 'x', priceMinor: 1 } },
    ]) {
      const res = await hub.request({ ...req, token: null });
      expect(res.statusCode).toBe(401);
      expect(res.body).toMatchObject({ code: 'unauthorized' });
    }
    expect((await hub.request({ method: 'GET', url: '/v1/products/ROLE-1' })).body).toMatchObject({
      priceMinor: 1000,
    });
    expect((await hub.request({ method: 'GET', url: '/v1/products/ROLE-2' })).statusCode).toBe(404);
  });
});

describe(`bad input gets a clear 400 and changes nothing on ${testDbKind()}`, () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await buildTestHub();
    await createCatalogue(hub);
  });
  afterAll(() => hub.close());

  const field = (res: { body: unknown }) => json<{ message: string }>(res).message.split(':')[0];

  it('names the field of a bad product body', async () => {
    const good = { sku: 'NEW-1', name: 'New', priceMinor: 100 };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...good, colour: 'red' }, 'body.colour'],
      [{ ...good, priceMinor: '100' }, 'body.priceMinor'],
      [{ ...good, priceMinor: -1 }, 'body.priceMinor'],
      [{ ...good, priceMinor: 1.5 }, 'body.priceMinor'],
      [{ ...good, sku: 'has space' }, 'body.sku'],
      [{ ...good, sku: "x'; DROP TABLE products; --" }, 'body.sku'],
      // GET /v1/inventory/low-stock is the brand-wide list: such a SKU could not be looked up.
      [{ ...good, sku: 'low-stock' }, 'body.sku'],
      [{ ...good, currency: 'euro' }, 'body.currency'],
      [{ ...good, barcode: '12ab' }, 'body.barcode'],
      [{ ...good, name: '   ' }, 'body.name'],
      [{ sku: 'NEW-1', name: 'New' }, 'body.priceMinor'],
    ];
    for (const [payload, expected] of cases) {
      const res = await hub.request({ method: 'POST', url: '/v1/products', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.body).toMatchObject({ code: 'invalid_request' });
      expect(field(res)).toBe(expected);
    }
    expect((await hub.request({ method: 'GET', url: '/v1/products/NEW-1' })).statusCode).toBe(404);
  });

  it('names the field of a bad patch, and an empty patch is refused', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ sku: 'SKU-99' }, 'body.sku'],
      [{ priceMinor: -5 }, 'body.priceMinor'],
      [{ currency: 'eur' }, 'body.currency'],
      [{ active: 'yes' }, 'body.active'],
    ];
    for (const [payload, expected] of cases) {
      const res = await hub.request({ method: 'PATCH', url: '/v1/products/SKU-01', payload });
      expect(res.statusCode).toBe(400);
      expect(field(res)).toBe(expected);
    }
    const empty = await hub.request({ method: 'PATCH', url: '/v1/products/SKU-01', payload: {} });
    expect(empty.statusCode).toBe(400);
    expect(json<{ message: string }>(empty).message).toContain('change at least one field');
    expect((await hub.request({ method: 'GET', url: '/v1/products/SKU-01' })).body).toMatchObject({
      priceMinor: 999,
      currency: 'EUR',
      active: true,
    });
  });

  it('names the query parameter at fault', async () => {
    const cases: Array<[string, string]> = [
      ['limit=501', 'querystring.limit'],
      ['limit=0', 'querystring.limit'],
      ['limit=ten', 'querystring.limit'],
      ['sort=price', 'querystring.sort'],
      ['sort=-stock', 'querystring.sort'],
      ['active=maybe', 'querystring.active'],
      ['barcode=123', 'querystring.barcode'],
      ['colour=red', 'querystring.colour'],
      ['cursor=garbage', 'querystring.cursor'],
      [
        `cursor=${Buffer.from('["priceMinor","x","SKU-01"]').toString('base64url')}&sort=priceMinor`,
        'querystring.cursor',
      ],
    ];
    for (const [query, expected] of cases) {
      const res = await hub.request({ method: 'GET', url: `/v1/products?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(field(res), query).toBe(expected);
    }
  });

  it('refuses a cursor issued for another sort order', async () => {
    const first = json<PageBody>(await hub.request({ method: 'GET', url: '/v1/products?sort=name&limit=3' }));
    const res = await hub.request({
      method: 'GET',
      url: `/v1/products?sort=priceMinor&limit=3&cursor=${first.nextCursor}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatchObject({ details: { field: 'cursor' } });
  });

  it('treats SQL and LIKE metacharacters in searches and ids as plain text', async () => {
    for (const q of ["' OR 1=1 --", "'); DROP TABLE products; --", '%', '_', 'SKU\\', '%25']) {
      const res = await hub.request({ method: 'GET', url: `/v1/products?q=${encodeURIComponent(q)}` });
      expect(res.statusCode, q).toBe(200);
      expect(json<PageBody>(res).items, q).toEqual([]);
    }
    // '_' matches only itself: "SKU_0" is not "SKU-0".
    expect(json<PageBody>(await hub.request({ method: 'GET', url: '/v1/products?q=SKU_0' })).items).toEqual(
      [],
    );
    const injectedId = await hub.request({
      method: 'GET',
      url: `/v1/products/${encodeURIComponent("SKU-01' OR '1'='1")}`,
    });
    expect(injectedId.statusCode).toBe(400);
    expect(field(injectedId)).toBe('params.sku');
    const nul = await hub.request({ method: 'GET', url: '/v1/products?q=a%00b' });
    expect(nul.statusCode).toBe(400);
    expect(field(nul)).toBe('querystring.q');

    const all = json<PageBody>(await hub.request({ method: 'GET', url: '/v1/products' }));
    expect(all.items).toHaveLength(25);
  });
});
