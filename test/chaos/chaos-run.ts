import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Database } from '../../hub/src/db/database.js';
import { migrate } from '../../hub/src/db/migrate.js';
import { PgliteDatabase } from '../../hub/src/db/pglite.js';
import { locationRows } from '../../hub/src/ledger/stock-feed.js';
import { ensureBootstrapAdmin } from '../../hub/src/services/tokens.js';
import { ledgerMismatches, seedCatalog } from '../../hub/test/helpers/fixtures.js';
import { createTestDatabase } from '../../hub/test/helpers/test-db.js';
import { requestEnrolmentCode } from '../e2e/helpers/test-hub-server.js';
import { FaultProxy } from './fault-proxy.js';
import { freePort, HubProcess, type HubStorage, postgresStorage, TillProcess } from './processes.js';
import { mulberry32, shuffle } from './random.js';
import { WebhookReceiver } from './webhook-receiver.js';

/*
 * A chaos run: tills in several stores ring random sales, returns, counts, deliveries and pickups
 * while a seeded scheduler partitions them, cuts and delays their links, drops the hub's replies,
 * kills the hub and tills with SIGKILL and restarts them, terminates the hub's Postgres backends,
 * jumps tills' wall clocks, takes the brand's webhook receiver down, and a web channel places
 * orders over REST through its own faulty link. Then the network heals, everything goes quiet,
 * and the run checks DESIGN.md's invariants against the hub's database, and that every webhook
 * event reached the receiver. The same seed schedules the same
 * faults and ops (timings still vary with the machine).
 */

export type DbKind = 'pglite' | 'postgres';

export interface ChaosOptions {
  seed: number;
  durationMs: number;
  tills: number;
  stores: number;
  dbKind: DbKind;
  /** How often each till rings a cashier action (default 250 ms). */
  everyMs?: number;
  /** Progress lines (the seed first); silent by default. */
  log?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  dbKind: DbKind;
  tills: number;
  stores: number;
  /** Chaos phase, then the whole run including setup, heal and checks. */
  chaosMs: number;
  totalMs: number;
  /** Ops the tills reported done, by kind. */
  ops: Record<string, number>;
  orders: { created: number; insufficient: number; gaveUp: number; retries: number };
  /** Webhook events the hub queued for the receiver, how many it accepted, outage refusals. */
  webhooks: { events: number; received: number; refusedInOutages: number };
  faults: Record<string, number>;
  /** Ledger movements checked, stock rows compared, reservations replayed. */
  checked: { ops: number; opsBeforeKills: number; rows: number; reservations: number };
  violations: string[];
}

const SKUS = Array.from({ length: 8 }, (_, i) => `SKU-${i + 1}`);
const HOUR_MS = 60 * 60 * 1000;
const SKEW_MS = 3 * HOUR_MS;
/** How far a till's wall clock jumps: a mis-set time zone, a day, a month (either way). */
const CLOCK_JUMPS_MS = [HOUR_MS, 24 * HOUR_MS, 30 * 24 * HOUR_MS];
/** The faults a run injects, with their weights (a link fault, a kill, …, one every 150–700 ms). */
const FAULT_WEIGHTS = [
  ['partition (refuse)', 16],
  ['partition (blackhole)', 14],
  ['cut mid-batch', 16],
  ['dropped replies', 14],
  ['delay', 12],
  ['till kill -9', 14],
  ['till clock jump', 4],
  ['webhook receiver outage', 4],
  ['postgres backend kill', 4],
  ['hub kill -9', 8],
] as const;
type FaultKind = (typeof FAULT_WEIGHTS)[number][0];

/** The events the brand's receiver subscribes to (stock.changed would be one per sale). */
const WEBHOOK_EVENTS = ['order.*', 'conflict.*', 'stock.low'];
/**
 * The chaos hub retries webhooks quickly and long, so a receiver outage of a few seconds is
 * bridged within the run; production defaults are minutes apart (README, Configuration).
 */
const HUB_ENV = {
  // The receiver listens on loopback: allow-listed, as an operator would (README, Webhooks).
  TILLSYNC_WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
  // 0.2 s doubling to 2 s, then every 2 s for about 33 min: longer than any run's outage.
  TILLSYNC_WEBHOOK_RETRY_SCHEDULE: ['0.2', '0.4', '0.8', '1.6', ...Array<string>(1000).fill('2')].join(','),
};

