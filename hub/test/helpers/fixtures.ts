import { newOpId } from '@tillsync/sync-protocol';
import type { Database } from '../../src/db/database.js';
import { StockWriter } from '../../src/ledger/writer.js';

export interface FixtureLocation {
  id: string;
  kind?: 'store' | 'warehouse';
  priority?: number;
  safetyStock?: number;
}
export interface FixtureProduct {
  sku: string;
  priceMinor?: number;
  barcode?: string;
}

/**
 * Insert locations and products straight into the database (tests of other endpoints should not
 * depend on the catalogue routes), and optionally starting stock, received through the ledger.
 */
export async function seedCatalog(
  db: Database,
  input: {
    locations: FixtureLocation[];
    products: FixtureProduct[];
    stock?: Array<{ locationId: string; sku: string; onHand: number; reorderPoint?: number }>;
  },
): Promise<void> {
  for (const l of input.locations) {
    await db.query(
      'INSERT INTO locations (id, name, kind, priority, safety_stock) VALUES ($1, $2, $3, $4, $5)',
      [l.id, `Location ${l.id}`, l.kind ?? 'store', l.priority ?? 100, l.safetyStock ?? 0],
    );
  }
  for (const p of input.products) {
    await db.query('INSERT INTO products (sku, name, price_minor, barcode) VALUES ($1, $2, $3, $4)', [
      p.sku,
      `Product ${p.sku}`,
      p.priceMinor ?? 1000,
      p.barcode ?? null,
    ]);
  }
  const stock = input.stock ?? [];
  if (stock.length > 0) {
    const writer = new StockWriter(db);
    await writer.write((_tx, apply) =>
      apply(
        stock.map((s) => ({
          op: {
            type: 'receive' as const,
            opId: newOpId(),
            hlc: writer.clock.tick(),
            locationId: s.locationId,
            lines: [{ sku: s.sku, qty: s.onHand }],
          },
          actor: 'system',
        })),
      ),
    );
  }
  for (const s of stock.filter((x) => x.reorderPoint !== undefined)) {
    await db.query('UPDATE stock SET reorder_point = $3 WHERE location_id = $1 AND sku = $2', [
      s.locationId,
      s.sku,
      s.reorderPoint,
    ]);
  }
}

/** Invariant 3: every stock row equals the sum of its ledger movements, versions 1..n. */
export async function ledgerMismatches(db: Database): Promise<unknown[]> {
  const { rows } = await db.query(`
    SELECT s.location_id, s.sku, s.on_hand, s.reserved, s.incoming, s.damaged, s.version, m.*
    FROM stock s
    LEFT JOIN (
      SELECT location_id, sku, SUM(d_on_hand)::int AS m_on_hand, SUM(d_reserved)::int AS m_reserved,
             SUM(d_incoming)::int AS m_incoming, SUM(d_damaged)::int AS m_damaged,
             COUNT(*)::int AS m_count, MAX(version_after) AS m_max_version
      FROM movements GROUP BY location_id, sku
    ) m USING (location_id, sku)
    WHERE s.on_hand <> COALESCE(m.m_on_hand, 0) OR s.reserved <> COALESCE(m.m_reserved, 0)
       OR s.incoming <> COALESCE(m.m_incoming, 0) OR s.damaged <> COALESCE(m.m_damaged, 0)
       OR s.version <> COALESCE(m.m_count, 0) OR s.version <> COALESCE(m.m_max_version, 0)`);
  return rows;
}
