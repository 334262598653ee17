import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { isValidEan13 } from '../src/demo/ean.js';
import { type SeedResult, seedDemo } from '../src/demo/seed.js';
import { authenticate } from '../src/services/tokens.js';
import { ledgerMismatches } from './helpers/fixtures.js';
import { createTestDatabase, type TestDatabase, testDbKind } from './helpers/test-db.js';

describe(`demo seed on ${testDbKind()}`, () => {
  let database: TestDatabase;
  let db: Database;
  let first: SeedResult;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = database.db;
    first = await seedDemo(db);
  });
  afterAll(() => database.drop());

  async function count(table: string): Promise<number> {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    return rows[0]?.n ?? 0;
  }

  it('creates the Maison Lumière brand: one warehouse, three stores, 300 products', async () => {
    expect(first).toMatchObject({
      seeded: true,
      brand: 'Maison Lumière',
      locations: 4,
      products: 300,
      stockRows: 1028,
    });
    const { rows } = await db.query(
      'SELECT id, kind, priority, safety_stock FROM locations ORDER BY priority',
    );
    expect(rows).toEqual([
      { id: 'warehouse-central', kind: 'warehouse', priority: 10, safety_stock: 0 },
      { id: 'store-paris-1', kind: 'store', priority: 20, safety_stock: 2 },
      { id: 'store-lyon-1', kind: 'store', priority: 30, safety_stock: 2 },
      { id: 'store-bordeaux-1', kind: 'store', priority: 40, safety_stock: 1 },
    ]);
    expect(await count('products')).toBe(300);
  });

  it('generates the same catalogue every time, with valid EAN-13 barcodes', async () => {
    const { rows } = await db.query<{ sku: string; barcode: string; category: string; price_minor: number }>(
      'SELECT sku, barcode, category, price_minor FROM products ORDER BY sku',
    );
    expect(rows.every((p) => isValidEan13(p.barcode))).toBe(true);
    expect(new Set(rows.map((p) => p.barcode)).size).toBe(300);
    expect(rows.find((p) => p.sku === 'ML-SKN-001')).toEqual({
      sku: 'ML-SKN-001',
      barcode: '3760421000016',
      category: 'skincare',
      price_minor: 2190,
    });
    const names = await db.query<{ n: number }>('SELECT count(DISTINCT name)::int AS n FROM products');
    expect(names.rows[0]?.n).toBe(300);
  });

  it('puts opening stock in through the ledger, with some SKUs below their reorder point', async () => {
    expect(await count('stock')).toBe(1028);
    const low = await db.query<{ location_id: string; n: number }>(
      `SELECT location_id, count(*)::int AS n FROM stock WHERE on_hand < reorder_point
       GROUP BY location_id ORDER BY location_id`,
    );
    expect(low.rows).toEqual([
      { location_id: 'store-bordeaux-1', n: 28 },
      { location_id: 'store-lyon-1', n: 23 },
      { location_id: 'store-paris-1', n: 26 },
      { location_id: 'warehouse-central', n: 30 },
    ]);
    const actors = await db.query('SELECT DISTINCT actor, reference FROM movements');
    expect(actors.rows).toEqual([{ actor: 'system', reference: 'demo:seed' }]);
    expect(await ledgerMismatches(db)).toEqual([]);
  });

  it('hands out working demo tokens for hq, the Paris store manager and the web shop channel', async () => {
    if (!first.seeded) throw new Error('expected a seeded database');
    expect(await authenticate(db, first.tokens.hq)).toMatchObject({ role: 'hq', locationId: null });
    expect(await authenticate(db, first.tokens.storeManager)).toMatchObject({
      role: 'store_manager',
      locationId: 'store-paris-1',
    });
    expect(await authenticate(db, first.tokens.channel)).toMatchObject({ role: 'channel' });
  });

  it('does nothing on a second run', async () => {
    const before = {
      products: await count('products'),
      stock: await count('stock'),
      movements: await count('movements'),
    };
    expect(await seedDemo(db)).toEqual({ seeded: false });
    expect({
      products: await count('products'),
      stock: await count('stock'),
      movements: await count('movements'),
    }).toEqual(before);
    expect(await count('api_tokens')).toBe(3);
  });
});
