import fc from 'fast-check';
import type { Database } from '../../hub/src/db/database.js';

/*
 * Hostile values shared by the fuzz suites: boundaries, wrong types, injection payloads.
 * Run counts stay small so each file finishes well under a minute per database; fast-check prints
 * the seed and the shrunk counterexample of a failure, which replays it exactly.
 */

/** Classic SQL injection payloads, plus characters a careless query builder would trip on. */
export const INJECTIONS = [
  "'; DROP TABLE stock; --",
  "' OR '1'='1",
  '$$',
  '$1',
  '\\',
  '\\\\x00',
  "\\'",
  '"; DELETE FROM movements; --',
  '%_%',
  "Robert'); DROP TABLE orders;--",
] as const;

/** Strings that break things: empty, huge, unicode, NUL bytes, control characters, lookalikes. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    'x'.repeat(10_000),
    '🧨'.repeat(300),
    '\u202e\u0301',
    '\ud800',
    'NaN',
    'Infinity',
    '-1',
    '1e309',
    '0x10',
    'null',
    'undefined',
    '__proto__',
    '../../etc/passwd',
    '<script>alert(1)</script>',
    ...INJECTIONS,
  ),
  fc.string({ unit: 'binary', maxLength: 80 }),
);

/** Numbers at and past every boundary a schema might miss. */
export const nastyNumber: fc.Arbitrary<number> = fc.constantFrom(
  0,
  -1,
  1.5,
  2 ** 31,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_VALUE,
  -0,
  1e-300,
);

/** Any JSON-ish value of a hostile kind, with these strings, wrong types for whatever field it lands in. */
export function hostileValue(strings: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  return fc.oneof(
    strings,
    nastyNumber,
    fc.constantFrom(null, true, false, [], {}, [null], { '': null }),
    fc.array(nastyNumber, { maxLength: 5 }),
    fc.dictionary(strings, nastyNumber, { maxKeys: 3 }),
  );
}

export const nastyValue: fc.Arbitrary<unknown> = hostileValue(nastyString);

/** `depth` levels of nested arrays as JSON text, built without recursion. */
export function deeplyNested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** Row counts of the tables a write may touch: equal before and after means nothing was written. */
export async function writeFootprint(db: Database): Promise<string> {
  const { rows } = await db.query<{ t: string; n: number; s: string | null }>(`
    SELECT 'stock' AS t, count(*)::int AS n, sum(on_hand + reserved + incoming + damaged + version)::text AS s FROM stock
    UNION ALL SELECT 'movements', count(*)::int, max(id)::text FROM movements
    UNION ALL SELECT 'orders', count(*)::int, NULL FROM orders
    UNION ALL SELECT 'products', count(*)::int, NULL FROM products
    UNION ALL SELECT 'locations', count(*)::int, NULL FROM locations
    UNION ALL SELECT 'applied_ops', count(*)::int, NULL FROM applied_ops
    ORDER BY 1`);
  return rows.map((r) => `${r.t}=${r.n}/${r.s ?? ''}`).join(' ');
}

/** The hub's tables a `DROP TABLE` payload would aim at still exist. */
export async function tablesIntact(db: Database): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM information_schema.tables
     WHERE table_schema = current_schema() AND table_name IN ('stock', 'movements', 'orders', 'products', 'locations')`,
  );
  return rows[0]?.n === 5;
}
