import { type HubOp, LIMITS, newOpId } from '@tillsync/sync-protocol';
import type { Database, Queryable } from '../db/database.js';
import type { LedgerOp } from '../ledger/apply.js';
import { StockWriter } from '../ledger/writer.js';
import { ProductCreate } from '../schemas/catalog.js';
import { upsertProducts } from '../services/csv-import.js';
import { createApiToken } from '../services/tokens.js';
import { DEMO_BRAND, DEMO_LOCATIONS, type DemoStockLine, demoStock } from './brand.js';
import { demoCatalogue } from './catalogue.js';
import { Random } from './random.js';

/** Any constant: the same seed gives the same catalogue and stock everywhere. */
const DEMO_SEED = 20_240_601;

export interface DemoTokens {
  hq: string;
  /** A store manager of store-paris-1. */
  storeManager: string;
  channel: string;
}

export type SeedResult =
  | { seeded: false }
  | {
      seeded: true;
      brand: string;
      locations: number;
      products: number;
      stockRows: number;
      tokens: DemoTokens;
    };

/**
 * Fill an empty database with the demo brand: locations, catalogue, opening stock (received and
 * given reorder points through the ledger, like any other stock) and one API token per demo role.
 * All in one transaction; a database that already holds locations or products is left alone.
 */
export async function seedDemo(db: Database): Promise<SeedResult> {
  const random = new Random(DEMO_SEED);
  const products = demoCatalogue(random).map((p) => ProductCreate.parse(p));
  const stock = demoStock(
    random,
    products.map((p) => p.sku),
  );
  const writer = new StockWriter(db);
  return writer.write(async (tx, apply) => {
    if (!(await isEmpty(tx))) return { seeded: false };
    await insertLocations(tx);
    await upsertProducts(tx, products);
    await apply(openingStockOps(writer, stock));
    const paris = 'store-paris-1';
    const tokens: DemoTokens = {
      hq: (await createApiToken(tx, { name: 'demo hq', role: 'hq' })).token,
      storeManager: (
        await createApiToken(tx, { name: `demo manager ${paris}`, role: 'store_manager', locationId: paris })
      ).token,
      channel: (await createApiToken(tx, { name: 'demo web shop', role: 'channel' })).token,
    };
    return {
      seeded: true,
      brand: DEMO_BRAND,
      locations: DEMO_LOCATIONS.length,
      products: products.length,
      stockRows: stock.length,
      tokens,
    };
  });
}

async function isEmpty(tx: Queryable): Promise<boolean> {
  const { rows } = await tx.query<{ n: number }>(
    'SELECT (SELECT count(*) FROM locations)::int + (SELECT count(*) FROM products)::int AS n',
  );
  return rows[0]?.n === 0;
}

async function insertLocations(tx: Queryable): Promise<void> {
  const ls = DEMO_LOCATIONS;
  await tx.query(
    `INSERT INTO locations (id, name, kind, timezone, priority, safety_stock, active)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::bool[])`,
    [
      ls.map((l) => l.id),
      ls.map((l) => l.name),
      ls.map((l) => l.kind),
      ls.map((l) => l.timezone),
      ls.map((l) => l.priority),
      ls.map((l) => l.safetyStock),
      ls.map((l) => l.active),
    ],
  );
}

/** One opening delivery per location (split at the op line limit), then each row's reorder point. */
function openingStockOps(writer: StockWriter, stock: readonly DemoStockLine[]): LedgerOp[] {
  const ops: HubOp[] = [];
  for (const location of DEMO_LOCATIONS) {
    const lines = stock
      .filter((s) => s.locationId === location.id && s.onHand > 0)
      .map((s) => ({ sku: s.sku, qty: s.onHand }));
    for (let i = 0; i < lines.length; i += LIMITS.maxLinesPerOp) {
      ops.push({
        type: 'receive',
        opId: newOpId(),
        hlc: writer.clock.tick(),
        locationId: location.id,
        reference: 'demo opening stock',
        lines: lines.slice(i, i + LIMITS.maxLinesPerOp),
      });
    }
  }
  for (const s of stock) {
    ops.push({
      type: 'set_stock',
      opId: newOpId(),
      hlc: writer.clock.tick(),
      locationId: s.locationId,
      sku: s.sku,
      reorderPoint: s.reorderPoint,
    });
  }
  return ops.map((op) => ({ op, actor: 'system', reference: 'demo:seed' }));
}
