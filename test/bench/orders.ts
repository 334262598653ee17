/**
 * Online orders benchmark: autocannon against POST /v1/orders on a hub in its own process, every
 * request a distinct order (its own Idempotency-Key and customerRef), pickup at one store:
 *   - spread: the orders cycle over SKUS SKUs (rows rarely contend);
 *   - hot: every order takes the same SKU at the same store (they queue on that stock row's lock).
 * At a fixed offered rate (RATE req/s) and flat out (max throughput). Baselines in the same run at
 * the same rate: GET /healthz (the HTTP stack, no database) and GET /v1/products/:sku (plus the
 * token lookup and one read). At the end, the stock invariants are checked on the hub's database.
 * Latencies are autocannon's raw per-request times: no coordinated-omission correction (the
 * rate-limited runs set ignoreCoordinatedOmission; flat-out runs have none to correct).
 * Issue 15's targets (Postgres): ≥ 1,000 orders/s sustained at 1,000 offered with p99 < 50 ms, and
 * the hot SKU ≥ 500 orders/s flat out. With BENCH_BASELINE=<checkout>, every load runs on the
 * baseline's hub ("before") and this tree's ("after"), alternating (lib/hub-tree.ts).
 *
 *   pnpm bench:orders                     (RATE = 1000, DURATION = SECONDS = 8 s per load)
 *   RATE=500 DURATION=5 BENCH_DB=postgres pnpm bench:orders
 *   BENCH_PROFILE=/tmp/prof pnpm bench:orders      (the hub runs under the CPU profiler)
 *   LOADS=spread-max,hot-max pnpm bench:orders      (only these loads)
 */
import autocannon from 'autocannon';
import type { Database } from '../../hub/src/db/database.js';
import { benchDatabases } from './lib/databases.js';
import { type HubKit, type TreeLabel, turnLabel, turns } from './lib/hub-tree.js';
import { hubCpuSeconds, startSeparateHub } from './lib/separate-hub.js';
import { ratio } from './lib/stats.js';
import { type Cell, groupedRows, type KeyedRow, printTable } from './lib/table.js';
import { atLeast, below, judge, reportTargets, type Target, type TargetRow } from './lib/targets.js';

const RATE = Number(process.env.RATE ?? 1_000);
const DURATION = Number(process.env.DURATION ?? process.env.SECONDS ?? 8);
/** Enough connections that the offered rate holds while requests take up to CONNECTIONS / RATE s. */
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 100);
/** Few connections below saturation: each second starts with a burst of one request per connection. */
const HALF_CONNECTIONS = 10;
/** LOADS=spread,hot-max runs only those loads (ids below). */
const ONLY = process.env.LOADS?.split(',');
const STORE = 'store-1';
const SKUS = 1_000;
const HOT = 'HOT-1';
const skuOf = (n: number) => `SKU-${String(n % SKUS).padStart(4, '0')}`;

async function seed(
  db: Database,
  { seedCatalog, createApiToken }: HubKit,
): Promise<{ channelToken: string }> {
  const skus = Array.from({ length: SKUS }, (_, i) => skuOf(i));
  // Far more stock than the runs can order: every order should get its 201.
  await seedCatalog(db, {
    locations: [{ id: STORE }],
    products: [...skus, HOT].map((sku) => ({ sku })),
    stock: [
      ...skus.map((sku) => ({ locationId: STORE, sku, onHand: 100_000 })),
      { locationId: STORE, sku: HOT, onHand: 10_000_000 },
    ],
  });
  return { channelToken: (await createApiToken(db, { name: 'bench web shop', role: 'channel' })).token };
}

let orderNo = 0;
/** A new order on every request: its own key and customer, one unit of `sku(n)`. */
function orderRequest(sku: (n: number) => string): autocannon.Request {
  return {
    method: 'POST',
    path: '/v1/orders',
    setupRequest: (req) => {
      const n = ++orderNo;
      return {
        ...req,
        headers: { ...req.headers, 'idempotency-key': `bench-${n}` },
        body: JSON.stringify({
          channel: 'web',
          customerRef: `cust-${n}`,
          lines: [{ sku: sku(n), qty: 1 }],
          fulfilment: { type: 'pickup', pickupLocationId: STORE },
        }),
      };
    },
  };
}

interface Load {
  name: string;
  requests: autocannon.Request[];
  /** Offered rate in req/s; flat out when omitted. */
  rate?: number;
  duration?: number;
  /** autocannon rate-limits per connection and per wall-clock second: every connection fires at the tick. */
  connections?: number;
}

