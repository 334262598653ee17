import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/engine/schema.js';
import { type Product, Till } from '../src/index.js';
import { PARIS_TILL, product, removeDir, tempDir } from './helpers/till-fixture.js';

/*
 * The cashier's search goes through a trigram index for rare terms and a name-ordered walk for
 * common ones: either way the answer must be the plain scan's (active products whose name or SKU
 * contains the query, ASCII case-insensitively, by name then SKU, first `limit`).
 */

const NAMES = ['Red lipstick', 'Mascara 50% off', 'Nude_gloss', 'Crème "Rose"', 'blush', 'BLUSH pink'];

/** 3,000 products: enough for a common word to take the name-ordered walk. */
function catalogue(renamed = false): Product[] {
  return Array.from({ length: 3_000 }, (_, i) =>
    product(
      `SKU-${i}`,
      `${NAMES[i % NAMES.length]} ${renamed && i % 7 === 0 ? 'velvet' : 'matte'} ${i}`,
      100,
      {
        active: i % 11 !== 0,
      },
    ),
  );
}

/** The search's meaning, in JavaScript. */
function reference(products: Product[], query: string, limit: number): string[] {
  // SQLite's LIKE folds ASCII letters only.
  const lower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const has = (s: string) => lower(s).includes(lower(query));
  return products
    .filter((p) => p.active && (has(p.name) || has(p.sku)))
    .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)) || (a.sku < b.sku ? -1 : 1))
    .slice(0, limit)
    .map((p) => p.sku);
}

const QUERIES = [
  'lip',
  'LIPSTICK',
  'blush',
  'matte',
  'velvet',
  '50%',
  '_g',
  'e_g',
  '"Rose"',
  'crè',
  'SKU-29',
  'sku-2999',
  'x',
  'zzz',
  're',
  'e 1',
];

describe('product search', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) removeDir(d);
  });

  function till(): Till {
    const dir = tempDir('till-search-');
    dirs.push(dir);
    const t = Till.open({ dataDir: dir });
    t.replica.saveEnrolment(PARIS_TILL);
    return t;
  }

  it('answers as the plain scan does, before and after the catalogue changes', () => {
    const t = till();
    for (const products of [catalogue(), catalogue(true)]) {
      t.replica.saveCatalog(products, 1);
      for (const q of QUERIES) {
        for (const limit of [20, 5_000]) {
          expect(
            t.cashier.searchProducts(q, limit).map((p) => p.sku),
            `${q} (limit ${limit})`,
          ).toEqual(reference(products, q, limit));
        }
      }
    }
    t.close();
  });

  it('indexes the products a till already had when it upgrades', () => {
    const dir = tempDir('till-search-upgrade-');
    dirs.push(dir);
    // A data directory from before the search index: the first two migrations and a catalogue.
    const db = new Database(`${dir}/till.sqlite`);
    for (const [v, sql] of MIGRATIONS.slice(0, 2).entries()) {
      db.exec(sql);
      db.pragma(`user_version = ${v + 1}`);
    }
    db.prepare(
      `INSERT INTO products (sku, name, barcode, category, price_minor, currency, active)
       VALUES ('LIP-RED', 'Red lipstick', NULL, NULL, 1500, 'EUR', 1)`,
    ).run();
    db.close();
    const t = Till.open({ dataDir: dir });
    expect(t.cashier.searchProducts('lipstick').map((p) => p.sku)).toEqual(['LIP-RED']);
    t.close();
  });
});
