import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { StockWriter } from '../src/ledger/writer.js';
import {
  applyProductImport,
  applyStockImport,
  planProductImport,
  planStockImport,
} from '../src/services/csv-import.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { createTestDatabase, type TestDatabase, testDbKind } from './helpers/test-db.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tillsync-csv-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function csv(name: string, lines: string[]): Promise<{ text: string; file: string }> {
  const file = join(dir, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return { text: await readFile(file, 'utf8'), file };
}

async function importProducts(db: Database, lines: string[], skipInvalid = false) {
  const { text, file } = await csv('products.csv', lines);
  return applyProductImport(db, planProductImport(text, file), { skipInvalid });
}

async function importStock(db: Database, lines: string[], skipInvalid = false) {
  const { text, file } = await csv('stock.csv', lines);
  return applyStockImport(new StockWriter(db), planStockImport(text, file), { skipInvalid });
}

async function counts(db: Database) {
  const { rows } = await db.query<{ products: number; stock: number; movements: number }>(
    `SELECT (SELECT count(*) FROM products)::int AS products, (SELECT count(*) FROM stock)::int AS stock,
            (SELECT count(*) FROM movements)::int AS movements`,
  );
  return rows[0];
}

describe(`CSV import of products on ${testDbKind()}`, () => {
  let database: TestDatabase;
  let db: Database;
  beforeEach(async () => {
    database = await createTestDatabase();
    db = database.db;
  });
  afterEach(() => database.drop());

  it('inserts new products, then updates changed ones and leaves identical ones alone', async () => {
    const first = await importProducts(db, [
      'sku,name,barcode,category,price,currency',
      'CRM-50,Face Cream 50 ml,4006381333931,skincare,12.50,EUR',
      'CND-1,"Candle ""Figue"", large",,home,8,',
      'MUG-2,Speckled Mug,,,4.5,CHF',
    ]);
    expect(first).toMatchObject({
      applied: true,
      total: 3,
      inserted: 3,
      updated: 0,
      unchanged: 0,
      rejected: [],
    });
    const { rows } = await db.query(
      'SELECT sku, name, barcode, category, price_minor, currency FROM products ORDER BY sku',
    );
    expect(rows).toEqual([
      {
        sku: 'CND-1',
        name: 'Candle "Figue", large',
        barcode: null,
        category: 'home',
        price_minor: 800,
        currency: 'EUR',
      },
      {
        sku: 'CRM-50',
        name: 'Face Cream 50 ml',
        barcode: '4006381333931',
        category: 'skincare',
        price_minor: 1250,
        currency: 'EUR',
      },
      {
        sku: 'MUG-2',
        name: 'Speckled Mug',
        barcode: null,
        category: null,
        price_minor: 450,
        currency: 'CHF',
      },
    ]);

    const second = await importProducts(db, [
      'sku,name,price,barcode,category',
      'CRM-50,Face Cream 50 ml,13.90,4006381333931,skincare',
      'CND-1,"Candle ""Figue"", large",8.00,,home',
      'NEW-1,Tea Towel,9.90,,textiles',
    ]);
    expect(second).toMatchObject({ applied: true, total: 3, inserted: 1, updated: 1, unchanged: 1 });
    const price = await db.query('SELECT price_minor FROM products WHERE sku = $1', ['CRM-50']);
    expect(price.rows).toEqual([{ price_minor: 1390 }]);
  });

  it('rejects a file with bad rows, names line, column and reason, and imports nothing', async () => {
    await importProducts(db, ['sku,name,price', 'KEEP-1,Kept,1.00']);
    const before = await counts(db);

    const summary = await importProducts(db, [
      'sku,name,barcode,category,price,currency',
      'OK-1,Fine product,,,10.00,EUR',
      'NEG-1,Negative,,,-3.00,EUR',
      'bad sku!,Bad sku,,,1.00,EUR',
      'DUP-1,First,,,1.00,EUR',
      'OK-2,Bad currency,,,1.00,euro',
      'DUP-1,Second,,,2.00,EUR',
      'OK-3,Not a price,,,12.5.0,EUR',
      'OK-4,,,,1.00,EUR',
      'OK-5,Too few fields',
      'OK-6,Bad barcode,12AB,,1.00,EUR',
    ]);

    expect(summary.applied).toBe(false);
    expect(summary.total).toBe(10);
    expect(summary.rejected.map((r) => [r.line, r.column])).toEqual([
      [3, 'price'],
      [4, 'sku'],
      [5, 'sku'],
      [6, 'currency'],
      [7, 'sku'],
      [8, 'price'],
      [9, 'name'],
      [10, null],
      [11, 'barcode'],
    ]);
    const byLine = new Map(summary.rejected.map((r) => [r.line, r.reason]));
    expect(byLine.get(3)).toMatch(/>=\s?0/);
    expect(byLine.get(5)).toBe('duplicate sku DUP-1 (also on line 7)');
    expect(byLine.get(7)).toBe('duplicate sku DUP-1 (also on line 5)');
    expect(byLine.get(8)).toBe('a decimal amount such as 12.50');
    expect(byLine.get(9)).toBe('missing value');
    expect(byLine.get(10)).toBe('expected 6 fields, found 2');
    expect(await counts(db)).toEqual(before);
  });

  it('rejects the whole file when a required column is missing or unknown', async () => {
    const summary = await importProducts(db, ['sku,name,colour', 'A-1,Anything,red']);
    expect(summary).toMatchObject({ applied: false, total: 1, inserted: 0 });
    expect(summary.rejected).toEqual([
      {
        line: 1,
        column: 'colour',
        reason: 'unknown column (expected sku, name, price, barcode, category, currency)',
      },
      { line: 1, column: 'price', reason: 'missing column' },
    ]);
    expect(await counts(db)).toEqual({ products: 0, stock: 0, movements: 0 });
  });

  it('rejects a barcode another product already has', async () => {
    await seedCatalog(db, { locations: [], products: [{ sku: 'OWNER-1', barcode: '4006381333931' }] });
    const summary = await importProducts(db, ['sku,name,barcode,price', 'OTHER-1,Other,4006381333931,1.00']);
    expect(summary.rejected).toEqual([
      { line: 2, column: 'barcode', reason: 'barcode already belongs to product OWNER-1' },
    ]);
    expect(summary.applied).toBe(false);
  });

  it('with skipInvalid imports the valid rows and still reports the rejects', async () => {
    const summary = await importProducts(
      db,
      ['sku,name,price', 'GOOD-1,Good,1.00', 'BAD-1,Bad,-1', 'GOOD-2,Good too,2.00', 'GOOD-2,Clash,3.00'],
      true,
    );
    expect(summary).toMatchObject({ applied: true, inserted: 1, updated: 0, unchanged: 0 });
    expect(summary.rejected.map((r) => r.line)).toEqual([3, 4, 5]);
    const { rows } = await db.query('SELECT sku FROM products ORDER BY sku');
    expect(rows).toEqual([{ sku: 'GOOD-1' }]);
  });
});

describe(`CSV import of stock on ${testDbKind()}`, () => {
  let database: TestDatabase;
  let db: Database;
  beforeEach(async () => {
    database = await createTestDatabase();
    db = database.db;
    await seedCatalog(db, {
      locations: [{ id: 'store-1' }, { id: 'wh-1', kind: 'warehouse' }],
      products: [{ sku: 'A-1' }, { sku: 'B-2' }, { sku: 'C-3' }],
      stock: [{ locationId: 'store-1', sku: 'A-1', onHand: 7 }],
    });
  });
  afterEach(() => database.drop());

  it('sets on_hand and reorder points through the ledger, reference import:<file>', async () => {
    const summary = await importStock(db, [
      'location,sku,on_hand,reorder_point',
      'store-1,A-1,10,3',
      'store-1,B-2,0,',
      'wh-1,A-1,500,100',
    ]);
    expect(summary).toMatchObject({
      applied: true,
      total: 3,
      inserted: 2,
      updated: 1,
      unchanged: 0,
      rejected: [],
    });

    const stock = await db.query(
      'SELECT location_id, sku, on_hand, reorder_point FROM stock ORDER BY location_id, sku',
    );
    expect(stock.rows).toEqual([
      { location_id: 'store-1', sku: 'A-1', on_hand: 10, reorder_point: 3 },
      { location_id: 'store-1', sku: 'B-2', on_hand: 0, reorder_point: 0 },
      { location_id: 'wh-1', sku: 'A-1', on_hand: 500, reorder_point: 100 },
    ]);
    const moves = await db.query(
      `SELECT location_id, sku, reason, d_on_hand, counted, actor, reference FROM movements
       WHERE reference LIKE 'import:%' ORDER BY location_id, sku, version_after`,
    );
    expect(moves.rows).toEqual([
      {
        location_id: 'store-1',
        sku: 'A-1',
        reason: 'set_on_hand',
        d_on_hand: 3,
        counted: 10,
        actor: 'system',
        reference: 'import:stock.csv',
      },
      {
        location_id: 'store-1',
        sku: 'A-1',
        reason: 'set_reorder_point',
        d_on_hand: 0,
        counted: null,
        actor: 'system',
        reference: 'import:stock.csv',
      },
      {
        location_id: 'store-1',
        sku: 'B-2',
        reason: 'set_on_hand',
        d_on_hand: 0,
        counted: 0,
        actor: 'system',
        reference: 'import:stock.csv',
      },
      {
        location_id: 'wh-1',
        sku: 'A-1',
        reason: 'set_on_hand',
        d_on_hand: 500,
        counted: 500,
        actor: 'system',
        reference: 'import:stock.csv',
      },
      {
        location_id: 'wh-1',
        sku: 'A-1',
        reason: 'set_reorder_point',
        d_on_hand: 0,
        counted: null,
        actor: 'system',
        reference: 'import:stock.csv',
      },
    ]);
    expect(await ledgerMismatches(db)).toEqual([]);

    const again = await importStock(db, ['location,sku,on_hand', 'store-1,A-1,10', 'wh-1,A-1,480']);
    expect(again).toMatchObject({ applied: true, inserted: 0, updated: 1, unchanged: 1 });
    expect(await ledgerMismatches(db)).toEqual([]);
  });

  it('rejects unknown locations and SKUs, duplicates and bad counts, and changes nothing', async () => {
    const before = await counts(db);
    const summary = await importStock(db, [
      'location,sku,on_hand,reorder_point',
      'store-1,A-1,10,2',
      'store-9,A-1,5,',
      'store-1,NOPE-1,5,',
      'store-1,B-2,-4,',
      'wh-1,C-3,5,1',
      'wh-1,C-3,6,1',
      'store-1,C-3,lots,',
      'Store 1,C-3,1,',
    ]);
    expect(summary.applied).toBe(false);
    expect(summary.rejected).toEqual([
      { line: 3, column: 'location', reason: 'unknown location store-9' },
      { line: 4, column: 'sku', reason: 'unknown sku NOPE-1 (import it with the products first)' },
      { line: 5, column: 'on_hand', reason: expect.stringMatching(/>=\s?0/) },
      { line: 6, column: 'sku', reason: 'duplicate location and sku wh-1 / C-3 (also on line 7)' },
      { line: 7, column: 'sku', reason: 'duplicate location and sku wh-1 / C-3 (also on line 6)' },
      { line: 8, column: 'on_hand', reason: 'a whole number' },
      { line: 9, column: 'location', reason: expect.stringContaining('lower-case letters') },
    ]);
    expect(await counts(db)).toEqual(before);
    expect(await ledgerMismatches(db)).toEqual([]);
  });

  it('with skipInvalid sets the valid rows and reports the rest', async () => {
    const summary = await importStock(
      db,
      ['location,sku,on_hand', 'store-1,A-1,2', 'store-9,A-1,5', 'wh-1,B-2,40'],
      true,
    );
    expect(summary).toMatchObject({ applied: true, inserted: 1, updated: 1, unchanged: 0 });
    expect(summary.rejected).toEqual([{ line: 3, column: 'location', reason: 'unknown location store-9' }]);
    const { rows } = await db.query('SELECT location_id, sku, on_hand FROM stock ORDER BY location_id, sku');
    expect(rows).toEqual([
      { location_id: 'store-1', sku: 'A-1', on_hand: 2 },
      { location_id: 'wh-1', sku: 'B-2', on_hand: 40 },
    ]);
    expect(await ledgerMismatches(db)).toEqual([]);
  });

  it('imports a 50,000-line products file and a 10,000-line stock file in batches', async () => {
    const productLines = ['sku,name,price'];
    for (let i = 1; i <= 50_000; i++) productLines.push(`BULK-${i},Bulk item ${i},${(i % 100) + 0.99}`);
    expect(await importProducts(db, productLines)).toMatchObject({ applied: true, inserted: 50_000 });

    const stockLines = ['location,sku,on_hand,reorder_point'];
    for (let i = 1; i <= 10_000; i++) stockLines.push(`wh-1,BULK-${i},${i % 250},10`);
    const { text, file } = await csv('bulk-stock.csv', stockLines);
    const progress: number[] = [];
    const stock = await applyStockImport(new StockWriter(db), planStockImport(text, file), {
      onProgress: (done) => progress.push(done),
    });
    expect(stock).toMatchObject({ applied: true, inserted: 10_000, rejected: [] });
    expect(progress).toHaveLength(20);
    expect(progress.at(-1)).toBe(10_000);
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM movements WHERE reference = 'import:bulk-stock.csv'",
    );
    expect(rows[0]?.n).toBe(20_000);
    expect(await ledgerMismatches(db)).toEqual([]);
  }, 120_000);
});
