/**
 * Hub ingest benchmark: TILLS real socket.io tills (enrolled devices of STORES stores) push
 * batches of BATCH one-line sales, seq-ordered like a till's outbox, each till sending its next
 * batch as soon as the previous one is acked. Measures ops/s applied and ack latency (push sent →
 * ack received). The hub runs as its own process (hub CLI `serve`), so the tills' CPU is not hub
 * time. Two shapes, each with issue 15's targets (lib/targets.ts):
 *   SHAPE=batched (default) — 40 tills in 8 stores, batches of 100: ≥ 20,000 ops/s, within 2× of
 *                             the ceiling; baselines naive and ceiling
 *   SHAPE=online            — 100 tills in 20 stores, one op per push (an online till ringing each
 *                             sale): ≥ 3× naive, ≥ 5,000 ops/s, ack p99 < 50 ms; baseline naive
 * TILLS, STORES, BATCH and BASELINES=naive,ceiling override a shape's settings. With
 * BENCH_BASELINE=<checkout> the hub rows are "before" (that tree's hub) and "after" (this one's),
 * in the same run (lib/hub-tree.ts). Compared in the same run with:
 *   naive   — the same tills and messages against test/bench/ingest/naive-server.ts (one
 *             transaction per op: SELECT … FOR UPDATE, UPDATE, INSERT movement and applied op)
 *   ceiling — the same number of stock row changes as bare UPDATEs in the same batches
 *             (test/bench/ingest/ceiling.ts: pgbench on Postgres, a loop on PGlite)
 * Every run ends by checking the database holds exactly the ops acked (applied_ops, movements,
 * on_hand).
 *
 *   pnpm bench:ingest                       (batched: TILLS = 40, STORES = 8, BATCH = 100, SECONDS = 10)
 *   pnpm bench:online                       (SHAPE=online: TILLS = 100, STORES = 20, BATCH = 1)
 *   BENCH_BASELINE=../main BENCH_DB=postgres SECONDS=5 pnpm bench:online
 *   BENCH_PROFILE=/tmp/prof pnpm bench:ingest    (the hub runs under node --cpu-prof)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HybridClock, newOpId, PROTOCOL_VERSION } from '@tillsync/sync-protocol';
import type { Database } from '../../hub/src/db/database.js';
import { migrate } from '../../hub/src/db/migrate.js';
import { PgliteDatabase } from '../../hub/src/db/pglite.js';
import { connectRaw, push, type RawTill } from '../../hub/test/helpers/sync-client.js';
import { createTestDatabase, testDatabaseUrl } from '../../hub/test/helpers/test-db.js';
import { freePort, postgresStorage } from '../chaos/processes.js';
import { type CeilingShape, loopCeiling, pgbenchCeiling, skuId, storeId } from './ingest/ceiling.js';
import { type BenchDb, benchDatabases } from './lib/databases.js';
import { type HubKit, THIS_TREE, type TreeLabel, turnLabel, turns } from './lib/hub-tree.js';
import { hubCpuSeconds, startSeparateHub } from './lib/separate-hub.js';
import { ratio, summarize } from './lib/stats.js';
import { type Cell, printTable } from './lib/table.js';
import { atLeast, atMost, below, judge, reportTargets, type Target, type TargetRow } from './lib/targets.js';

const SHAPES = {
  batched: { tills: 40, stores: 8, batch: 100, baselines: 'naive,ceiling' },
  online: { tills: 100, stores: 20, batch: 1, baselines: 'naive' },
} as const;
const SHAPE_NAME = (process.env.SHAPE ?? 'batched') as keyof typeof SHAPES;
const SHAPE = SHAPES[SHAPE_NAME];
if (!SHAPE) throw new Error(`SHAPE=${process.env.SHAPE}: one of ${Object.keys(SHAPES).join(', ')}`);
const TILLS = Number(process.env.TILLS ?? SHAPE.tills);
const STORES = Number(process.env.STORES ?? SHAPE.stores);
const BATCH = Number(process.env.BATCH ?? SHAPE.batch);
const BASELINES = (process.env.BASELINES ?? SHAPE.baselines).split(',').filter(Boolean);
const SECONDS = Number(process.env.SECONDS ?? 10);
/** The first seconds compile and warm caches: pushed and checked, not measured. */
const WARMUP_S = 2;
const SKUS = 200;
const ON_HAND = 1_000_000;
/** The hub's Postgres pool size (db/postgres.ts): the ceiling gets as many connections. */
const POOL = 10;

