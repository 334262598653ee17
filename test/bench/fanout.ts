/**
 * Fan-out benchmark: TILLS real socket.io tills of one store are connected to a hub (its own
 * process); a receipt posted over REST changes one stock row; how long until every till got the
 * 'stock' event? Baselines in the same run: the same with 1 and 10 tills connected, and the REST
 * round trip of the receipt itself. Also the hub's memory per connected till. PGlite and Postgres.
 *
 *   pnpm bench:fanout                  (TILLS = 500, REPS = 30)
 *   TILLS=200 REPS=10 BENCH_DB=postgres pnpm bench:fanout
 *   BENCH_PROFILE=/tmp/prof pnpm bench:fanout      (the hub runs under node --cpu-prof)
 */
import { PROTOCOL_VERSION } from '@tillsync/sync-protocol';
import type { Database } from '../../hub/src/db/database.js';
import { createDevice, enrol } from '../../hub/src/services/devices.js';
import { seedCatalog } from '../../hub/test/helpers/fixtures.js';
import { connectRaw, type RawTill } from '../../hub/test/helpers/sync-client.js';
import { benchDatabases } from './lib/databases.js';
import { hubMemory, startSeparateHub } from './lib/separate-hub.js';
import { type LatencySummary, percentile, ratio, summarize } from './lib/stats.js';
import { type Cell, printTable } from './lib/table.js';

const TILLS = Number(process.env.TILLS ?? 500);
const REPS = Number(process.env.REPS ?? 30);
const STORE = 'store-1';
const SKU = 'FAN-0001';
/** Tills connecting at once: the handshake queries the database, a burst of 500 would only queue. */
const CONNECT_BATCH = 25;
const MB = 1024 * 1024;

/**
 * Devices of one store, created and enrolled through the hub's own device service before the hub
 * starts: POST /v1/devices/enrol is rate limited to 10 a minute (it guards one-time codes).
 */
async function seed(db: Database): Promise<string[]> {
  await seedCatalog(db, {
    locations: [{ id: STORE }],
    products: [{ sku: SKU }, ...Array.from({ length: 49 }, (_, i) => ({ sku: `FAN-${i + 2}` }))],
    stock: [{ locationId: STORE, sku: SKU, onHand: 10 }],
  });
  const tokens: string[] = [];
  for (let i = 0; i < TILLS; i++) {
    const { enrolmentCode } = await createDevice(db, { locationId: STORE, name: `Till ${i}` });
    tokens.push((await enrol(db, enrolmentCode)).token);
  }
  return tokens;
}

interface Rep {
  /** Per till: ms from sending the receipt to its 'stock' event. */
  arrivals: number[];
  /** Ms from sending the receipt to its 201. */
  rest: number;
}

