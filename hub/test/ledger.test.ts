import { newOpId } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StockWriter } from '../src/ledger/writer.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { createTestDatabase, type TestDatabase, testDbKind } from './helpers/test-db.js';

describe(`the ledger write path on ${testDbKind()}`, () => {
  let database: TestDatabase;
  let writer: StockWriter;
  beforeEach(async () => {
    database = await createTestDatabase();
    writer = new StockWriter(database.db);
    await seedCatalog(database.db, {
      locations: [{ id: 'store-a' }, { id: 'store-b' }],
      products: [{ sku: 'SKU-1' }, { sku: 'SKU-2' }, { sku: 'SKU-3' }],
      stock: [
        { locationId: 'store-a', sku: 'SKU-1', onHand: 5 },
        { locationId: 'store-a', sku: 'SKU-2', onHand: 5 },
      ],
    });
  });
  afterEach(() => database.drop());

  const sale = (locationId: string, sku: string, qty: number) => ({
    op: {
      type: 'adjust' as const,
      reason: 'shrink' as const,
      opId: newOpId(),
      hlc: writer.clock.tick(),
      locationId,
      lines: [{ sku, qty }],
    },
    actor: 'system',
  });

  it('records an oversell as applied stock plus an open conflict', async () => {
    await writer.write((_tx, apply) => apply([sale('store-a', 'SKU-1', 7)]));
    const { rows } = await database.db.query<{ on_hand: number; version: number }>(
      "SELECT on_hand, version FROM stock WHERE location_id = 'store-a' AND sku = 'SKU-1'",
    );
    expect(rows).toEqual([{ on_hand: -2, version: 2 }]);
    const conflicts = await database.db.query<{ kind: string; sku: string; status: string }>(
      'SELECT kind, sku, status FROM conflicts',
    );
    expect(conflicts.rows).toEqual([{ kind: 'oversell', sku: 'SKU-1', status: 'open' }]);
  });

  it('numbers each location’s changes without gaps, even under concurrent writers', async () => {
    const before = await database.db.query<{ last_seq: number }>(
      "SELECT last_seq FROM stock_cursors WHERE location_id = 'store-a'",
    );
    expect(before.rows).toEqual([{ last_seq: 2 }]);
    // 30 concurrent single-op writes over three rows of one location (and one of another).
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        writer.write((_tx, apply) =>
          apply([sale(i % 5 === 0 ? 'store-b' : 'store-a', `SKU-${(i % 3) + 1}`, 1)]),
        ),
      ),
    );
    const { rows } = await database.db.query<{ change_seq: number }>(
      "SELECT change_seq FROM stock WHERE location_id = 'store-a' ORDER BY change_seq",
    );
    const seqs = rows.map((r) => r.change_seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    const cursor = await database.db.query<{ last_seq: number }>(
      "SELECT last_seq FROM stock_cursors WHERE location_id = 'store-a'",
    );
    // 2 seed writes + 24 writes at store-a: the cursor counted every one.
    expect(cursor.rows).toEqual([{ last_seq: 26 }]);
    expect(Math.max(...seqs)).toBe(26);
    expect(await ledgerMismatches(database.db)).toEqual([]);
  });

  it('refuses to rewrite history', async () => {
    await expect(database.db.query('UPDATE movements SET d_on_hand = 100')).rejects.toThrow(/append-only/);
    await expect(database.db.query('DELETE FROM movements')).rejects.toThrow(/append-only/);
  });

  it('rolls back every row of a batch when any part fails', async () => {
    const failing = writer.write(async (_tx, apply) => {
      await apply([sale('store-a', 'SKU-1', 1), sale('store-a', 'SKU-2', 1)]);
      throw new Error('boom after apply');
    });
    await expect(failing).rejects.toThrow('boom after apply');
    const { rows } = await database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM movements');
    expect(rows).toEqual([{ n: 2 }]);
    expect(await ledgerMismatches(database.db)).toEqual([]);
  });
});