type NamedLoad = Load & { id: string; token: string; floor?: boolean };

interface Outcome {
  reqPerSec: number;
  /** 2xx answers per second. */
  okPerSec: number;
  p50: number;
  p99: number;
  ok: number;
  total: number;
  errors: number;
}

async function fire(url: string, token: string, load: Load): Promise<Outcome> {
  const result = await autocannon({
    url,
    connections: load.connections ?? CONNECTIONS,
    duration: load.duration ?? DURATION,
    // autocannon corrects a rate-limited run for coordinated omission with an expected interval of
    // ceil(1 / per-connection rate) = 1 ms, which turns every slow answer into hundreds of made-up
    // samples: the raw latencies are reported instead.
    ...(load.rate ? { overallRate: load.rate, ignoreCoordinatedOmission: true } : {}),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    requests: load.requests,
  });
  const total = result.requests.total;
  const ok = Object.entries(result.statusCodeStats ?? {})
    .filter(([code]) => code.startsWith('2'))
    .reduce((sum, [, s]) => sum + (s.count ?? 0), 0);
  return {
    reqPerSec: total / result.duration,
    okPerSec: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok,
    total,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

/**
 * Invariants after the runs: every stock row equals its ledger, and what is reserved equals the
 * units held by orders (nothing else reserves here).
 */
async function invariantViolations(
  db: Database,
  ledgerMismatches: HubKit['ledgerMismatches'],
): Promise<number> {
  const ledger = await ledgerMismatches(db);
  const { rows } = await db.query(`
    SELECT s.location_id, s.sku, s.reserved, COALESCE(a.held, 0) AS held
    FROM stock s
    LEFT JOIN (SELECT location_id, sku, sum(qty)::int AS held FROM allocations WHERE status = 'held'
               GROUP BY location_id, sku) a USING (location_id, sku)
    WHERE s.reserved <> COALESCE(a.held, 0) OR s.reserved > s.on_hand`);
  for (const r of [...ledger, ...rows]) console.error('invariant broken:', r);
  return ledger.length + rows.length;
}

/** Issue 15's targets, each read off one load's outcome. */
const TARGETS: Array<Target & { load: string; of: (o: Outcome) => number }> = [
  {
    name: `orders: 201s/s at ${RATE.toLocaleString('en-US')} offered (spread)`,
    goal: '≥ 1,000 (990: 1 % for the pacing)',
    met: atLeast(990),
    better: 'higher',
    load: 'spread',
    of: (o) => o.okPerSec,
  },
  {
    name: `orders: p99 at ${RATE.toLocaleString('en-US')} offered (spread, raw)`,
    goal: '< 50 ms',
    met: below(50),
    better: 'lower',
    unit: 'ms',
    load: 'spread',
    of: (o) => o.p99,
  },
  {
    name: 'orders: flat out (spread)',
    goal: '≥ 1,000',
    met: atLeast(1_000),
    better: 'higher',
    load: 'spread-max',
    of: (o) => o.okPerSec,
  },
  {
    name: 'orders: hot SKU flat out',
    goal: '≥ 500',
    met: atLeast(500),
    better: 'higher',
    load: 'hot-max',
    of: (o) => o.okPerSec,
  },
];

/** The target column of a row: "yes", "no", or empty for a load no target reads (Postgres only). */
function metCell(db: string, loadId: string, o: Outcome): string {
  const mine = TARGETS.filter((t) => t.load === loadId);
  if (mine.length === 0) return '';
  if (db !== 'postgres') return '(PGlite: vs before)';
  const missed = mine.filter((t) => !t.met(t.of(o)));
  return missed.length === 0 ? 'yes' : `no: ${missed.map((t) => t.goal).join('; ')}`;
}

/** Rows keyed by database and load, so each load's before and after print side by side. */
const rows: KeyedRow[] = [];
const checks: Cell[][] = [];
const targetRows: TargetRow[] = [];
for (const db of benchDatabases()) {
  const outcomes: Array<{ tree: TreeLabel; load: string; o: Outcome }> = [];
  for (const turn of await turns()) {
    const code = turnLabel(turn);
    const hub = await startSeparateHub(db, seed, { tree: turn.tree });
    const channel = hub.seeded.channelToken;
    const spread = [orderRequest(skuOf)];
    const hot = [orderRequest(() => HOT)];
    const loads: NamedLoad[] = [
      {
        id: 'healthz',
        name: 'GET /healthz (floor)',
        token: channel,
        rate: RATE,
        floor: true,
        requests: [{ path: '/healthz' }],
      },
      {
        id: 'product',
        name: 'GET /v1/products/:sku',
        token: hub.adminToken,
        rate: RATE,
        requests: [{ path: `/v1/products/${HOT}` }],
      },
      { id: 'spread', name: 'POST /v1/orders, spread SKUs', token: channel, rate: RATE, requests: spread },
      { id: 'hot', name: 'POST /v1/orders, one hot SKU', token: channel, rate: RATE, requests: hot },
      { id: 'spread-max', name: 'POST /v1/orders, spread SKUs', token: channel, requests: spread },
      // One request at a time: the service time of an order, what the noise of a shared machine
      // disturbs least (its p50), against the same for the HTTP stack.
      {
        id: 'healthz-1',
        name: 'GET /healthz, 1 connection',
        token: channel,
        connections: 1,
        duration: Math.ceil(DURATION / 2),
        requests: [{ path: '/healthz' }],
      },
      {
        id: 'spread-1',
        name: 'POST /v1/orders, 1 connection',
        token: channel,
        connections: 1,
        requests: spread,
        duration: Math.ceil(DURATION / 2),
      },
      { id: 'hot-max', name: 'POST /v1/orders, one hot SKU', token: channel, requests: hot },
    ];
    if (ONLY) loads.splice(0, loads.length, ...loads.filter((l) => ONLY.includes(l.id)));
    try {
      // Warm up: the first orders compile the paths and fill the pool.
      await fire(hub.url, channel, { name: 'warm-up', requests: spread, rate: 200, duration: 2 });
      let floor: Outcome | undefined;
      let floor1: Outcome | undefined;
      for (const load of loads) {
        const cpuBefore = await hubCpuSeconds(hub.url, hub.adminToken);
        const o = await fire(hub.url, load.token, load);
        const cpuMs = ((await hubCpuSeconds(hub.url, hub.adminToken)) - cpuBefore) * 1000;
        if (load.floor) floor = o;
        if (load.id === 'healthz-1') floor1 = o;
        // Below saturation: half the throughput just measured flat out, where latency is service
        // time rather than queueing (a hub short of RATE only shows its queue at RATE).
        if (load.id === 'spread-max') {
          loads.push({
            id: 'spread-half',
            name: `POST /v1/orders, spread SKUs (½ max, ${HALF_CONNECTIONS} connections)`,
            token: channel,
            connections: HALF_CONNECTIONS,
            rate: Math.max(1, Math.round(o.reqPerSec / 2)),
            requests: spread,
          });
        }
        outcomes.push({ tree: turn.tree.label, load: load.id, o });
        rows.push({
          key: `${db} ${load.name}`,
          cells: [
            db,
            code,
            load.name,
            load.rate ?? 'max',
            Math.round(o.reqPerSec),
            o.p50,
            o.p99,
            `${((100 * o.ok) / Math.max(1, o.total)).toFixed(1)}%`,
            cpuMs / Math.max(1, o.total),
            floor && load.connections !== 1 ? ratio(o.p99, floor.p99) : '',
            // One connection: time per request = 1 / req/s (autocannon's percentiles are whole ms).
            floor1 && load.connections === 1 ? ratio(floor1.reqPerSec, o.reqPerSec) : '',
            metCell(db, load.id, o),
          ],
        });
      }
    } finally {
      const broken = await hub.close((d) => invariantViolations(d, turn.tree.kit.ledgerMismatches));
      checks.push([db, code, orderNo, broken ?? 'not checked']);
    }
  }
  for (const t of TARGETS) {
    const values = (tree: TreeLabel) =>
      outcomes.filter((x) => x.tree === tree && x.load === t.load).map((x) => t.of(x.o));
    if (values('after').length > 0)
      targetRows.push(judge(t, db, { before: values('before'), after: values('after') }));
  }
}

printTable(
  `Online orders: autocannon, ${CONNECTIONS} connections, ${DURATION} s per run (latency in ms, raw: no coordinated-omission correction)`,
  [
    'database',
    'code',
    'load',
    'offered req/s',
    'req/s',
    'p50',
    'p99',
    '2xx',
    'hub CPU ms / req',
    'p99 vs /healthz',
    'time per request vs /healthz, 1 conn.',
    'target met? (Postgres)',
  ],
  groupedRows(rows),
);
printTable(
  'Stock invariants after the runs (ledger = stock rows; reserved = units held by orders)',
  ['database', 'code', 'orders sent (all runs so far)', 'violations'],
  checks,
);
reportTargets('Issue 15 targets, online orders', targetRows);
