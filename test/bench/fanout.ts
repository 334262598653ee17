/**
 * Fan-out benchmark: TILLS real socket.io tills of one store are connected to a hub (its own
 * process); a receipt posted over REST changes one stock row; how long from its commit until
 * every till got the 'stock' event? Baselines in the same run: the same with 1 and 10 tills
 * connected, and the REST round trip of the receipt itself. Also the hub's memory per connected
 * till. PGlite and Postgres; before and after with BENCH_BASELINE (lib/hub-tree.ts).
 *
 * "Commit → till" is measured without touching the protocol: the receipt's movement row carries
 * hub_time = clock_timestamp() of its INSERT, inside the committing transaction; after the run the
 * benchmark reads those instants from the database and subtracts them from each till's receive
 * instant (performance.timeOrigin + now(), the same machine's clock). The INSERT precedes the
 * commit by the rest of the transaction, so this is an upper bound of commit → till. Every instant
 * is checked to fall between sending the receipt and its 201 (which follows the commit).
 * Issue 15's target (Postgres): p50 ≤ 6 ms, p99 ≤ 50 ms per till with 500 connected.
 *
 *   pnpm bench:fanout                  (TILLS = 500, REPS = 30)
 *   TILLS=200 REPS=10 BENCH_DB=postgres pnpm bench:fanout
 *   BENCH_PROFILE=/tmp/prof pnpm bench:fanout      (the hub runs under node --cpu-prof)
 */
