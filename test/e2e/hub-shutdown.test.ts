import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SyncStatus } from '@tillsync/pos-client';
import {
  type Ack,
  LIMITS,
  type Reply,
  type StockRow,
  stockChecksum,
  type TillOp,
  upgradeHeaders,
} from '@tillsync/sync-protocol';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../hub/src/cli/data-dir-lock.js';
import type { Database } from '../../hub/src/db/database.js';
import { migrate } from '../../hub/src/db/migrate.js';
import { PgliteDatabase } from '../../hub/src/db/pglite.js';
import { locationRows } from '../../hub/src/ledger/stock-feed.js';
import { ensureBootstrapAdmin } from '../../hub/src/services/tokens.js';
import { ledgerMismatches, seedCatalog } from '../../hub/test/helpers/fixtures.js';
import { authFor, connectRaw, type RawTill } from '../../hub/test/helpers/sync-client.js';
import { createTestDatabase, testDbKind } from '../../hub/test/helpers/test-db.js';
import { tillOps } from '../../hub/test/helpers/till-ops.js';
import { freePort, HubProcess, type HubStorage, postgresStorage } from '../chaos/processes.js';
import { requestEnrolmentCode } from './helpers/test-hub-server.js';
import { expectLedgerOnce, startTill, type TestTill } from './helpers/tills.js';

/*
 * The `serve` CLI as a real child process, stopped by a real signal (hub/src/lifecycle.ts,
 * hub/src/cli/shutdown.ts): with a till connected, a dashboard open and pushes in flight it exits 0
 * within the timeout, loses nothing and applies nothing twice; a stuck drain or a second signal
 * exits 1 at once and still frees the PGlite lock.
 */

const pglite = testDbKind() === 'pglite';
const INITIAL = 1_000_000;
const catalog = {
  locations: [{ id: 'paris' }],
  products: [{ sku: 'CANDLE', priceMinor: 1000 }],
  stock: [{ locationId: 'paris', sku: 'CANDLE', onHand: INITIAL }],
};

