import { newOpId } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../hub/src/db/database.js';
import { locationRows } from '../../hub/src/ledger/stock-feed.js';
import { StockWriter } from '../../hub/src/ledger/writer.js';
import { seedCatalog } from '../../hub/test/helpers/fixtures.js';
import { createTestDatabase, type TestDatabase, testDbKind } from '../../hub/test/helpers/test-db.js';
import { checkInvariants } from './chaos-run.js';

/** The chaos run's checker finds each kind of violation it claims to (a check that cannot fail proves nothing). */
describe(`chaos invariant checks on ${testDbKind()}`, () => {
  let test: TestDatabase;
  let db: Database;

  beforeEach(async () => {
    test = await createTestDatabase();
    db = test.db;
    await seedCatalog(db, {
      locations: [{ id: 'store-1' }],
      products: [{ sku: 'SKU-1' }],
      stock: [{ locationId: 'store-1', sku: 'SKU-1', onHand: 5 }],
    });
  });
  afterEach(() => test.drop());

  const run = async (
    views: Map<string, unknown[]>,
    done = new Map<string, { till: string; type: string; effects: number }>(),
  ) => {
    const report = {
      checked: { ops: 0, opsBeforeKills: 0, rows: 0, reservations: 0 },
      violations: [] as string[],
    };
    await checkInvariants(db, {
      done,
      beforeKill: new Set(),
      views,
      locationOf: new Map([['till-1', 'store-1']]),
      report,
    });
    return report;
  };

  it('passes a consistent database and a till that sees what the hub has', async () => {
    const report = await run(new Map([['till-1', await locationRows(db, 'store-1')]]));
    expect(report.violations).toEqual([]);
    expect(report.checked.rows).toBe(1);
  });

  it('reports a lost op, a till view that differs, a row off its ledger and an over-reservation', async () => {
    const view = (await locationRows(db, 'store-1')).map((r) => ({ ...r, onHand: r.onHand - 1 }));
    // A reservation of more than was available (the orders service never writes one).
    const writer = new StockWriter(db);
    await writer.write((_tx, apply) =>
      apply([
        {
          op: {
            type: 'reserve',
            opId: newOpId(),
            hlc: writer.clock.tick(),
            locationId: 'store-1',
            orderId: 'o-1',
            lines: [{ sku: 'SKU-1', qty: 9 }],
          },
          actor: 'system',
        },
      ]),
    );
    await db.query(`UPDATE stock SET damaged = damaged + 1 WHERE sku = 'SKU-1'`);
    const lost = newOpId();
    const report = await run(
      new Map([['till-1', view]]),
      new Map([[lost, { till: 'till-1', type: 'sale', effects: 1 }]]),
    );
    const kinds = report.violations.map((v) => v.split(':')[0]);
    expect(kinds).toEqual(['invariant 1', 'invariant 2', 'invariant 3', 'invariant 5']);
    expect(report.violations[0]).toContain(lost);
  });
});