interface Seeded {
  tokens: Array<{ token: string; deviceId: string; locationId: string }>;
}

async function seed(db: Database, kit: HubKit): Promise<Seeded> {
  const { seedCatalog, createDevice, enrol } = kit;
  const locations = Array.from({ length: STORES }, (_, i) => storeId(i));
  const skus = Array.from({ length: SKUS }, (_, i) => skuId(i));
  await seedCatalog(db, {
    locations: locations.map((id) => ({ id })),
    products: skus.map((sku) => ({ sku })),
    stock: locations.flatMap((locationId) => skus.map((sku) => ({ locationId, sku, onHand: ON_HAND }))),
  });
  const tokens: Seeded['tokens'] = [];
  for (let i = 0; i < TILLS; i++) {
    const locationId = locations[i % STORES]!;
    const { enrolmentCode } = await createDevice(db, { locationId, name: `Till ${i}`, id: `till-${i}` });
    const e = await enrol(db, enrolmentCode);
    tokens.push({ token: e.token, deviceId: e.deviceId, locationId });
  }
  return { tokens };
}

interface Load {
  opsPerSecond: number;
  /** The server process's CPU time (user + system) per op applied in the measured window. */
  cpuUsPerOp: number;
  /** The Postgres server's CPU time (all its processes) per op in the window; null on PGlite. */
  dbCpuUsPerOp: number | null;
  ackMs: ReturnType<typeof summarize>;
  /** Every op acked, warm-up included: what the database must hold afterwards. */
  sent: number;
}

/** Every till pushes its next batch as soon as the last is acked, for WARMUP_S + SECONDS. */
async function drive(
  url: string,
  tills: Seeded['tokens'],
  cpuSeconds: () => Promise<number>,
  kind: BenchDb,
): Promise<Load> {
  const dbCpu = () => (kind === 'postgres' ? postgresCpuSeconds() : 0);
  const sockets: RawTill[] = [];
  for (let i = 0; i < tills.length; i += 20) {
    const connected = await Promise.all(
      tills
        .slice(i, i + 20)
        .map((t) => connectRaw(url, { token: t.token, protocolVersion: PROTOCOL_VERSION })),
    );
    for (const c of connected) {
      // Other tills' broadcasts still arrive (and cost the hub); nobody keeps them here.
      c.socket.off('stock');
      sockets.push(c.socket);
    }
  }
  const start = performance.now();
  const measureFrom = start + WARMUP_S * 1000;
  const end = measureFrom + SECONDS * 1000;
  const latencies: number[] = [];
  let measuredOps = 0;
  let sent = 0;
  const cpuAtStart = new Promise<[number, number]>((resolve) =>
    setTimeout(async () => resolve([await cpuSeconds(), dbCpu()]), WARMUP_S * 1000),
  );
  await Promise.all(
    tills.map(async (till, i) => {
      const clock = new HybridClock(till.deviceId);
      let seq = 0;
      while (performance.now() < end) {
        const ops = Array.from({ length: BATCH }, () => {
          seq++;
          return {
            type: 'sale',
            opId: newOpId(),
            seq,
            hlc: clock.tick(),
            locationId: till.locationId,
            receiptId: `r-${seq}`,
            lines: [{ sku: skuId(Math.floor(Math.random() * SKUS)), qty: 1, unitPriceMinor: 1000 }],
            payments: [{ method: 'card', amountMinor: 1000 }],
          };
        });
        const t0 = performance.now();
        const reply = await push(sockets[i]!, ops);
        const t1 = performance.now();
        if (!reply.ok) throw new Error(`push refused: ${reply.error.message}`);
        const ack = reply.value;
        if (ack.lastAckedSeq !== seq || ack.results.some((r) => r.status !== 'applied')) {
          throw new Error(`till ${till.deviceId}: not all applied: ${JSON.stringify(ack.results[0])}`);
        }
        sent += BATCH;
        if (t0 >= measureFrom) {
          latencies.push(t1 - t0);
          measuredOps += BATCH;
        }
      }
    }),
  );
  const seconds = (performance.now() - measureFrom) / 1000;
  const [cpuStart, dbCpuStart] = await cpuAtStart;
  const cpu = (await cpuSeconds()) - cpuStart;
  const dbCpuSpent = dbCpu() - dbCpuStart;
  for (const s of sockets) s.close();
  return {
    opsPerSecond: measuredOps / seconds,
    cpuUsPerOp: (cpu * 1e6) / measuredOps,
    dbCpuUsPerOp: kind === 'postgres' ? (dbCpuSpent * 1e6) / measuredOps : null,
    ackMs: summarize(latencies),
    sent,
  };
}