/** Post a one-unit receipt and time its 201 and every connected till's 'stock' event. */
async function oneChange(url: string, adminToken: string, tills: RawTill[]): Promise<Rep> {
  const arrivals: number[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => {
    done = r;
  });
  const t0 = performance.now();
  const listeners = tills.map((socket) => {
    const on = () => {
      arrivals.push(performance.now() - t0);
      socket.off('stock', on);
      if (arrivals.length === tills.length) done();
    };
    socket.on('stock', on);
    return [socket, on] as const;
  });
  const res = await fetch(`${url}/v1/locations/${STORE}/receipts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ lines: [{ sku: SKU, qty: 1 }] }),
  });
  const rest = performance.now() - t0;
  if (res.status !== 201) throw new Error(`receipt refused: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
  const timeout = setTimeout(() => done(), 10_000);
  await all;
  clearTimeout(timeout);
  for (const [socket, on] of listeners) socket.off('stock', on);
  if (arrivals.length !== tills.length) {
    throw new Error(`only ${arrivals.length} of ${tills.length} tills got the change within 10 s`);
  }
  return { arrivals, rest };
}

interface Measure {
  tills: number;
  perTill: LatencySummary;
  /** The slowest till of each repetition: when the change had reached the whole store. */
  lastTill: LatencySummary;
  rest: LatencySummary;
}

async function measure(url: string, adminToken: string, tills: RawTill[]): Promise<Measure> {
  // Warm up: the first changes compile the paths involved.
  for (let i = 0; i < 10; i++) await oneChange(url, adminToken, tills);
  const reps: Rep[] = [];
  for (let i = 0; i < REPS; i++) {
    reps.push(await oneChange(url, adminToken, tills));
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    tills: tills.length,
    perTill: summarize(reps.flatMap((r) => r.arrivals)),
    lastTill: summarize(reps.map((r) => Math.max(...r.arrivals))),
    rest: summarize(reps.map((r) => r.rest)),
  };
}

async function connectTills(url: string, tokens: readonly string[]): Promise<RawTill[]> {
  const sockets: RawTill[] = [];
  for (let i = 0; i < tokens.length; i += CONNECT_BATCH) {
    const batch = tokens.slice(i, i + CONNECT_BATCH);
    const connected = await Promise.all(
      batch.map((token) => connectRaw(url, { token, protocolVersion: PROTOCOL_VERSION })),
    );
    sockets.push(...connected.map((c) => c.socket));
  }
  return sockets;
}

/**
 * The hub's memory from a few /metrics reads: RSS as their median; the heap as their minimum,
 * which is the nearest to a heap just collected (one read is one instant of a heap GC keeps moving).
 */
async function settledMemory(url: string, adminToken: string): Promise<{ rss: number; heapUsed: number }> {
  const samples = [];
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 200));
    samples.push(await hubMemory(url, adminToken));
  }
  return {
    rss: percentile(
      samples.map((s) => s.rss),
      50,
    ),
    heapUsed: Math.min(...samples.map((s) => s.heapUsed)),
  };
}

const latencyRows: Cell[][] = [];
const memoryRows: Cell[][] = [];
for (const db of benchDatabases()) {
  const hub = await startSeparateHub(db, seed);
  const tokens = hub.seeded;
  try {
    const results: Measure[] = [];
    const first = await connectTills(hub.url, tokens.slice(0, 1));
    results.push(await measure(hub.url, hub.adminToken, first));
    const ten = [...first, ...(await connectTills(hub.url, tokens.slice(1, 10)))];
    results.push(await measure(hub.url, hub.adminToken, ten));
    const before = await settledMemory(hub.url, hub.adminToken);
    const all = [...ten, ...(await connectTills(hub.url, tokens.slice(10)))];
    const after = await settledMemory(hub.url, hub.adminToken);
    results.push(await measure(hub.url, hub.adminToken, all));
    for (const socket of all) socket.close();

    const base = results[0]!;
    for (const r of results) {
      latencyRows.push([
        db,
        r.tills,
        r.rest.p50,
        r.perTill.p50,
        r.perTill.p99,
        r.lastTill.p50,
        r.lastTill.p99,
        ratio(r.lastTill.p50, base.lastTill.p50),
        ratio(r.lastTill.p50, r.rest.p50),
      ]);
    }
    const added = all.length - ten.length;
    memoryRows.push([
      db,
      added,
      before.rss / MB,
      after.rss / MB,
      (after.rss - before.rss) / added / 1024,
      (after.heapUsed - before.heapUsed) / added / 1024,
    ]);
  } finally {
    await hub.close();
  }
}

printTable(
  `Fan-out: a REST receipt reaches every connected till of the store (${REPS} repetitions each; ms)`,
  [
    'database',
    'tills',
    'receipt 201 p50',
    'per-till p50',
    'per-till p99',
    'last till p50',
    'last till p99',
    'last till p50 vs 1 till',
    'last till p50 vs receipt 201',
  ],
  latencyRows,
);
printTable(
  'Hub memory per connected till (hub process, /metrics, 10 reads each before and after: RSS median, heap minimum)',
  [
    'database',
    'tills added',
    'RSS before (MiB)',
    'RSS after (MiB)',
    'RSS per till (KiB)',
    'heap per till (KiB)',
  ],
  memoryRows,
);
