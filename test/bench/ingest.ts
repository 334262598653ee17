/**
 * Hub ingest benchmark: TILLS real socket.io tills (enrolled devices of STORES stores) push
 * batches of BATCH one-line sales, seq-ordered like a till's outbox, each till sending its next
 * batch as soon as the previous one is acked. Measures ops/s applied and ack latency (push sent →
 * ack received). The hub runs as its own process (hub CLI `serve`), so the tills' CPU is not hub
 * time. Compared in the same run with:
 *   naive   — the same tills and messages against test/bench/ingest/naive-server.ts (one
 *             transaction per op: SELECT … FOR UPDATE, UPDATE, INSERT movement and applied op)
 *   ceiling — the same number of stock row changes as bare UPDATEs in the same batches
 *             (test/bench/ingest/ceiling.ts: pgbench on Postgres, a loop on PGlite)
 * Every run ends by checking the database holds exactly the ops acked (applied_ops, movements,
 * on_hand).
 *
 *   pnpm bench:ingest                       (TILLS = 40, STORES = 8, BATCH = 100, SECONDS = 10)
 *   BENCH_DB=postgres TILLS=100 pnpm bench:ingest
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
import { createDevice, enrol } from '../../hub/src/services/devices.js';
import { seedCatalog } from '../../hub/test/helpers/fixtures.js';
import { connectRaw, push, type RawTill } from '../../hub/test/helpers/sync-client.js';
import { createTestDatabase, testDatabaseUrl } from '../../hub/test/helpers/test-db.js';
import { freePort, postgresStorage } from '../chaos/processes.js';
import { type CeilingShape, loopCeiling, pgbenchCeiling, skuId, storeId } from './ingest/ceiling.js';
import { type BenchDb, benchDatabases } from './lib/databases.js';
import { startSeparateHub } from './lib/separate-hub.js';
import { ratio, summarize } from './lib/stats.js';
import { type Cell, printTable } from './lib/table.js';

const TILLS = Number(process.env.TILLS ?? 40);
const STORES = Number(process.env.STORES ?? 8);
const BATCH = Number(process.env.BATCH ?? 100);
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

async function seed(db: Database): Promise<Seeded> {
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
    const seeded = await seed(db);
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
  const seeded = await seed(test.db);
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

/** The hub's own CPU seconds, as its /metrics reports them. */
async function hubCpuSeconds(url: string, adminToken: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
  const m = /^process_cpu_seconds_total(?:\{[^}]*\})? (\S+)$/m.exec(await res.text());
  if (!m) throw new Error('process_cpu_seconds_total missing from /metrics');
  return Number(m[1]);
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

const shape: CeilingShape = { stores: STORES, skus: SKUS, batch: BATCH, seconds: SECONDS };
const rows: Cell[][] = [];
for (const kind of benchDatabases()) {
  // Tillsync: the hub CLI in its own process.
  const hub = await startSeparateHub(kind, seed);
  let ours: Load | undefined;
  try {
    ours = await drive(hub.url, hub.seeded.tokens, () => hubCpuSeconds(hub.url, hub.adminToken), kind);
  } finally {
    await hub.close(async (db) => {
      if (ours) await verify(db, ours.sent);
    });
  }

  // Naive, then the ceiling, on a database of their own.
  const scratch = await scratchDatabase(kind);
  let naive: Load | undefined;
  let ceiling = 0;
  try {
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
    const db = await scratch.open();
    await verify(db, naive.sent);
    ceiling =
      kind === 'postgres'
        ? await pgbenchCeiling(testDatabaseUrl(), scratch.schema!, POOL, shape)
        : await loopCeiling(db, shape);
  } finally {
    await scratch.drop();
  }

  rows.push(
    [
      kind,
      'Tillsync hub',
      Math.round(ours!.opsPerSecond),
      ours!.ackMs.p50,
      ours!.ackMs.p99,
      Math.round(ours!.cpuUsPerOp),
      dbCpu(ours!),
      '1×',
      '',
      '',
    ],
    [
      kind,
      'naive (tx per op)',
      Math.round(naive!.opsPerSecond),
      naive!.ackMs.p50,
      naive!.ackMs.p99,
      Math.round(naive!.cpuUsPerOp),
      dbCpu(naive!),
      ratio(naive!.opsPerSecond, ours!.opsPerSecond),
      ratio(ours!.opsPerSecond, naive!.opsPerSecond),
      '',
    ],
    [
      kind,
      kind === 'postgres' ? `ceiling: pgbench -c ${POOL}, bare UPDATE` : 'ceiling: bare UPDATE loop',
      Math.round(ceiling),
      '',
      '',
      '',
      '',
      ratio(ceiling, ours!.opsPerSecond),
      '',
      ratio(ceiling, ours!.opsPerSecond),
    ],
  );
}

printTable(
  `Hub ingest: ${TILLS} tills in ${STORES} stores push batches of ${BATCH} one-line sales as fast as acks come back (${SECONDS} s measured after ${WARMUP_S} s warm-up; ceiling = stock row changes/s)`,
  [
    'database',
    'server',
    'ops/s',
    'ack p50 (ms)',
    'ack p99 (ms)',
    'server CPU µs/op',
    'Postgres CPU µs/op',
    'vs Tillsync',
    'Tillsync ÷ naive',
    'ceiling ÷ Tillsync',
  ],
  rows,
);
console.log(`all acked ops verified in applied_ops, movements and on_hand after every run`);