/** The database holds exactly the `sent` sales: remembered, in the ledger, and off the shelves. */
async function verify(db: Database, sent: number): Promise<void> {
  const { rows } = await db.query<{ applied: number; movements: number; sold: number }>(
    `SELECT (SELECT count(*)::int FROM applied_ops WHERE status = 'applied') AS applied,
            (SELECT count(*)::int FROM movements WHERE op_type = 'sale') AS movements,
            (SELECT (count(*) * ${ON_HAND} - sum(on_hand))::int FROM stock) AS sold`,
  );
  const r = rows[0]!;
  if (r.applied !== sent || r.movements !== sent || r.sold !== sent) {
    throw new Error(`sent ${sent} sales; applied_ops ${r.applied}, movements ${r.movements}, sold ${r.sold}`);
  }
}

/** A seeded database of its own for the naive server (and then the ceiling). */
async function scratchDatabase(kind: BenchDb) {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-naive-'));
  if (kind === 'pglite') {
    const dataDir = join(scratch, 'db');
    let db: Database = await PgliteDatabase.open(dataDir);
    await migrate(db);
    const seeded = await seed(db, THIS_TREE.kit);
    await db.close();
    return {
      seeded,
      env: { DATABASE_URL: '', TILLSYNC_DATA_DIR: dataDir },
      schema: null,
      open: async () => {
        db = await PgliteDatabase.open(dataDir);
        return db;
      },
      drop: async () => {
        await db.close();
        rmSync(scratch, { recursive: true, force: true });
      },
    };
  }
  const test = await createTestDatabase('postgres');
  const seeded = await seed(test.db, THIS_TREE.kit);
  const storage = postgresStorage(test.schema!) as { databaseUrl: string };
  return {
    seeded,
    env: { DATABASE_URL: storage.databaseUrl },
    schema: test.schema!,
    open: async () => test.db,
    drop: async () => {
      await test.drop();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** A process's CPU seconds (user + system) from /proc (Linux). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds of every process of the local Postgres server (postmaster, backends, WAL writer,
 * checkpointer…): what the database spends, on this machine where it runs next to the hub. The
 * pools keep their backends for the whole window, so no backend's time is lost by its exit.
 */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres')
        total += processCpuSeconds(Number(pid));
    } catch {
      // The process ended between listing and reading.
    }
  }
  return total;
}

async function startNaive(env: NodeJS.ProcessEnv, port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@tillsync/source', 'test/bench/ingest/naive-server.ts'],
    { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (l) => l.includes('naive listening') && resolve());
    child.once('exit', (code) => reject(new Error(`naive server exited (${code})`)));
  });
  return child;
}

const dbCpu = (load: Load): Cell =>
  load.dbCpuUsPerOp === null ? '(in the server)' : Math.round(load.dbCpuUsPerOp);

/** Issue 15's targets for this shape (Postgres; PGlite: no worse than before by > 10 %). */
const TARGETS: Array<Target & { of: (load: Load, naive?: Load, ceiling?: number) => number | undefined }> =
  SHAPE_NAME === 'online'
    ? [
        {
          name: 'online: ops/s',
          goal: '≥ 5,000',
          met: atLeast(5_000),
          better: 'higher',
          of: (l) => l.opsPerSecond,
        },
        {
          name: 'online: ÷ naive (same run)',
          goal: '≥ 3×',
          met: atLeast(3),
          better: 'higher',
          unit: '×',
          of: (l, naive) => (naive ? l.opsPerSecond / naive.opsPerSecond : undefined),
        },
        {
          name: 'online: ack p99',
          goal: '< 50 ms',
          met: below(50),
          better: 'lower',
          unit: 'ms',
          of: (l) => l.ackMs.p99,
        },
      ]
    : [
        {
          name: 'batched: ops/s',
          goal: '≥ 20,000',
          met: atLeast(20_000),
          better: 'higher',
          of: (l) => l.opsPerSecond,
        },
        {
          name: 'batched: ceiling ÷ hub (same run)',
          goal: '≤ 2×',
          met: atMost(2),
          better: 'lower',
          unit: '×',
          of: (l, _naive, ceiling) => (ceiling ? ceiling / l.opsPerSecond : undefined),
        },
      ];

