import { encodeHlc, MemoryLedger, newOpId, type StockRow, TillOp } from '@tillsync/sync-protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locationRows } from '../../hub/src/ledger/stock-feed.js';
import { applyPush } from '../../hub/src/sync/push.js';
import { buildTestHub, type TestHub } from '../../hub/test/helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from '../../hub/test/helpers/fixtures.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';

/*
 * Convergence through the real hub (SQL ledger, push path, idempotency), not just the reducer:
 * several tills make ops on one location along one timeline (HLC order); the hub receives their
 * batches in any interleaving, with whole batches resent (lost acks), and must end with exactly
 * the rows the protocol's reducer gives for the set of ops, each op ledgered once.
 */

const SKUS = ['SKU-A', 'SKU-B'] as const;
const DEVICES = ['t1', 't2', 't3'] as const;
const NUM_RUNS = 25;

const sku = fc.constantFrom(...SKUS);
const qty = fc.integer({ min: 1, max: 4 });
const lines = fc.array(fc.record({ sku, qty }), { minLength: 1, maxLength: 2 });
const body = fc.oneof(
  lines.map((ls) => ({
    type: 'sale',
    receiptId: 'r',
    lines: ls.map((l) => ({ ...l, unitPriceMinor: 100 })),
  })),
  lines.map((ls) => ({
    type: 'return',
    receiptId: 'r',
    lines: ls.map((l) => ({ ...l, unitPriceMinor: 100, condition: 'sellable' })),
  })),
  lines.map((ls) => ({ type: 'receive', lines: ls })),
  lines.map((ls) => ({ type: 'adjust', reason: 'damage', lines: ls })),
  fc
    .uniqueArray(fc.record({ sku, counted: fc.integer({ min: 0, max: 12 }) }), {
      minLength: 1,
      maxLength: 2,
      selector: (l) => l.sku,
    })
    .map((ls) => ({ type: 'count', lines: ls })),
);

/** Ops along one timeline, each made by some till; and a delivery plan: (till, batch size, resend?). */
const scenario = fc.record({
  made: fc.array(fc.tuple(fc.constantFrom(...DEVICES), body), { minLength: 1, maxLength: 24 }),
  deliveries: fc.array(fc.tuple(fc.constantFrom(...DEVICES), fc.integer({ min: 1, max: 4 }), fc.boolean()), {
    minLength: 1,
    maxLength: 40,
  }),
});

/** What must agree: every stock figure and the version, by SKU. */
function settled(rows: StockRow[]) {
  return rows
    .map(({ sku: s, onHand, reserved, incoming, damaged, version }) => ({
      sku: s,
      onHand,
      reserved,
      incoming,
      damaged,
      version,
    }))
    .sort((a, b) => a.sku.localeCompare(b.sku));
}

describe(`settlement through the hub on ${testDbKind()}: any interleaving and resends converge`, () => {
  let hub: TestHub;
  let run = 0;

  beforeAll(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, { locations: [], products: SKUS.map((s) => ({ sku: s })) });
  });
  afterAll(async () => {
    await hub.close();
  });

  it('ends with the reducer’s rows for the set of ops, every op ledgered once', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ made, deliveries }) => {
        // A fresh location and tills per run: runs share one database.
        run += 1;
        const loc = `loc-${run}`;
        const db = hub.database.db;
        await db.query("INSERT INTO locations (id, name, kind) VALUES ($1, $1, 'store')", [loc]);
        const deviceId = (d: string) => `${loc}-${d}`;
        for (const d of DEVICES) {
          await db.query(
            'INSERT INTO devices (id, location_id, name, enrolled_at) VALUES ($1, $2, $1, now())',
            [deviceId(d), loc],
          );
        }

        // Each till's ops in its seq order; HLC walls follow the shared timeline.
        const queues = new Map<string, TillOp[]>(DEVICES.map((d) => [d, []]));
        const all: TillOp[] = made.map(([d, b], i) => {
          const mine = queues.get(d)!;
          const op = TillOp.parse({
            ...b,
            opId: newOpId(),
            seq: mine.length + 1,
            hlc: encodeHlc({ wall: 1_700_000_000_000 + i, counter: 0, node: deviceId(d) }),
            locationId: loc,
          });
          mine.push(op);
          return op;
        });

        // Deliver: batches from the tills in the planned interleaving, some resent; then the rest.
        const sent = new Map<string, number>(DEVICES.map((d) => [d, 0]));
        const ctx = { stock: hub.app.stock, reservations: hub.app.reservationFeed };
        const deliver = async (d: string, size: number, resend: boolean) => {
          const queue = queues.get(d)!;
          const from = sent.get(d)!;
          const batch = queue.slice(from, from + size);
          if (batch.length === 0) return;
          const device = { deviceId: deviceId(d), locationId: loc };
          const ack = await applyPush(ctx, device, batch);
          expect(ack.lastAckedSeq).toBe(from + batch.length);
          if (resend) {
            const again = await applyPush(ctx, device, batch);
            expect(again.results.map((r) => r.status)).toEqual(batch.map(() => 'duplicate'));
          }
          sent.set(d, from + batch.length);
        };
        for (const [d, size, resend] of deliveries) await deliver(d, size, resend);
        for (const d of DEVICES) await deliver(d, 1_000, false);

        const oracle = new MemoryLedger();
        for (const op of all) oracle.apply(op);
        expect(settled(await locationRows(db, loc))).toEqual(settled([...oracle.rows.values()]));

        const { rows } = await db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM movements WHERE location_id = $1',
          [loc],
        );
        expect(rows[0]!.n).toBe(oracle.movements.length);
      }),
      { numRuns: NUM_RUNS },
    );
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
  });
});
