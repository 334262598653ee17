/**
 * Till benchmark: how long a cashier waits for a sale to be durable on a till holding a 50,000-SKU
 * catalogue (SQLite WAL, synchronous=FULL, real files), against the raw ceiling of the same disk
 * and settings (a bare better-sqlite3 transaction inserting one row), measured in the same run;
 * the cashier's reads at that size; and the till process's memory with that catalogue.
 *
 *   pnpm bench:till                      (SALES=5000 per sale shape, SKUS=50000)
 *   SALES=1000 SKUS=10000 pnpm bench:till
 *
 * No hub: the catalogue and stock arrive through the till's own code paths for what enrolment and
 * the first hello bring (saveEnrolment, saveCatalog, applyHello with 1,000-row pull pages).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openTillDb, type Product, Till } from '@tillsync/pos-client';
import { HybridClock, LIMITS, StockPush, type StockRow } from '@tillsync/sync-protocol';
import { ratio, summarize } from './lib/stats.js';
import { type Cell, printTable } from './lib/table.js';

const SALES = Number(process.env.SALES ?? 5_000);
const SKUS = Number(process.env.SKUS ?? 50_000);
/** Small catalogue the memory table compares against. */
const SMALL_SKUS = 100;
const READS = 2_000;
/** Sales are timed in rounds alternating with the baseline, so load from other processes hits both alike. */
const ROUNDS = 10;
const LOCATION = 'store-1';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// Deterministic pseudo-random (mulberry32): the same SKUs are picked on every run.
let seed = 42;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
}
const pick = (n: number) => Math.floor(random() * n);

const KINDS = ['lipstick', 'mascara', 'blush', 'foundation', 'eyeliner', 'serum', 'powder', 'gloss'];
const SHADES = ['ruby', 'nude', 'coral', 'plum', 'ivory', 'amber', 'rose', 'jet', 'sand', 'berry'];
const skuOf = (i: number) => `SKU-${String(i).padStart(6, '0')}`;
const barcodeOf = (i: number) => String(3_600_000_000_000 + i);

function catalogue(n: number): Product[] {
  return Array.from({ length: n }, (_, i) => ({
    sku: skuOf(i),
    name: `${SHADES[i % SHADES.length]} ${KINDS[Math.floor(i / SHADES.length) % KINDS.length]} ${i}`,
    barcode: barcodeOf(i),
    category: KINDS[Math.floor(i / SHADES.length) % KINDS.length]!,
    priceMinor: 500 + (i % 5_000),
    currency: 'EUR',
    active: true,
  }));
}

/** A till enrolled at LOCATION with `n` products and their stock, as enrolment and the first hello leave it. */
function provisionTill(dir: string, n: number): { till: Till; loadMs: number } {
  const started = performance.now();
  const till = Till.open({ dataDir: dir });
  till.replica.saveEnrolment({
    deviceId: 'till-1',
    locationId: LOCATION,
    name: 'Till 1',
    token: 't',
    hubUrl: 'x',
  });
  till.replica.saveCatalog(catalogue(n), Date.now());
  const pages: StockPush[] = [];
  for (let from = 0; from < n; from += LIMITS.maxRowsPerPage) {
    const rows: StockRow[] = [];
    for (let i = from; i < Math.min(n, from + LIMITS.maxRowsPerPage); i++) {
      rows.push({
        locationId: LOCATION,
        sku: skuOf(i),
        onHand: 1_000_000,
        reserved: 0,
        incoming: 0,
        damaged: 0,
        reorderPoint: 5,
        version: 1,
        countHlc: null,
      });
    }
    pages.push(StockPush.parse({ fromCursor: String(from), cursor: String(from + rows.length), rows }));
  }
  const hub = new HybridClock('hub');
  till.replica.applyHello(
    {
      protocolVersion: 1,
      serverTime: Date.now(),
      serverHlc: hub.tick(),
      deviceId: 'till-1',
      locationId: LOCATION,
      lastAckedSeq: 0,
      stockCursor: String(n),
    },
    pages,
    0,
  );
  return { till, loadMs: performance.now() - started };
}

/**
 * The raw ceiling: one-row transactions on a bare connection. Opened by the till's own openTillDb
 * so the pragmas (exclusive lock, WAL, synchronous=FULL) are the till's by construction.
 */
function openRaw(dir: string): { insert: () => void; close: () => void } {
  const db = openTillDb(dir);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  const stmt = db.prepare('INSERT INTO t (v) VALUES (?)');
  const tx = db.transaction(() => stmt.run('sale'));
  return { insert: () => tx(), close: () => db.close() };
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function memoryOf(dataDir: string, skuCount: number): { rss: number; heapUsed: number; external: number } {
  const skus = Array.from({ length: 50 }, () => skuOf(pick(skuCount)));
  const out = execFileSync(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      '--conditions=@tillsync/source',
      'test/bench/till-memory.ts',
      dataDir,
      ...skus,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'bench-till-'));
  dirs.push(d);
  return d;
};