/** The target column of a hub row: "yes", or which targets it misses (Postgres only). */
function metCell(kind: BenchDb, load: Load, naive?: Load, ceiling?: number): string {
  if (kind !== 'postgres') return '(PGlite: vs before)';
  const missed = TARGETS.filter((t) => {
    const v = t.of(load, naive, ceiling);
    return v !== undefined && !t.met(v);
  });
  return missed.length === 0
    ? 'yes'
    : `no: ${missed.map((t) => `${t.name.split(': ')[1]} ${t.goal}`).join('; ')}`;
}

const shape: CeilingShape = { stores: STORES, skus: SKUS, batch: BATCH, seconds: SECONDS };
const rows: Cell[][] = [];
const targetRows: TargetRow[] = [];
for (const kind of benchDatabases()) {
  // Tillsync: the hub CLI in its own process, before and after alternating.
  const runs: Array<{ label: string; tree: TreeLabel; load: Load }> = [];
  for (const turn of await turns()) {
    const hub = await startSeparateHub(kind, seed, { tree: turn.tree });
    let load: Load | undefined;
    try {
      load = await drive(hub.url, hub.seeded.tokens, () => hubCpuSeconds(hub.url, hub.adminToken), kind);
    } finally {
      await hub.close(async (db) => {
        if (load) await verify(db, load.sent);
      });
    }
    runs.push({ label: turnLabel(turn), tree: turn.tree.label, load });
  }

  // Naive, then the ceiling, on a database of their own.
  let naive: Load | undefined;
  let ceiling: number | undefined;
  if (BASELINES.length > 0) {
    const scratch = await scratchDatabase(kind);
    try {
      if (BASELINES.includes('naive')) {
        const port = await freePort();
        const child = await startNaive(scratch.env, port);
        try {
          naive = await drive(
            `http://127.0.0.1:${port}`,
            scratch.seeded.tokens,
            async () => processCpuSeconds(child.pid!),
            kind,
          );
        } finally {
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          await exited;
        }
      }
      const db = await scratch.open();
      if (naive) await verify(db, naive.sent);
      if (BASELINES.includes('ceiling')) {
        ceiling =
          kind === 'postgres'
            ? await pgbenchCeiling(testDatabaseUrl(), scratch.schema!, POOL, shape)
            : await loopCeiling(db, shape);
      }
    } finally {
      await scratch.drop();
    }
  }

  const row = (server: string, l: Load, met: string): Cell[] => [
    kind,
    server,
    Math.round(l.opsPerSecond),
    l.ackMs.p50,
    l.ackMs.p99,
    Math.round(l.cpuUsPerOp),
    dbCpu(l),
    naive ? ratio(l.opsPerSecond, naive.opsPerSecond) : '',
    ceiling ? ratio(ceiling, l.opsPerSecond) : '',
    met,
  ];
  for (const r of runs)
    rows.push(row(`Tillsync hub (${r.label})`, r.load, metCell(kind, r.load, naive, ceiling)));
  if (naive) rows.push(row('naive (tx per op)', naive, ''));
  if (ceiling) {
    rows.push([
      kind,
      kind === 'postgres' ? `ceiling: pgbench -c ${POOL}, bare UPDATE` : 'ceiling: bare UPDATE loop',
      Math.round(ceiling),
      ...Array.from({ length: 7 }, () => ''),
    ]);
  }
  for (const t of TARGETS) {
    const values = (tree: TreeLabel) =>
      runs
        .filter((r) => r.tree === tree)
        .map((r) => t.of(r.load, naive, ceiling))
        .filter((v): v is number => v !== undefined);
    if (values('after').length === 0) continue;
    targetRows.push(judge(t, kind, { before: values('before'), after: values('after') }));
  }
}

const title = `${TILLS} tills in ${STORES} stores push batches of ${BATCH} one-line sales as fast as acks come back (${SECONDS} s measured after ${WARMUP_S} s warm-up; ceiling = stock row changes/s)`;
printTable(
  `Hub ingest (${SHAPE_NAME}): ${title}`,
  [
    'database',
    'server',
    'ops/s',
    'ack p50 (ms)',
    'ack p99 (ms)',
    'server CPU µs/op',
    'Postgres CPU µs/op',
    '÷ naive',
    'ceiling ÷ server',
    'targets met? (Postgres)',
  ],
  rows,
);
console.log(`all acked ops verified in applied_ops, movements and on_hand after every run`);
reportTargets(`Issue 15 targets, ingest (${SHAPE_NAME}: ${TILLS} tills × ${BATCH}-op pushes)`, targetRows);
