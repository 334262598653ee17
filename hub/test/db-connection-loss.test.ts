import { connect, createServer, type Server, type Socket } from 'node:net';
import { HybridClock, newOpId } from '@tillsync/sync-protocol';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, HubProcess, postgresStorage } from '../../test/chaos/processes.js';
import { TestHubServer } from '../../test/e2e/helpers/test-hub-server.js';
import { buildApp } from '../src/app.js';
import { isConnectionLost, isDatabaseUnavailable } from '../src/db/connection-errors.js';
import { migrate } from '../src/db/migrate.js';
import { PostgresDatabase, quoteIdent } from '../src/db/postgres.js';
import { ensureBootstrapAdmin } from '../src/services/tokens.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { startSocketHub } from './helpers/socket-hub.js';
import { authFor, connectRaw, push } from './helpers/sync-client.js';
import {
  createTestDatabase,
  type TestDatabase,
  testApplicationName,
  testDatabaseUrl,
  testDbKind,
} from './helpers/test-db.js';

/*
 * Finding 1 of issue 13: Postgres drops the hub's connections (restart, failover, pooler recycle,
 * pg_terminate_backend). The hub must stay up, replace them, fail in-flight work cleanly and lose
 * or double nothing. Every kill here is scoped to this test's own backends (application_name
 * carries the test's schema, see testApplicationName): other tests share this server.
 * PGlite is in-process and has no connections to lose: only the classifier runs there.
 */

const catalog = {
  locations: [{ id: 'paris' }],
  products: [{ sku: 'CANDLE', priceMinor: 3200 }],
  stock: [{ locationId: 'paris', sku: 'CANDLE', onHand: 10 }],
};