export async function chaosRun(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const random = mulberry32(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo));
  log(`chaos seed ${options.seed} (reproduce: CHAOS_SEED=${options.seed}), ${options.dbKind}`);

  const stores = Array.from({ length: options.stores }, (_, i) => `store-${i + 1}`);
  const scratch = mkdtempSync(join(tmpdir(), 'chaos-'));
  const appName = `tillsync-chaos-${options.seed}`;
  const storage = await prepareDatabase(options.dbKind, scratch, stores, appName);
  const hub = new HubProcess(storage.hub, await freePort(), HUB_ENV);
  const receiver = new WebhookReceiver();
  const faults: Record<string, number> = {};
  const fault = (kind: string) => {
    faults[kind] = (faults[kind] ?? 0) + 1;
  };
  const report: ChaosReport = {
    seed: options.seed,
    dbKind: options.dbKind,
    tills: options.tills,
    stores: options.stores,
    chaosMs: 0,
    totalMs: 0,
    ops: {},
    orders: { created: 0, insufficient: 0, gaveUp: 0, retries: 0 },
    webhooks: { events: 0, received: 0, refusedInOutages: 0 },
    faults,
    checked: { ops: 0, opsBeforeKills: 0, rows: 0, reservations: 0 },
    violations: [],
  };
  const done = new Map<string, { till: string; type: string; effects: number }>();
  const beforeKill = new Set<string>();
  const opsOf = new Map<string, string[]>();
  const tills: TillProcess[] = [];
  const proxies = new Map<string, FaultProxy>();
  let db: Database | null = storage.db;

  try {
    await hub.start();
    await receiver.start();
    const webhookId = await subscribe(hub.url, storage.adminToken, receiver);
    // Tills and the channel each reach the hub through a proxy of their own, so faults hit one link.
    const target = { host: '127.0.0.1', port: hub.port };
    const skewMs = random() < 0.5 ? SKEW_MS : -SKEW_MS;
    for (let i = 0; i < options.tills; i++) {
      const id = `till-${i + 1}`;
      const proxy = new FaultProxy({ ...target });
      await proxy.start();
      proxies.set(id, proxy);
      const till = new TillProcess(
        id,
        {
          dataDir: join(scratch, id),
          seed: options.seed + i,
          everyMs: options.everyMs ?? 250,
          // The first till's clock is hours off (ahead or behind, by the seed).
          ...(i === 0 ? { skewMs } : {}),
        },
        (t, op) => {
          done.set(op.opId, { till: t.id, type: op.type, effects: op.effects });
          opsOf.get(t.id)?.push(op.opId);
          report.ops[op.type] = (report.ops[op.type] ?? 0) + 1;
        },
      );
      opsOf.set(id, []);
      tills.push(till);
    }
    const channelProxy = new FaultProxy({ ...target });
    await channelProxy.start();
    proxies.set('channel', channelProxy);
    await Promise.all(
      tills.map(async (t, i) => {
        const code = await requestEnrolmentCode(
          hub.url,
          storage.adminToken,
          stores[i % stores.length]!,
          t.id,
        );
        await t.start({ hubUrl: proxies.get(t.id)!.url, code });
      }),
    );
    log(
      `${tills.length} tills in ${stores.length} stores enrolled (till-1's clock ${skewMs / 3_600_000} h off); ` +
        `chaos for ${options.durationMs} ms`,
    );

    // ── chaos ───────────────────────────────────────────────────────────────────────────────
    const chaosStart = Date.now();
    const until = chaosStart + options.durationMs;
    for (const t of tills) t.ring(true);
    const busy = new Set<string>();
    const background: Array<Promise<void>> = [];
    let hubBusy = false;
    let lastHubKill = Date.now();

    const orders = placeOrders({
      url: channelProxy.url,
      token: storage.adminToken,
      stores,
      seed: options.seed,
      until,
      stats: report.orders,
    });

    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    /** A link fault held for a while, then undone (unless the link is in another fault's hands). */
    const onLink = (kind: string, apply: (p: FaultProxy) => void, undo: (p: FaultProxy) => void) => {
      const free = [...proxies.keys()].filter((k) => !busy.has(k));
      if (free.length === 0) return;
      const key = pick(free);
      const proxy = proxies.get(key)!;
      const holdMs = between(300, 3_000);
      busy.add(key);
      fault(kind);
      apply(proxy);
      background.push(
        sleep(holdMs).then(() => {
          undo(proxy);
          busy.delete(key);
        }),
      );
    };

    const faultsByKind: Record<FaultKind, () => Promise<void> | void> = {
      'partition (refuse)': () =>
        onLink(
          'partition (refuse)',
          (p) => p.setMode('refuse'),
          (p) => p.setMode('pass'),
        ),
      'partition (blackhole)': () =>
        onLink(
          'partition (blackhole)',
          (p) => p.setMode('blackhole'),
          (p) => {
            p.setMode('pass');
            p.cut();
          },
        ),
      'cut mid-batch': () =>
        onLink(
          'cut mid-batch',
          (p) => p.cut(),
          () => undefined,
        ),
      'dropped replies': () =>
        onLink(
          'dropped replies',
          (p) => p.setMode('dropReplies'),
          (p) => p.setMode('pass'),
        ),
      delay: () => {
        const ms = between(50, 400);
        onLink(
          'delay',
          (p) => {
            p.delayMs = ms;
          },
          (p) => {
            p.delayMs = 0;
          },
        );
      },
      'till kill -9': () => {
        const t = pick(tills.filter((x) => x.running && !busy.has(x.id)));
        if (!t) return;
        busy.add(t.id);
        fault('till kill -9');
        for (const opId of opsOf.get(t.id) ?? []) beforeKill.add(opId);
        const pauseMs = between(200, 1_500);
        background.push(
          t
            .kill()
            .then(() => sleep(pauseMs))
            .then(() => t.start())
            .then(() => {
              t.ring(Date.now() < until);
              busy.delete(t.id);
            }),
        );
      },
      'till clock jump': () => {
        // The till's wall clock jumps (its monotonic clock does not); half the time NTP puts it
        // right again a few seconds later, else it stays wrong, across restarts too.
        const t = pick(tills.filter((x) => x.running && !busy.has(x.id)));
        if (!t) return;
        fault('till clock jump');
        const jump = pick(CLOCK_JUMPS_MS) * (random() < 0.5 ? 1 : -1);
        t.jump(jump);
        if (random() < 0.5) background.push(sleep(between(2_000, 10_000)).then(() => t.jump(-jump)));
      },
      'webhook receiver outage': () => {
        if (receiver.mode !== 'up') return;
        fault('webhook receiver outage');
        receiver.mode = random() < 0.5 ? 'unavailable' : 'drop';
        background.push(
          sleep(between(300, 3_000)).then(() => {
            receiver.mode = 'up';
          }),
        );
      },
      'postgres backend kill': async () => {
        // A Postgres restart, failover or pooler recycle: the hub's connections die under it.
        if (options.dbKind !== 'postgres' || !storage.db) return;
        fault('postgres backend kill');
        await terminateBackends(storage.db, appName, random() < 0.5 ? 'one' : 'all');
      },
      'hub kill -9': () => {
        if (hubBusy || Date.now() - lastHubKill < 3_000) return;
        hubBusy = true;
        lastHubKill = Date.now();
        fault('hub kill -9');
        const downMs = between(200, 2_000);
        background.push(
          hub
            .kill()
            .then(() => sleep(downMs))
            .then(() => hub.start())
            .then(() => {
              hubBusy = false;
            }),
        );
      },
    };
    // Every kind once first (in a seeded order), so even a short run injects each; then by weight.
    const deck = shuffle(
      FAULT_WEIGHTS.map(([kind]) => kind).filter((k) => k !== 'postgres backend kill' || storage.db),
      random,
    );
    const totalWeight = FAULT_WEIGHTS.reduce((sum, [, w]) => sum + w, 0);
    const weighted = (): FaultKind => {
      let roll = random() * totalWeight;
      for (const [kind, w] of FAULT_WEIGHTS) {
        roll -= w;
        if (roll < 0) return kind;
      }
      return FAULT_WEIGHTS[0]![0];
    };
    while (Date.now() < until) {
      await sleep(between(150, 700));
      await faultsByKind[deck.shift() ?? weighted()]();
    }
    report.chaosMs = Date.now() - chaosStart;

    // ── heal ────────────────────────────────────────────────────────────────────────────────
    for (const t of tills) t.ring(false);
    await Promise.all(background);
    for (const p of proxies.values()) {
      p.setMode('pass');
      p.delayMs = 0;
    }
    // Restarted tills came back ringing if the chaos was still on; now they all stop.
    for (const t of tills) t.ring(false);
    // The order in flight completes over the healed link.
    await orders;
    log(`healed after ${Date.now() - chaosStart} ms; waiting for every till to drain and settle`);
    const views = await settle(tills);
    if (!views) report.violations.push('tills did not drain and settle within 90 s after healing');
    receiver.mode = 'up';
    // A delivery claimed by a hub killed mid-send is claimed again once its lease (about a minute)
    // runs out, so the backlog may take that long to empty.
    if (!(await webhooksDelivered(hub.url, storage.adminToken, webhookId, 150_000)))
      report.violations.push('webhook deliveries still pending 150 s after healing');

    for (const t of tills) await t.close();
    if (options.dbKind === 'pglite') {
      // PGlite is one process's: the hub lets go of the directory before the checks open it.
      await hub.stop();
      db = await PgliteDatabase.open(join(scratch, 'hub'));
    }
    const locationOf = new Map(tills.map((t, i) => [t.id, stores[i % stores.length]!]));
    log(`settled after ${Date.now() - chaosStart} ms; checking`);
    await checkInvariants(db!, { done, beforeKill, views, locationOf, report });
    report.checked.opsBeforeKills = beforeKill.size;
    await checkWebhooks(db!, webhookId, receiver, report);
  } finally {
    for (const t of tills) await t.close();
    await hub.stop();
    for (const p of proxies.values()) await p.stop();
    await receiver.stop();
    // Postgres: dropping the schema closes the checks' connection too.
    if (options.dbKind === 'pglite') await db?.close();
    await storage.drop();
    rmSync(scratch, { recursive: true, force: true });
  }
  report.totalMs = Date.now() - started;
  return report;
}