describe(`hub shutdown on a signal (${testDbKind()})`, () => {
  const hubs: HubProcess[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const h of hubs.splice(0)) await h.kill();
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /** A seeded, migrated database the hub process will serve, its admin token, and how to read it. */
  async function storage(): Promise<{
    storage: HubStorage;
    admin: string;
    dataDir: string | null;
    /** Open the hub's database from the test (PGlite: only while no hub process holds it). */
    open(): Promise<{ db: Database; close(): Promise<void> }>;
  }> {
    if (pglite) {
      const dataDir = mkdtempSync(join(tmpdir(), 'hub-shutdown-'));
      cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
      const db = await PgliteDatabase.open(dataDir);
      await migrate(db);
      await seedCatalog(db, catalog);
      const admin = (await ensureBootstrapAdmin(db))!;
      await db.close();
      const open = async () => {
        const opened = await PgliteDatabase.open(dataDir);
        return { db: opened, close: () => opened.close() };
      };
      return { storage: { dataDir }, admin, dataDir, open };
    }
    const database = await createTestDatabase('postgres');
    cleanups.push(() => database.drop());
    await seedCatalog(database.db, catalog);
    const admin = (await ensureBootstrapAdmin(database.db))!;
    return {
      storage: postgresStorage(database.schema!),
      admin,
      dataDir: null,
      open: async () => ({ db: database.db, close: async () => undefined }),
    };
  }

  async function startHub(s: HubStorage, env: NodeJS.ProcessEnv = {}): Promise<HubProcess> {
    const hub = new HubProcess(s, await freePort(), { LOG_LEVEL: 'info', ...env });
    hubs.push(hub);
    await hub.start();
    return hub;
  }

  async function enrolRaw(hub: HubProcess, admin: string, id: string): Promise<string> {
    const code = await requestEnrolmentCode(hub.url, admin, 'paris', id);
    const res = await fetch(`${hub.url}/v1/devices/enrol`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrolmentCode: code }),
    });
    return ((await res.json()) as { token: string }).token;
  }

  const push = (socket: RawTill, ops: TillOp[]) =>
    new Promise<Reply<Ack> | 'disconnected'>((resolve) => {
      socket.once('disconnect', () => resolve('disconnected'));
      socket.emit('push', { ops } as never, resolve);
    });

  it('SIGTERM with a till, an HQ dashboard and pushes in flight: exit 0 in time, nothing lost or applied twice', async () => {
    const s = await storage();
    const hub = await startHub(s.storage);
    const tills: TestTill[] = [];
    cleanups.push(async () => {
      for (const t of tills) await t.close();
    });
    const till = await startTill(
      { url: hub.url, enrolmentCode: (loc, id) => requestEnrolmentCode(hub.url, s.admin, loc, id) },
      'paris',
      'till-1',
    );
    tills.push(till);
    till.till.cashier.sell({ lines: [{ ref: 'CANDLE', qty: 3 }] });
    await till.agent.drained();

    // The HQ dashboard's live feed, as the page opens it.
    const hq = io(`${hub.url}/hq`, {
      path: '/sync',
      auth: { token: s.admin },
      extraHeaders: upgradeHeaders(s.admin),
      transports: ['websocket'],
      reconnection: false,
    });
    cleanups.push(async () => void hq.close());
    await new Promise((resolve) => hq.once('update', resolve));
    const hqDisconnected = new Promise<string>((resolve) => hq.once('disconnect', resolve));

    // A second device pushes three full batches back to back, and the signal comes while they apply.
    // Postgres: once the first is committed (the till hears of it), so the others are still being
    // applied or queued and the drain must wait for them. PGlite runs on the hub's own thread: a
    // batch's queries never yield to the event loop, so the signal is handled only after the
    // batches already received — the drain then finds them done; either way each must be acked.
    const rawToken = await enrolRaw(hub, s.admin, 'bulk');
    const { socket, hello } = await connectRaw(hub.url, authFor(rawToken));
    const make = tillOps(hello.deviceId, 'paris');
    const batches = [0, 1, 2].map(
      () => Array.from({ length: LIMITS.maxOpsPerBatch }, () => make.sale('CANDLE', 1)) as TillOp[],
    );
    const tillErrors: unknown[] = [];
    socket.on('error', (e) => tillErrors.push(e));
    const replies = batches.map((b) => push(socket, b));
    if (pglite) await new Promise((r) => setTimeout(r, 150));
    else
      await expect
        .poll(() => till.till.cashier.stock('CANDLE')?.onHand, { timeout: 30_000, interval: 5 })
        .toBeLessThanOrEqual(INITIAL - 3 - LIMITS.maxOpsPerBatch);

    const tillStates: SyncStatus[] = [];
    till.agent.on('state', (status) => tillStates.push(status));
    const exit = await hub.stop('SIGTERM');
    const drained = hub.output.split('\n').find((l) => l.includes('hub drained for shutdown'));
    const { pushesWaitedFor } = JSON.parse(drained ?? '{}') as { pushesWaitedFor?: number };
    console.log(
      `shutdown with a till, a dashboard and ${pushesWaitedFor} batches of ${LIMITS.maxOpsPerBatch} ops in flight: ${exit?.ms} ms`,
    );
    expect(exit).toMatchObject({ code: 0, signal: null });
    if (!pglite) expect(pushesWaitedFor).toBeGreaterThanOrEqual(1);
    expect(exit!.ms).toBeLessThan(10_000);
    expect(hub.output).toContain('SIGTERM: shutting down');
    expect(hub.output).toMatch(/stopped in \d+ ms/);
    // Every batch had arrived before the signal: each was applied and acknowledged, not cut off.
    const answered = await Promise.all(replies);
    for (const r of answered) expect(r).toMatchObject({ ok: true });
    // The till was told why, and reconnects by itself (it is waiting, not refused).
    expect(tillErrors).toContainEqual(expect.objectContaining({ code: 'unavailable' }));
    expect(await hqDisconnected).toBe('io server disconnect');
    expect(tillStates).toContainEqual(
      expect.objectContaining({
        state: 'waiting',
        lastError: expect.stringMatching(/^the hub closed the connection: the hub is shutting down/),
      }),
    );
    expect(till.agent.status().state).not.toBe('refused');
    socket.close();
    if (s.dataDir) expect(existsSync(join(s.dataDir, LOCK_FILE))).toBe(false);

    // Offline meanwhile, the till keeps selling; the hub comes back on the same port.
    till.till.cashier.sell({ lines: [{ ref: 'CANDLE', qty: 2 }] });
    const again = new HubProcess(s.storage, hub.port, { LOG_LEVEL: 'silent' });
    hubs.push(again);
    await again.start();
    // The bulk device re-sends every batch as a till would after a cut: nothing applies twice.
    const resend = await connectRaw(again.url, authFor(rawToken));
    expect(resend.hello.lastAckedSeq).toBe(batches.length * LIMITS.maxOpsPerBatch);
    for (const b of batches) {
      const r = await push(resend.socket, b);
      expect(r).toMatchObject({ ok: true });
      const ack = (r as { value: Ack }).value;
      expect(ack.results.every((x) => x.status === 'duplicate')).toBe(true);
    }
    resend.socket.close();
    await till.agent.drained(30_000);
    // Quiet from here on (PGlite: the test can open the directory only once the hub is gone).
    const stopped = await again.stop();
    console.log(`shutdown with a till connected, nothing in flight: ${stopped?.ms} ms`);
    expect(stopped?.code).toBe(0);
    expect(stopped!.ms).toBeLessThan(10_000);
    await till.agent.stop();

    const { db, close } = await s.open();
    try {
      const bySku = (a: StockRow, b: StockRow) => a.sku.localeCompare(b.sku);
      const hubRows = (await locationRows(db, 'paris')).sort(bySku);
      expect(till.till.cashier.allStock().sort(bySku)).toEqual(hubRows);
      expect(till.till.replica.baseChecksum()).toBe(stockChecksum(hubRows));
      await expectLedgerOnce({ db }, batches.flat());
      expect(await ledgerMismatches(db)).toEqual([]);
      const { rows } = await db.query<{ on_hand: number }>(
        "SELECT on_hand FROM stock WHERE location_id = 'paris' AND sku = 'CANDLE'",
      );
      expect(rows[0]?.on_hand).toBe(INITIAL - 3 - 2 - batches.length * LIMITS.maxOpsPerBatch);
    } finally {
      await close();
    }
  }, 120_000);

  /** An HTTP request whose body never comes: the drain waits for it (until the request timeout). */
  async function stuckRequest(hub: HubProcess): Promise<() => void> {
    const conn = connect(hub.port, '127.0.0.1');
    await new Promise((resolve) => conn.once('connect', resolve));
    conn.on('error', () => undefined);
    conn.write(
      'POST /v1/locations HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    );
    await new Promise((r) => setTimeout(r, 100));
    return () => conn.destroy();
  }

  (pglite ? it : () => undefined)(
    'a drain past TILLSYNC_SHUTDOWN_TIMEOUT_SECONDS exits 1 at the deadline and frees the lock',
    async () => {
      const s = await storage();
      const hub = await startHub(s.storage, { TILLSYNC_SHUTDOWN_TIMEOUT_SECONDS: '1' });
      const release = await stuckRequest(hub);
      cleanups.push(async () => release());
      const exit = await hub.stop('SIGTERM');
      expect(exit?.code).toBe(1);
      expect(exit!.ms).toBeGreaterThanOrEqual(900);
      expect(exit!.ms).toBeLessThan(5_000);
      expect(hub.output).toContain('shutdown did not finish within 1 s');
      expect(existsSync(join(s.dataDir!, LOCK_FILE))).toBe(false);
    },
    60_000,
  );

  (pglite ? it : () => undefined)(
    'a second SIGINT during the drain exits 1 at once, frees the lock, and the next start starts',
    async () => {
      const s = await storage();
      const hub = await startHub(s.storage);
      const release = await stuckRequest(hub);
      cleanups.push(async () => release());
      const exit = hub.stop('SIGINT');
      await expect.poll(() => hub.output).toContain('SIGINT: shutting down');
      const second = performance.now();
      hub.signal('SIGINT');
      const ended = await exit;
      expect(ended?.code).toBe(1);
      expect(performance.now() - second).toBeLessThan(2_000);
      expect(hub.output).toContain('SIGINT again: forcing exit now (code 1)');
      expect(existsSync(join(s.dataDir!, LOCK_FILE))).toBe(false);
      const next = await startHub(s.storage);
      expect((await fetch(`${next.url}/readyz`)).status).toBe(200);
    },
    60_000,
  );

  (pglite ? it : () => undefined)(
    'kill -9 leaves no lock that blocks the next start',
    async () => {
      const s = await storage();
      const hub = await startHub(s.storage);
      await hub.kill();
      expect(existsSync(join(s.dataDir!, LOCK_FILE))).toBe(true);
      const started = performance.now();
      const next = await startHub(s.storage);
      console.log(
        `restart after kill -9 took over the stale lock in ${Math.round(performance.now() - started)} ms`,
      );
      expect((await fetch(`${next.url}/readyz`)).status).toBe(200);
    },
    60_000,
  );
});