try {
  const bigDir = tempDir();
  const smallDir = tempDir();
  const loaded = provisionTill(bigDir, SKUS);
  loaded.till.close();
  provisionTill(smallDir, SMALL_SKUS).till.close();
  const small = memoryOf(smallDir, SMALL_SKUS);
  const big = memoryOf(bigDir, SKUS);
  const till = Till.open({ dataDir: bigDir });
  const raw = openRaw(tempDir());

  const single = () => till.cashier.sell({ lines: [{ ref: skuOf(pick(SKUS)), qty: 1 }] });
  const fiveLines = () =>
    till.cashier.sell({
      lines: Array.from({ length: 5 }, () => ({ ref: skuOf(pick(SKUS)), qty: 1 + pick(3) })),
    });
  // Warm up (statement caches, JIT) before anything is timed.
  for (let i = 0; i < 100; i++) {
    raw.insert();
    single();
    fiveLines();
  }

  const timings = { raw: [] as number[], single: [] as number[], five: [] as number[] };
  const perRound = Math.ceil(SALES / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < perRound; i++) timings.raw.push(time(raw.insert));
    for (let i = 0; i < perRound; i++) timings.single.push(time(single));
    for (let i = 0; i < perRound; i++) timings.five.push(time(fiveLines));
  }
  raw.close();

  const base = summarize(timings.raw);
  const saleRows: Cell[][] = [
    ['raw ceiling: bare 1-row transaction', base.count, base.p50, base.p99, base.max, '1.0×', '1.0×'],
  ];
  for (const [label, values] of [
    ['till.sell, 1 line', timings.single],
    ['till.sell, 5 lines', timings.five],
  ] as const) {
    const s = summarize(values);
    saleRows.push([label, s.count, s.p50, s.p99, s.max, ratio(s.p50, base.p50), ratio(s.p99, base.p99)]);
  }
  printTable(
    `Local sale commit, ${SKUS} SKUs in the catalogue (WAL, synchronous=FULL; ms; target p99 < 2 ms)`,
    ['what', 'commits', 'p50', 'p99', 'max', 'p50 vs raw', 'p99 vs raw'],
    saleRows,
  );

  // The cashier's reads, as the cashier service makes them.
  const reads: Array<[string, () => unknown]> = [
    ['product by SKU (scan)', () => till.cashier.product(skuOf(pick(SKUS)))],
    ['product by barcode (scan)', () => till.cashier.product(barcodeOf(pick(SKUS)))],
    ['stock here by barcode', () => till.cashier.stock(barcodeOf(pick(SKUS)))],
    ['search "blush" (many matches)', () => till.cashier.searchProducts('blush', 20)],
    ['search "ruby mascara 4" (few)', () => till.cashier.searchProducts('ruby mascara 4', 20)],
    ['search "SKU-0499" (SKU prefix)', () => till.cashier.searchProducts('SKU-0499', 20)],
    ['search "zzz" (no match)', () => till.cashier.searchProducts('zzz', 20)],
  ];
  const readRows: Cell[][] = [];
  for (const [label, fn] of reads) {
    const n = label.startsWith('search') ? READS / 10 : READS;
    for (let i = 0; i < 20; i++) fn();
    const s = summarize(Array.from({ length: n }, () => time(fn)));
    readRows.push([label, s.count, s.p50, s.p99, s.max]);
  }
  printTable(`Cashier reads, ${SKUS} SKUs (ms)`, ['read', 'calls', 'p50', 'p99', 'max'], readRows);
  const pendingOps = till.cashier.status().outboxDepth;
  till.close();

  // Memory again, now that the 50k till also holds its unsynced sales (an offline day).
  const mb = (b: number) => b / 1_048_576;
  const memRows: Cell[][] = [
    [`${SMALL_SKUS} SKUs (baseline)`, mb(small.rss), mb(small.heapUsed), '1.0×', '1.0×'],
  ];
  for (const [label, m] of [
    [`${SKUS} SKUs`, big],
    [`${SKUS} SKUs + ${pendingOps} unsynced sales`, memoryOf(bigDir, SKUS)],
  ] as const) {
    memRows.push([
      label,
      mb(m.rss),
      mb(m.heapUsed),
      ratio(m.rss, small.rss),
      ratio(m.heapUsed, small.heapUsed),
    ]);
  }
  printTable(
    'Till process memory after opening its data directory and a few scans (MB)',
    ['catalogue', 'RSS', 'V8 heap used', 'RSS vs baseline', 'heap vs baseline'],
    memRows,
  );
  console.log(
    `Loading ${SKUS} products + stock rows (enrolment + first hello path): ${loaded.loadMs.toFixed(0)} ms`,
  );
} finally {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