interface Storage {
  hub: HubStorage;
  adminToken: string;
  /** The checks' connection (Postgres only: PGlite's directory is the hub's while it runs). */
  db: Database | null;
  drop(): Promise<void>;
}

async function prepareDatabase(
  kind: DbKind,
  scratch: string,
  stores: string[],
  applicationName: string,
): Promise<Storage> {
  const seed = async (db: Database) => {
    await seedCatalog(db, {
      locations: [...stores.map((id) => ({ id })), { id: 'warehouse', kind: 'warehouse' as const }],
      products: SKUS.map((sku) => ({ sku, priceMinor: 1_000 })),
      stock: [...stores, 'warehouse'].flatMap((locationId) =>
        SKUS.map((sku) => ({ locationId, sku, onHand: 40 })),
      ),
    });
    return (await ensureBootstrapAdmin(db))!;
  };
  if (kind === 'pglite') {
    const dataDir = join(scratch, 'hub');
    const db = await PgliteDatabase.open(dataDir);
    await migrate(db);
    const adminToken = await seed(db);
    await db.close();
    return { hub: { dataDir }, adminToken, db: null, drop: async () => undefined };
  }
  const test = await createTestDatabase('postgres');
  const adminToken = await seed(test.db);
  return {
    hub: postgresStorage(test.schema!, applicationName),
    adminToken,
    db: test.db,
    drop: () => test.drop(),
  };
}