import { PROTOCOL_VERSION } from '@tillsync/sync-protocol';
import type { Database } from '../../hub/src/db/database.js';
import { connectRaw, type RawTill } from '../../hub/test/helpers/sync-client.js';
import { benchDatabases } from './lib/databases.js';
import { type HubKit, type TreeLabel, turnLabel, turns } from './lib/hub-tree.js';
import { hubMemory, startSeparateHub } from './lib/separate-hub.js';
import { type LatencySummary, percentile, summarize } from './lib/stats.js';
import { type Cell, groupedRows, type KeyedRow, printTable } from './lib/table.js';
import { atMost, judge, reportTargets, type Target, type TargetRow } from './lib/targets.js';

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
async function seed(db: Database, { seedCatalog, createDevice, enrol }: HubKit): Promise<string[]> {
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

/** Now on the wall clock, in ms with the monotonic clock's resolution (comparable with the database's). */
const wallNow = () => performance.timeOrigin + performance.now();

interface Rep {
  /** Wall instants (ms): receipt sent, its 201 received, each till's 'stock' event. */
  sent: number;
  answered: number;
  arrivals: number[];
}

/** Post a one-unit receipt and note the instants of its 201 and every connected till's 'stock' event. */
async function oneChange(url: string, adminToken: string, tills: RawTill[]): Promise<Rep> {
  const arrivals: number[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => {
    done = r;
  });
  const listeners = tills.map((socket) => {
    const on = () => {
      arrivals.push(wallNow());
      socket.off('stock', on);
      if (arrivals.length === tills.length) done();
    };
    socket.on('stock', on);
    return [socket, on] as const;
  });
  const sent = wallNow();
  const res = await fetch(`${url}/v1/locations/${STORE}/receipts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ lines: [{ sku: SKU, qty: 1 }] }),
  });
  const answered = wallNow();
  if (res.status !== 201) throw new Error(`receipt refused: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
  const timeout = setTimeout(() => done(), 10_000);
  await all;
  clearTimeout(timeout);
  for (const [socket, on] of listeners) socket.off('stock', on);
  if (arrivals.length !== tills.length) {
    throw new Error(`only ${arrivals.length} of ${tills.length} tills got the change within 10 s`);
  }
  return { sent, answered, arrivals };
}

/** Every receipt of a hub, in the order posted (warm-ups included), and which phase it served. */
interface Phase {
  tills: number;
  /** Indexes into the hub's receipts of the measured repetitions. */
  reps: number[];
}

async function measure(url: string, adminToken: string, tills: RawTill[], receipts: Rep[]): Promise<Phase> {
  // Warm up: the first changes compile the paths involved.
  for (let i = 0; i < 10; i++) receipts.push(await oneChange(url, adminToken, tills));
  const reps: number[] = [];
  for (let i = 0; i < REPS; i++) {
    reps.push(receipts.length);
    receipts.push(await oneChange(url, adminToken, tills));
    await new Promise((r) => setTimeout(r, 20));
  }
  return { tills: tills.length, reps };
}

/** The instants (ms since the epoch) the receipts' movements were written, oldest first. */
async function movementInstants(db: Database): Promise<number[]> {
  const { rows } = await db.query<{ ms: number }>(
    `SELECT (extract(epoch FROM hub_time) * 1000)::float8 AS ms FROM movements
     WHERE location_id = $1 AND sku = $2 AND op_type = 'receive' ORDER BY version_after`,
    [STORE, SKU],
  );
  return rows.map((r) => Number(r.ms));
}

interface Measure {
  tills: number;
  /** Receipt sent → 201. */
  rest: LatencySummary;
  /** Movement written (≥ commit − the rest of the transaction) → each till's event. */
  perTill: LatencySummary;
  /** … → the slowest till of each repetition: when the change had reached the whole store. */
  lastTill: LatencySummary;
  /** 201 received → the slowest till (negative: the tills had it before the 201). */
  afterRest: LatencySummary;
}

function summarizePhase(phase: Phase, receipts: Rep[], committed: number[]): Measure {
  const reps = phase.reps.map((i) => ({ ...receipts[i]!, commit: committed[i]! }));
  return {
    tills: phase.tills,
    rest: summarize(reps.map((r) => r.answered - r.sent)),
    perTill: summarize(reps.flatMap((r) => r.arrivals.map((a) => a - r.commit))),
    lastTill: summarize(reps.map((r) => Math.max(...r.arrivals) - r.commit)),
    afterRest: summarize(reps.map((r) => Math.max(...r.arrivals) - r.answered)),
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

/** Issue 15's target, on the phase with every till connected. */
const TARGETS: Array<Target & { of: (m: Measure) => number }> = [
  {
    name: `commit → till p50, ${TILLS} tills`,
    goal: '≤ 6 ms',
    met: atMost(6),
    better: 'lower',
    unit: 'ms',
    of: (m) => m.perTill.p50,
  },
  {
    name: `commit → till p99, ${TILLS} tills`,
    goal: '≤ 50 ms',
    met: atMost(50),
    better: 'lower',
    unit: 'ms',
    of: (m) => m.perTill.p99,
  },
];

const latencyRows: KeyedRow[] = [];
const memoryRows: Cell[][] = [];
const checkRows: Cell[][] = [];
const targetRows: TargetRow[] = [];
for (const db of benchDatabases()) {
  const full: Array<{ tree: TreeLabel; m: Measure }> = [];
  for (const turn of await turns()) {
    const code = turnLabel(turn);
    const hub = await startSeparateHub(db, seed, { tree: turn.tree });
    const tokens = hub.seeded;
    const receipts: Rep[] = [];
    const phases: Phase[] = [];
    let before: { rss: number; heapUsed: number };
    let after: { rss: number; heapUsed: number };
    let committed: number[] | undefined;
    let added = 0;
    try {
      const first = await connectTills(hub.url, tokens.slice(0, 1));
      phases.push(await measure(hub.url, hub.adminToken, first, receipts));
      const ten = [...first, ...(await connectTills(hub.url, tokens.slice(1, 10)))];
      phases.push(await measure(hub.url, hub.adminToken, ten, receipts));
      before = await settledMemory(hub.url, hub.adminToken);
      const all = [...ten, ...(await connectTills(hub.url, tokens.slice(10)))];
      after = await settledMemory(hub.url, hub.adminToken);
      phases.push(await measure(hub.url, hub.adminToken, all, receipts));
      for (const socket of all) socket.close();
      added = all.length - ten.length;
    } finally {
      // PGlite's directory is the hub's while it runs: the instants are read once it stopped.
      committed = await hub.close(movementInstants);
    }
    // The seed's stock arrived as a delivery too: the last movements are this run's receipts.
    const instants = committed!.slice(-receipts.length);
    if (instants.length !== receipts.length) {
      throw new Error(`${receipts.length} receipts posted, ${instants.length} receipt movements found`);
    }
    // PGlite's clock_timestamp() has ms resolution: allow 1 ms either side.
    const outside = receipts.filter(
      (r, i) => instants[i]! < r.sent - 1 || instants[i]! > r.answered + 1,
    ).length;
    checkRows.push([db, code, receipts.length, outside]);

    for (const phase of phases) {
      const m = summarizePhase(phase, receipts, instants);
      if (m.tills === tokens.length) full.push({ tree: turn.tree.label, m });
      latencyRows.push({
        key: `${db} ${m.tills}`,
        cells: [
          db,
          code,
          m.tills,
          m.rest.p50,
          m.perTill.p50,
          m.perTill.p99,
          m.lastTill.p50,
          m.lastTill.p99,
          m.afterRest.p50,
          m.tills === tokens.length && db === 'postgres'
            ? TARGETS.every((t) => t.met(t.of(m)))
              ? 'yes'
              : 'no'
            : '',
        ],
      });
    }
    memoryRows.push([
      db,
      code,
      added,
      before!.rss / MB,
      after!.rss / MB,
      (after!.rss - before!.rss) / added / 1024,
      (after!.heapUsed - before!.heapUsed) / added / 1024,
    ]);
  }
  for (const t of TARGETS) {
    const values = (tree: TreeLabel) => full.filter((f) => f.tree === tree).map((f) => t.of(f.m));
    targetRows.push(judge(t, db, { before: values('before'), after: values('after') }));
  }
}

printTable(
  `Fan-out: a REST receipt reaches every connected till of the store (${REPS} repetitions each; ms; "commit" = the movement's clock_timestamp(), an upper bound)`,
  [
    'database',
    'code',
    'tills',
    'receipt sent → 201 p50',
    'commit → till p50',
    'commit → till p99',
    'commit → last till p50',
    'commit → last till p99',
    '201 → last till p50',
    `target met? (Postgres, ${TILLS} tills)`,
  ],
  groupedRows(latencyRows),
);
printTable(
  'Check: each movement instant lies between sending its receipt and the 201 (±1 ms)',
  ['database', 'code', 'receipts', 'outside'],
  checkRows,
);
printTable(
  'Hub memory per connected till (hub process, /metrics, 10 reads each before and after: RSS median, heap minimum)',
  [
    'database',
    'code',
    'tills added',
    'RSS before (MiB)',
    'RSS after (MiB)',
    'RSS per till (KiB)',
    'heap per till (KiB)',
  ],
  memoryRows,
);
reportTargets('Issue 15 targets, commit → till', targetRows);
