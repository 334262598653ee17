/**
 * Catch-up benchmark: a till with N queued ops reconnects; how long until its outbox is drained
 * and its view equals the hub's? The hub runs as its own process (hub CLI `serve`); PGlite and,
 * with TEST_DATABASE_URL, Postgres; before and after with BENCH_BASELINE (lib/hub-tree.ts).
 * Issue 15's target (Postgres): 100,000 queued ops drain in < 15 s (judged at the agent's default
 * batch size, LIMITS.maxOpsPerBatch). The sales are rung with synchronous=NORMAL to queue them
 * quickly (not measured); the till then reopens with its defaults (FULL) and drains.
 *
 *   pnpm bench:catch-up            (N = 100000, BATCHES = 100,500)
 *   N=2000 BATCHES=500 pnpm bench:catch-up
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrolTill, SyncAgent, Till } from '@tillsync/pos-client';
import { LIMITS } from '@tillsync/sync-protocol';
import type { Database } from '../../hub/src/db/database.js';
import { type BenchDb, benchDatabases } from './lib/databases.js';
import { type HubKit, type HubTree, type TreeLabel, turnLabel, turns } from './lib/hub-tree.js';
import { startSeparateHub } from './lib/separate-hub.js';
import { groupedRows, type KeyedRow, printTable } from './lib/table.js';
import { judge, reportTargets, type TargetRow } from './lib/targets.js';

const N = Number(process.env.N ?? 100_000);
const SKUS = 200;
const STORE = 'store-1';
const skus = Array.from({ length: SKUS }, (_, i) => `SKU-${String(i).padStart(4, '0')}`);

async function seed(db: Database, { seedCatalog, createDevice }: HubKit): Promise<string> {
  await seedCatalog(db, {
    locations: [{ id: STORE }],
    products: skus.map((sku) => ({ sku, priceMinor: 999 })),
    // Enough that no sale oversells (an oversell takes another path).
    stock: skus.map((sku) => ({ locationId: STORE, sku, onHand: 1_000 + Math.ceil(N / SKUS) })),
  });
  return (await createDevice(db, { locationId: STORE, name: 'catch-up till' })).enrolmentCode;
}

async function run(
  db: BenchDb,
  tree: HubTree,
  batchSize: number,
): Promise<{ seconds: number; opsPerSecond: number }> {
  const hub = await startSeparateHub(db, seed, { tree });
  const dir = mkdtempSync(join(tmpdir(), 'bench-till-'));
  let seconds = 0;
  let applied: number | undefined;
  try {
    const filling = await enrolTill({
      dataDir: dir,
      hubUrl: hub.url,
      enrolmentCode: hub.seeded,
      synchronous: 'NORMAL',
    });
    for (let i = 0; i < N; i++) filling.cashier.sell({ lines: [{ ref: skus[i % SKUS]!, qty: 1 }] });
    filling.close();
    const till = Till.open({ dataDir: dir });
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
    seconds = (performance.now() - started) / 1000;
    await agent.stop();
    till.close();
  } finally {
    applied = await hub.close(async (d) => {
      const { rows } = await d.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM applied_ops WHERE status = 'applied'",
      );
      return rows[0]!.n;
    });
    rmSync(dir, { recursive: true, force: true });
  }
  if (applied !== N) throw new Error(`expected ${N} applied ops, hub has ${applied}`);
  return { seconds, opsPerSecond: N / seconds };
}

const batchSizes = (process.env.BATCHES ?? '100,500').split(',').map(Number);
const rows: KeyedRow[] = [];
const targetRows: TargetRow[] = [];
for (const db of benchDatabases()) {
  const drains: Array<{ tree: TreeLabel; batchSize: number; seconds: number }> = [];
  for (const turn of await turns()) {
    for (const batchSize of batchSizes) {
      const r = await run(db, turn.tree, batchSize);
      drains.push({ tree: turn.tree.label, batchSize, seconds: r.seconds });
      const met =
        db === 'postgres' && batchSize === LIMITS.maxOpsPerBatch
          ? (r.seconds * 100_000) / N < 15
            ? 'yes'
            : 'no'
          : '';
      rows.push({
        key: `${db} ${batchSize}`,
        cells: [db, turnLabel(turn), N, batchSize, r.seconds, Math.round(r.opsPerSecond), met],
      });
    }
  }
  const judged = batchSizes.includes(LIMITS.maxOpsPerBatch) ? LIMITS.maxOpsPerBatch : batchSizes.at(-1)!;
  // The target is for 100,000 ops: another N is judged by its time scaled to 100,000.
  const scaled = (tree: TreeLabel) =>
    drains.filter((d) => d.tree === tree && d.batchSize === judged).map((d) => (d.seconds * 100_000) / N);
  targetRows.push(
    judge(
      {
        name: `catch-up: 100,000 queued ops drain (batch ${judged}${N === 100_000 ? '' : `, ${N} scaled`})`,
        goal: '< 15 s',
        met: (s) => s < 15,
        better: 'lower',
        unit: 's',
      },
      db,
      { before: scaled('before'), after: scaled('after') },
    ),
  );
}
printTable(
  `Catch-up: a till reconnects with ${N} queued sales (hub in its own process)`,
  [
    'database',
    'code',
    'queued ops',
    'batch size',
    'drain time (s)',
    'ops/s',
    'target met? (Postgres, < 15 s per 100,000)',
  ],
  groupedRows(rows),
);
reportTargets('Issue 15 targets, catch-up', targetRows);