/**
 * A web channel placing orders (pickup at a store, or shipped) until `until`, each with an
 * Idempotency-Key and retried with the same key on network errors and 5xx, as a careful client would.
 */
async function placeOrders(o: {
  url: string;
  token: string;
  stores: string[];
  seed: number;
  until: number;
  stats: ChaosReport['orders'];
}): Promise<void> {
  const random = mulberry32(o.seed ^ 0x5eed);
  for (let n = 1; Date.now() < o.until; n++) {
    await new Promise((r) => setTimeout(r, 200 + Math.floor(random() * 600)));
    const sku = SKUS[Math.floor(random() * SKUS.length)]!;
    const pickup = random() < 0.6;
    const body = JSON.stringify({
      channel: 'web',
      customerRef: `chaos-${o.seed}-${n}`,
      lines: [{ sku, qty: 1 + Math.floor(random() * 3) }],
      fulfilment: pickup
        ? { type: 'pickup', pickupLocationId: o.stores[Math.floor(random() * o.stores.length)] }
        : {
            type: 'shipping',
            address: {
              name: 'C. Chaos',
              line1: '1 rue du Test',
              city: 'Paris',
              postalCode: '75001',
              country: 'FR',
            },
          },
    });
    const giveUpAt = Date.now() + 30_000;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) o.stats.retries++;
      try {
        const res = await fetch(`${o.url}/v1/orders`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${o.token}`,
            'content-type': 'application/json',
            'idempotency-key': `chaos-${o.seed}-${n}`,
          },
          body,
          signal: AbortSignal.timeout(3_000),
        });
        if (res.status === 201) o.stats.created++;
        else if (res.status === 409) o.stats.insufficient++;
        else if (res.status < 500) throw new Error(`order refused: ${res.status} ${await res.text()}`);
        if (res.status < 500) break;
      } catch (err) {
        if ((err as Error).message.startsWith('order refused')) throw err;
      }
      if (Date.now() > giveUpAt) {
        o.stats.gaveUp++;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Subscribe the receiver to the run's events (REST, as a brand's integrator would); its id. */
async function subscribe(hubUrl: string, token: string, receiver: WebhookReceiver): Promise<string> {
  const res = await fetch(`${hubUrl}/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url, events: WEBHOOK_EVENTS, description: 'chaos receiver' }),
  });
  if (res.status !== 201) throw new Error(`webhook not created: ${res.status} ${await res.text()}`);
  const created = (await res.json()) as { id: string; secret: string };
  receiver.secret = created.secret;
  return created.id;
}