describe('which database failures mean "retry later"', () => {
  const pgError = (code: string) => Object.assign(new Error('from the server'), { code });

  it('a lost connection, by SQLSTATE, socket code, driver message or wrapped cause', () => {
    for (const code of ['57P01', '57P02', '57P03', '08006', '08001', 'ECONNRESET', 'ECONNREFUSED']) {
      expect(isConnectionLost(pgError(code)), code).toBe(true);
    }
    expect(isConnectionLost(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionLost(new Error('timeout exceeded when trying to connect'))).toBe(true);
    const dualStack = new AggregateError([pgError('ECONNREFUSED'), pgError('ECONNREFUSED')], '');
    expect(isConnectionLost(dualStack)).toBe(true);
    expect(isConnectionLost(new Error('connect failed', { cause: pgError('ETIMEDOUT') }))).toBe(true);
  });

  it('timeouts are unavailable but not lost connections; request errors are neither', () => {
    expect(isDatabaseUnavailable(pgError('57014'))).toBe(true);
    expect(isConnectionLost(pgError('57014'))).toBe(false);
    expect(isDatabaseUnavailable(new Error('Query read timeout'))).toBe(true);
    for (const code of ['23505', '40P01', '22021', '42P01']) {
      expect(isDatabaseUnavailable(pgError(code)), code).toBe(false);
    }
    expect(isDatabaseUnavailable(new Error('insufficient stock'))).toBe(false);
    expect(isDatabaseUnavailable('a string')).toBe(false);
  });
});

// Postgres only: PGlite runs in the hub's process and has no connections to lose.
(testDbKind() === 'postgres' ? describe : () => undefined)('the hub losing its Postgres connections', () => {
  /** A session of its own, to watch and kill the hub's backends (never its own, never others'). */
  let admin: pg.Client;
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: testDatabaseUrl(), application_name: 'tillsync-test-admin' });
    await admin.connect();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await admin.end();
  });

  type Which = 'all' | 'waiting on a lock' | 'listening';
  const filters: Record<Which, string> = {
    all: 'true',
    'waiting on a lock': "wait_event_type = 'Lock'",
    listening: "query LIKE 'LISTEN %'",
  };

  /** Backends already terminated: one may still show (even as waiting) until it has exited. */
  const terminated: number[] = [];

  /** pg_terminate_backend on this application's backends in this database; how many it killed. */
  async function kill(appName: string, which: Which = 'all'): Promise<number> {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
       WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()
         AND pid <> ALL($2::int[]) AND ${filters[which]}`,
      [appName, terminated],
    );
    for (const { pid } of rows) {
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      terminated.push(pid);
    }
    return rows.length;
  }

  async function backends(appName: string, which: Which = 'all'): Promise<number> {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE application_name = $1 AND datname = current_database() AND pid <> ALL($2::int[])
         AND ${filters[which]}`,
      [appName, terminated],
    );
    return rows[0]?.n ?? 0;
  }

  /**
   * Hold the stock row's lock from a session of its own until the returned release is called (not
   * the admin's: inside a transaction pg_stat_activity is a snapshot, and the waiter never shows).
   */
  async function lockStockRow(schema: string): Promise<() => Promise<void>> {
    const locker = new pg.Client({
      connectionString: testDatabaseUrl(),
      application_name: 'tillsync-test-locker',
    });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query(
      `SELECT 1 FROM ${quoteIdent(schema)}.stock WHERE location_id = 'paris' AND sku = 'CANDLE' FOR UPDATE`,
    );
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await locker.query('COMMIT');
      await locker.end();
    };
    cleanups.push(release);
    return release;
  }

  async function hub(): Promise<TestHub & { appName: string; lost: Error[] }> {
    const h = await buildTestHub();
    cleanups.push(() => h.close());
    await seedCatalog(h.database.db, catalog);
    const lost: Error[] = [];
    const db = h.database.db as PostgresDatabase;
    const off = db.onConnectionError((err) => lost.push(err));
    cleanups.push(async () => void off());
    return Object.assign(h, { appName: testApplicationName(h.database.schema!), lost });
  }

  const locations = (h: TestHub) => h.request({ method: 'GET', url: '/v1/locations' });

  it('idle backends killed: the hub stays up, replaces them, and the next request succeeds', async () => {
    const h = await hub();
    // Open several connections at once, then let them sit idle in the pool.
    await Promise.all(Array.from({ length: 5 }, () => locations(h)));
    const pool = (h.database.db as PostgresDatabase).pool;
    // All idle but one: the cluster adapter's LISTEN connection stays checked out.
    await expect.poll(() => pool.idleCount).toBe(pool.totalCount - 1);
    const idle = pool.idleCount;
    expect(idle).toBeGreaterThan(1);

    expect(await kill(h.appName)).toBe(idle + 1);
    // Each dead connection is reported and dropped from the pool (an idle one was an unhandled
    // 'error' event on the pool before, which ends the process).
    await expect.poll(() => h.lost.length).toBeGreaterThanOrEqual(idle + 1);
    await expect.poll(() => pool.idleCount).toBe(0);

    const res = await locations(h);
    expect(res.statusCode).toBe(200);
    expect(await backends(h.appName)).toBeGreaterThan(0);
  });

  it("killed mid-push: the till's push is retried and every op is in the ledger exactly once", async () => {
    const h = await startSocketHub(catalog);
    cleanups.push(() => h.close());
    const appName = testApplicationName(h.database.schema!);
    const till = await h.till('paris');
    const first = till.ops.sale('CANDLE', 1);
    expect(await push(till.socket, [first])).toMatchObject({ ok: true });

    // The next push's transaction has locked the device and written its bookkeeping when it
    // queues on the stock row: it is killed there, twice (the hub's own retry, then the batch).
    const batch = [till.ops.sale('CANDLE', 2), till.ops.sale('CANDLE', 3)];
    const release = await lockStockRow(h.database.schema!);
    const reply = push(till.socket, batch);
    for (let i = 0; i < 2; i++) {
      await expect.poll(() => backends(appName, 'waiting on a lock')).toBe(1);
      expect(await kill(appName, 'waiting on a lock')).toBe(1);
    }
    const failed = await reply;
    expect(failed).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    await release();

    // The till resends the batch as it does after any failed push: applied once, acked once.
    const retried = await push(till.socket, batch);
    expect(retried).toMatchObject({ ok: true });
    if (!retried.ok) throw new Error('unreachable');
    expect(retried.value.results.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect(retried.value.lastAckedSeq).toBe(3);
    const again = await push(till.socket, batch);
    expect(again.ok && again.value.results.map((r) => r.status)).toEqual(['duplicate', 'duplicate']);

    // A kill the hub's own retry absorbs: the till never sees it.
    const next = [till.ops.sale('CANDLE', 1)];
    const releaseNext = await lockStockRow(h.database.schema!);
    const nextReply = push(till.socket, next);
    await expect.poll(() => backends(appName, 'waiting on a lock')).toBe(1);
    expect(await kill(appName, 'waiting on a lock')).toBe(1);
    await expect.poll(() => backends(appName, 'waiting on a lock')).toBe(1);
    await releaseNext();
    const absorbed = await nextReply;
    expect(absorbed.ok && absorbed.value.results.map((r) => r.status)).toEqual(['applied']);

    const db = h.database.db;
    const ops = [first, ...batch, ...next];
    const { rows } = await db.query<{ op_id: string; n: number }>(
      "SELECT op_id::text, count(*)::int AS n FROM movements WHERE op_type = 'sale' GROUP BY op_id",
    );
    expect(Object.fromEntries(rows.map((r) => [r.op_id, r.n]))).toEqual(
      Object.fromEntries(ops.map((o) => [o.opId, 1])),
    );
    const applied = await db.query<{ seq: number }>(
      'SELECT seq FROM applied_ops WHERE device_id = $1 ORDER BY seq',
      [till.device.id],
    );
    expect(applied.rows.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    const stock = await db.query<{ on_hand: number }>(
      "SELECT on_hand FROM stock WHERE location_id = 'paris' AND sku = 'CANDLE'",
    );
    expect(stock.rows[0]?.on_hand).toBe(10 - 1 - 2 - 3 - 1);
    expect(await ledgerMismatches(db)).toEqual([]);
  });

  it('killed mid-order: 503 with Retry-After, and the retried order is made once', async () => {
    const h = await hub();
    const order = () =>
      h.request({
        method: 'POST',
        url: '/v1/orders',
        headers: { 'idempotency-key': 'order-under-kill' },
        payload: {
          channel: 'web',
          customerRef: 'c-1',
          lines: [{ sku: 'CANDLE', qty: 3 }],
          fulfilment: { type: 'pickup', pickupLocationId: 'paris' },
        },
      });
    const release = await lockStockRow(h.database.schema!);
    const pending = order();
    await expect.poll(() => backends(h.appName, 'waiting on a lock')).toBe(1);
    expect(await kill(h.appName, 'waiting on a lock')).toBe(1);
    const refused = await pending;
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('2');
    expect(refused.body).toMatchObject({ code: 'database_unavailable' });
    await release();

    const made = await order();
    expect(made.statusCode).toBe(201);
    const replay = await order();
    expect(replay.body).toEqual(made.body);

    const db = h.database.db;
    const orders = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM orders WHERE customer_ref = 'c-1'",
    );
    expect(orders.rows[0]?.n).toBe(1);
    const stock = await db.query<{ on_hand: number; reserved: number }>(
      "SELECT on_hand, reserved FROM stock WHERE location_id = 'paris' AND sku = 'CANDLE'",
    );
    expect(stock.rows[0]).toEqual({ on_hand: 10, reserved: 3 });
    expect(await ledgerMismatches(db)).toEqual([]);
  });

  it('Postgres out of reach or blackholed: REST answers 503 + Retry-After, in bounded time', async () => {
    const database = await createTestDatabase('postgres');
    cleanups.push(() => database.drop());
    const proxy = await TcpProxy.start(new URL(testDatabaseUrl()));
    cleanups.push(() => proxy.close());
    const url = new URL(testDatabaseUrl());
    url.host = `127.0.0.1:${proxy.port}`;
    const db = await PostgresDatabase.connect({
      connectionString: url.toString(),
      schema: database.schema!,
      applicationName: testApplicationName(database.schema!),
      timeouts: { connectTimeoutMs: 1_000, queryTimeoutMs: 1_500 },
    });
    cleanups.push(() => db.close());
    await migrate(db);
    const token = (await ensureBootstrapAdmin(database.db))!;
    const app = await buildApp({
      config: { logLevel: 'silent', bodyLimit: 1_048_576, rateLimitPerMinute: 100_000 },
      db,
      jobs: false,
    });
    cleanups.push(() => app.close());
    const get = () =>
      app.inject({ method: 'GET', url: '/v1/locations', headers: { authorization: `Bearer ${token}` } });
    expect((await get()).statusCode).toBe(200);
    // A till, to see how its connection is answered while the database is out of reach.
    await seedCatalog(database.db, catalog);
    const created = await app.inject({
      method: 'POST',
      url: '/v1/devices',
      headers: { authorization: `Bearer ${token}` },
      payload: { locationId: 'paris', name: 'Till' },
    });
    const enrolled = await app.inject({
      method: 'POST',
      url: '/v1/devices/enrol',
      payload: { enrolmentCode: created.json().enrolmentCode },
    });
    const device = authFor(enrolled.json().token);
    const hubUrl = await app.listen({ host: '127.0.0.1', port: 0 });

    for (const mode of ['refused', 'blackholed'] as const) {
      proxy.mode = mode;
      const started = Date.now();
      const res = await get();
      expect(res.statusCode, mode).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.json()).toMatchObject({ code: 'database_unavailable' });
      // connectTimeout / queryTimeout bound the wait, not the OS's TCP timeouts.
      expect(Date.now() - started, mode).toBeLessThan(5_000);
      // The token cannot be checked: the till is told to retry, never refused as if revoked (a
      // refused till stops until a person re-enrols it).
      const refusal = await connectRaw(hubUrl, device).then(
        (t) => {
          t.socket.close();
          return 'connected';
        },
        (err: { data?: { code?: string } }) => err.data?.code ?? 'retryable',
      );
      expect(refusal, mode).not.toBe('unauthorized');
      expect(refusal, mode).not.toBe('connected');
      proxy.mode = 'forwarding';
      await expect.poll(async () => (await get()).statusCode).toBe(200);
      const back = await connectRaw(hubUrl, device);
      back.socket.close();
    }
  });

  it("the cluster adapter's LISTEN connection killed: both hubs stay up and broadcast again", async () => {
    const a = await TestHubServer.start();
    cleanups.push(() => a.close());
    await a.seed(catalog);
    const b = await a.peer();
    cleanups.push(() => b.stop());
    const appName = testApplicationName(a.database.schema!);
    const instances = (h: TestHubServer) => h.app!.io.of('/').adapter.serverCount();
    await expect.poll(() => instances(a)).toBe(2);
    await expect.poll(() => instances(b)).toBe(2);
    await expect.poll(() => backends(appName, 'listening')).toBe(2);

    const seller = await rawTill(a, 'seller');
    const watcher = await rawTill(b, 'watcher');
    const clock = new HybridClock('seller');
    let seq = 0;
    const sale = () => ({
      type: 'sale',
      opId: newOpId(),
      seq: ++seq,
      hlc: clock.tick(),
      locationId: 'paris',
      receiptId: `r-${seq}`,
      lines: [{ sku: 'CANDLE', qty: 1, unitPriceMinor: 3200 }],
      payments: [{ method: 'card', amountMinor: 3200 }],
    });
    expect(await push(seller.socket, [sale()])).toMatchObject({ ok: true });
    await expect.poll(() => watcher.stock.length).toBe(1);

    expect(await kill(appName, 'listening')).toBe(2);
    // The adapters take new connections and LISTEN again; the dead ones leave the pools.
    await expect.poll(() => backends(appName, 'listening'), { timeout: 15_000 }).toBe(2);
    await expect.poll(() => instances(a)).toBe(2);
    await expect.poll(() => instances(b)).toBe(2);

    expect(await push(seller.socket, [sale()])).toMatchObject({ ok: true });
    await expect.poll(() => watcher.stock.length).toBe(2);
    expect(watcher.stock[1]?.rows[0]).toMatchObject({ sku: 'CANDLE', onHand: 8 });
  });

  /** A raw protocol client of a new device at paris, connected through `hub`. */
  async function rawTill(hub: TestHubServer, id: string) {
    const res = await fetch(`${hub.url}/v1/devices/enrol`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrolmentCode: await hub.enrolmentCode('paris', id) }),
    });
    const { token } = (await res.json()) as { token: string };
    const raw = await connectRaw(hub.url, authFor(token));
    cleanups.push(async () => void raw.socket.close());
    return raw;
  }

  /** A fresh schema with the catalogue and an admin token, and a `serve` for it (not started) tagged `appName`. */
  async function serveProcess(tag: string) {
    const database: TestDatabase = await createTestDatabase('postgres');
    cleanups.push(() => database.drop());
    await seedCatalog(database.db, catalog);
    const token = (await ensureBootstrapAdmin(database.db))!;
    const appName = `${testApplicationName(database.schema!)}-${tag}`;
    const hubProcess = new HubProcess(postgresStorage(database.schema!, appName), await freePort());
    cleanups.push(() => hubProcess.kill());
    return { database, token, appName, hubProcess };
  }

  it('a hub process (serve) whose backends are killed stays alive and serves', {
    timeout: 90_000,
  }, async () => {
    const { token, appName, hubProcess } = await serveProcess('serve');
    await hubProcess.start();
    const get = () =>
      fetch(`${hubProcess.url}/v1/locations`, { headers: { authorization: `Bearer ${token}` } }).then(
        (r) => r.status,
        () => 'unreachable',
      );

    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 4 }, get));
      // The pool's idle connections and the cluster adapter's LISTEN connection, all at once.
      expect(await kill(appName)).toBeGreaterThan(1);
      await expect.poll(() => backends(appName, 'listening'), { timeout: 15_000 }).toBe(1);
      await expect.poll(get).toBe(200);
    }
  });

  it('a hub process (serve) whose backends are killed while it starts retries and comes up', {
    timeout: 90_000,
  }, async () => {
    const { database, token, appName, hubProcess } = await serveProcess('boot');
    // The admin-token check at startup waits on this lock, so its backend is there to be killed.
    const locker = new pg.Client({
      connectionString: testDatabaseUrl(),
      application_name: 'tillsync-test-locker',
    });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE ${quoteIdent(database.schema!)}.api_tokens IN ACCESS EXCLUSIVE MODE`);
    cleanups.push(() => locker.end());
    const started = hubProcess.start();
    await expect.poll(() => backends(appName, 'waiting on a lock'), { timeout: 30_000 }).toBe(1);
    expect(await kill(appName, 'waiting on a lock')).toBe(1);
    await locker.query('COMMIT');
    await started;
    const res = await fetch(`${hubProcess.url}/v1/locations`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(hubProcess.output).toContain('out of reach while starting');
  });
});

/**
 * A TCP proxy in front of Postgres: `refused` cuts every connection and closes the port (a database
 * down or restarting); `blackholed` keeps connections open and carries nothing either way (a network
 * that silently drops packets). Back to `forwarding`, connections that were cut off are closed.
 */
class TcpProxy {
  private current: 'forwarding' | 'refused' | 'blackholed' = 'forwarding';
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: URL): Promise<TcpProxy> {
    const port = await freePort();
    const proxy: TcpProxy = new TcpProxy(
      createServer((client) => proxy.accept(client, target)),
      port,
    );
    await proxy.listen();
    return proxy;
  }

  get mode() {
    return this.current;
  }

  set mode(mode: TcpProxy['current']) {
    const was = this.current;
    this.current = mode;
    if (mode === 'refused' || (was === 'blackholed' && mode === 'forwarding')) {
      for (const s of this.sockets) s.destroy();
    }
    if (mode === 'refused') this.server.close();
    if (was === 'refused' && mode !== 'refused') void this.listen();
  }

  private listen(): Promise<void> {
    return new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  private accept(client: Socket, target: URL): void {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(from);
      from.on('data', (chunk) => {
        if (this.current === 'forwarding') to.write(chunk);
      });
      from.on('end', () => to.end());
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
      from.on('error', () => undefined);
    }
  }

  async close(): Promise<void> {
    this.mode = 'refused';
  }
}
