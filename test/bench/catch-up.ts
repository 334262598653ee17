/**
 * Catch-up benchmark: a till with N queued ops reconnects; how long until its outbox is drained
 * and its view equals the hub's? Run on PGlite and, with TEST_DATABASE_URL, on Postgres.
 *
 *   pnpm bench:catch-up            (N = 10000)
 *   N=2000 pnpm bench:catch-up
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrolTill, SyncAgent } from '@tillsync/pos-client';
import { TestHubServer } from '../e2e/helpers/test-hub-server.js';
import { type BenchDb, benchDatabases, useDatabase } from './lib/databases.js';
import { type Cell, printTable } from './lib/table.js';

const N = Number(process.env.N ?? 10_000);
const SKUS = 200;

async function run(db: BenchDb, batchSize: number): Promise<{ seconds: number; opsPerSecond: number }> {
  useDatabase(db);
  const hub = await TestHubServer.start();
  const dir = mkdtempSync(join(tmpdir(), 'bench-till-'));
  try {
    const skus = Array.from({ length: SKUS }, (_, i) => `SKU-${String(i).padStart(4, '0')}`);
    await hub.seed({
      locations: [{ id: 'store-1' }],
      products: skus.map((sku) => ({ sku, priceMinor: 999 })),
      stock: skus.map((sku) => ({ locationId: 'store-1', sku, onHand: 1_000 })),
    });
    const till = await enrolTill({
      dataDir: dir,
      hubUrl: hub.url,
      enrolmentCode: await hub.enrolmentCode('store-1'),
    });
    for (let i = 0; i < N; i++) till.cashier.sell({ lines: [{ ref: skus[i % SKUS]!, qty: 1 }] });
    const agent = new SyncAgent(till.replica, { batchSize });
    if (process.env.BENCH_TRACE) {
      const ack = till.replica.applyAck.bind(till.replica);
      let spent = 0;
      till.replica.applyAck = (a) => {
        const t0 = performance.now();
        ack(a);
        spent += performance.now() - t0;
        console.log(
          `ack ${a.lastAckedSeq}: till side ${(performance.now() - t0).toFixed(1)} ms (total ${spent.toFixed(0)})`,
        );
      };
    }
    const started = performance.now();
    agent.start();
    await agent.drained(600_000);
    const seconds = (performance.now() - started) / 1000;
    await agent.stop();
    till.close();
    const { rows } = await hub.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM applied_ops WHERE status = 'applied'",
    );
    if (rows[0]!.n !== N) throw new Error(`expected ${N} applied ops, hub has ${rows[0]!.n}`);
    return { seconds, opsPerSecond: N / seconds };
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const batchSizes = (process.env.BATCHES ?? '100,500').split(',').map(Number);
const rows: Cell[][] = [];
for (const db of benchDatabases()) {
  for (const batchSize of batchSizes) {
    const r = await run(db, batchSize);
    rows.push([db, N, batchSize, r.seconds, Math.round(r.opsPerSecond)]);
  }
}
printTable(
  `Catch-up: a till reconnects with ${N} queued sales`,
  ['database', 'queued ops', 'batch size', 'drain time (s)', 'ops/s'],
  rows,
);