/** Whether the webhook's deliveries all got made within `timeoutMs` (the hub's /metrics backlog gauge). */
async function webhooksDelivered(
  hubUrl: string,
  token: string,
  webhookId: string,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const gauge = new RegExp(`^tillsync_webhook_deliveries_pending\\{webhook="${webhookId}"\\} (\\d+)`, 'm');
  while (Date.now() < deadline) {
    const res = await fetch(`${hubUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } }).catch(
      () => null,
    );
    if (res?.ok && !gauge.test(await res.text())) return true;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  return false;
}

/**
 * Terminate the hub's own Postgres backends (found by the application name its URL gives them),
 * one of them or all at once; never another session's.
 */
async function terminateBackends(db: Database, applicationName: string, which: 'one' | 'all'): Promise<void> {
  await db.query(
    `SELECT pg_terminate_backend(pid) FROM (
       SELECT pid FROM pg_stat_activity
       WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()
       ORDER BY random() LIMIT CASE WHEN $2 THEN 1 END) AS hub`,
    [applicationName, which === 'one'],
  );
}

/**
 * Every event queued for the receiver reached it, signed with its secret, whatever the outages
 * and kills in between: at least once (a receiver dedupes by event id).
 */
async function checkWebhooks(
  db: Database,
  webhookId: string,
  receiver: WebhookReceiver,
  report: Pick<ChaosReport, 'webhooks' | 'violations'>,
): Promise<void> {
  const { rows } = await db.query<{ event_id: string; status: string }>(
    'SELECT event_id::text AS event_id, status FROM webhook_deliveries WHERE webhook_id = $1',
    [webhookId],
  );
  report.webhooks = {
    events: rows.length,
    received: receiver.received.size,
    refusedInOutages: receiver.refused,
  };
  const missing = rows.filter((r) => !receiver.received.has(r.event_id));
  for (const r of missing.slice(0, 20))
    report.violations.push(`webhooks: event ${r.event_id} never reached the receiver (delivery ${r.status})`);
  if (missing.length > 20) report.violations.push(`webhooks: … and ${missing.length - 20} more events`);
  if (receiver.badSignatures > 0)
    report.violations.push(`webhooks: ${receiver.badSignatures} deliveries with a bad signature`);
}

/** Each till's view of its location's stock, by till id. */
export type Views = Map<string, unknown[]>;

/** Wait until every till's outbox is empty, it is live, and its view stays the same twice running. */
async function settle(tills: TillProcess[], timeoutMs = 90_000): Promise<Views | null> {
  const deadline = Date.now() + timeoutMs;
  let previous = '';
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 750));
    const states = await Promise.all(tills.map((t) => t.state().catch(() => null)));
    if (states.some((s) => !s || s.outboxDepth > 0 || s.sync !== 'live')) continue;
    const now = JSON.stringify(states.map((s) => s!.rows));
    if (now === previous) {
      return new Map(tills.map((t, i) => [t.id, states[i]!.rows]));
    }
    previous = now;
  }
  return null;
}

/** DESIGN.md's invariants, checked against the hub's database after the run; adds to c.report.violations. */
export async function checkInvariants(
  db: Database,
  c: {
    done: Map<string, { till: string; type: string; effects: number }>;
    beforeKill: Set<string>;
    views: Views | null;
    locationOf: Map<string, string>;
    report: Pick<ChaosReport, 'checked' | 'violations'>;
  },
): Promise<void> {
  const v = c.report.violations;
  // 1 and 4: every op a till reported done is in the ledger exactly once (one movement per effect),
  // those reported before a till was killed included.
  const { rows } = await db.query<{ op_id: string; n: number }>(
    'SELECT op_id::text AS op_id, count(*)::int AS n FROM movements WHERE op_id = ANY($1::uuid[]) GROUP BY op_id',
    [[...c.done.keys()]],
  );
  const counted = new Map(rows.map((r) => [r.op_id, r.n]));
  for (const [opId, op] of c.done) {
    const n = counted.get(opId) ?? 0;
    if (n !== op.effects) {
      const inv = c.beforeKill.has(opId) ? 4 : 1;
      v.push(`invariant ${inv}: ${op.type} ${opId} of ${op.till} has ${n} movements, expected ${op.effects}`);
    }
  }
  c.report.checked.ops = c.done.size;

  // 2: every till's view of its location equals the hub's rows.
  if (c.views) {
    const byKey = (a: { sku: string }, b: { sku: string }) => a.sku.localeCompare(b.sku);
    for (const [till, view] of c.views) {
      const locationId = c.locationOf.get(till)!;
      const hubRows = (await locationRows(db, locationId)).sort(byKey);
      const tillRows = (view as Array<{ sku: string }>).slice().sort(byKey);
      c.report.checked.rows += hubRows.length;
      if (!isDeepStrictEqual(hubRows, tillRows))
        v.push(
          `invariant 2: ${till}'s view of ${locationId} differs from the hub's: ` +
            `till ${JSON.stringify(tillRows)} hub ${JSON.stringify(hubRows)}`,
        );
    }
  }

  // 3: stock rows equal the replay of the ledger.
  for (const m of await ledgerMismatches(db))
    v.push(`invariant 3: stock row differs from its ledger: ${JSON.stringify(m)}`);

  // 5: replaying each row's ledger in version order, every reservation took at most what was
  // available (on_hand - reserved) just before it.
  const { rows: moves } = await db.query<{
    location_id: string;
    sku: string;
    op_type: string;
    d_on_hand: number;
    d_reserved: number;
    version_after: number;
  }>(
    `SELECT location_id, sku, op_type, d_on_hand, d_reserved, version_after FROM movements
     ORDER BY location_id, sku, version_after`,
  );
  const state = new Map<string, { onHand: number; reserved: number }>();
  for (const m of moves) {
    const key = `${m.location_id}/${m.sku}`;
    const row = state.get(key) ?? { onHand: 0, reserved: 0 };
    if (m.op_type === 'reserve') {
      c.report.checked.reservations++;
      if (m.d_reserved > row.onHand - row.reserved)
        v.push(
          `invariant 5: ${key} v${m.version_after} reserved ${m.d_reserved} with ${row.onHand - row.reserved} available`,
        );
    }
    row.onHand += m.d_on_hand;
    row.reserved += m.d_reserved;
    state.set(key, row);
  }

  // Orders retried after lost replies were created once (Idempotency-Key).
  const { rows: twice } = await db.query<{ customer_ref: string; n: number }>(
    `SELECT customer_ref, count(*)::int AS n FROM orders WHERE channel = 'web' GROUP BY customer_ref HAVING count(*) > 1`,
  );
  for (const t of twice) v.push(`idempotency: order ${t.customer_ref} was created ${t.n} times`);
}
