import { handshakeRefusal, newOpId, upgradeHeaders } from '@tillsync/sync-protocol';
import pg from 'pg';
import { io } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  Alert,
  DeviceHealth,
  HqUpdate,
  SyncActivity,
  SyncHealth,
} from '../../hub/src/schemas/health.js';
import { createApiToken } from '../../hub/src/services/tokens.js';
import { authFor, connectRaw, push } from '../../hub/test/helpers/sync-client.js';
import { testDatabaseUrl, testDbKind } from '../../hub/test/helpers/test-db.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { startTill, type TestTill } from './helpers/tills.js';

/*
 * Sync health as HQ reads it, from real tills over real sockets: connected, offline, back, lagging;
 * and the alerts the hub raises for them, for conflicts and for low stock.
 */

const OFFLINE_CRITICAL_MS = 1_500;
/** Test tills beat every 500 ms: six missed beats. */
const HEARTBEAT_STALE_MS = 3_000;

describe(`sync health on ${testDbKind()}: real tills connected, offline, lagging`, () => {
  let hub: TestHubServer;
  let hq: string;
  const tills: TestTill[] = [];

  beforeEach(async () => {
    hub = await TestHubServer.start({
      health: {
        offlineCriticalMs: OFFLINE_CRITICAL_MS,
        offlineAlertMs: 300,
        lagDegradedMs: 400,
        lagAlertMs: 400,
        heartbeatStaleMs: HEARTBEAT_STALE_MS,
      },
    });
    await hub.seed({
      locations: [{ id: 'paris' }, { id: 'lyon' }, { id: 'depot', kind: 'warehouse' }],
      products: [
        { sku: 'LIP-RED', priceMinor: 1500 },
        { sku: 'MASCARA', priceMinor: 2200 },
      ],
      stock: [
        { locationId: 'paris', sku: 'LIP-RED', onHand: 20, reorderPoint: 5 },
        { locationId: 'paris', sku: 'MASCARA', onHand: 2 },
        { locationId: 'lyon', sku: 'LIP-RED', onHand: 8 },
      ],
    });
    hq = (await createApiToken(hub.db, { name: 'hq', role: 'hq' })).token;
  });
  afterEach(async () => {
    for (const t of tills.splice(0)) await t.close();
    await hub.close();
  });

  async function till(locationId: string, id: string) {
    const t = await startTill(hub, locationId, id);
    tills.push(t);
    return t;
  }

  async function get<T>(path: string, token = hq): Promise<{ status: number; body: T }> {
    const res = await fetch(`${hub.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as T };
  }
  const health = async () => (await get<SyncHealth>('/v1/sync/health')).body;
  const device = async (id: string) =>
    (await health()).devices.find((d) => d.deviceId === id) as DeviceHealth;
  const alerts = async () => (await get<{ items: Alert[] }>('/v1/alerts')).body.items;

  it('reports connected tills as ok, with the last hour of ops and their sync lag', async () => {
    const p1 = await till('paris', 'paris-1');
    await till('lyon', 'lyon-1');
    for (let i = 0; i < 3; i++) p1.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    await p1.agent.drained();
    await expect.poll(async () => (await device('paris-1')).outboxDepth).toBe(0);

    const h = await health();
    expect(h.summary.status).toBe('ok');
    expect(h.summary.reasons).toEqual([]);
    expect(h.summary.devices).toEqual({ total: 2, online: 2, ok: 2, degraded: 0, critical: 0 });
    const d = h.devices.find((x) => x.deviceId === 'paris-1')!;
    expect(d).toMatchObject({
      locationId: 'paris',
      status: 'ok',
      reasons: [],
      online: true,
      offlineSince: null,
      outboxDepth: 0,
      oldestUnsyncedAgeMs: 0,
      protocolVersion: 1,
      lastHour: { applied: 3, duplicates: 0, rejected: 0 },
      openDeadLetters: 0,
    });
    expect(d.lastHour.maxLagMs).toBeGreaterThanOrEqual(0);
    expect(d.lastHour.maxLagMs).toBeLessThan(5_000);
    expect(d.lastAckedSeq).toBe(3);
    expect(Math.abs(d.clockOffsetMs ?? Number.NaN)).toBeLessThan(1_000);
    const paris = h.locations.find((l) => l.locationId === 'paris')!;
    expect(paris).toMatchObject({ status: 'ok', devices: { total: 1, online: 1 }, lastHour: { applied: 3 } });
    // A warehouse without tills is simply ok.
    expect(h.locations.find((l) => l.locationId === 'depot')).toMatchObject({
      status: 'ok',
      devices: { total: 0, online: 0 },
    });

    const activity = (await get<SyncActivity>('/v1/sync/activity?hours=1&locationId=paris')).body;
    expect(activity.points).toHaveLength(60);
    expect(activity.points.reduce((n, p) => n + p.applied, 0)).toBe(3);
    const busy = activity.points.filter((p) => p.applied > 0);
    expect(busy.every((p) => p.avgLagMs !== null && p.maxLagMs !== null)).toBe(true);
    expect(activity.points.filter((p) => p.applied === 0).every((p) => p.avgLagMs === null)).toBe(true);
  });

  it('turns a till offline → degraded → critical, alerts once, and measures the lag of its queued sales on return', async () => {
    const p1 = await till('paris', 'paris-1');
    await till('paris', 'paris-2');
    await p1.agent.stop();
    p1.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    p1.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });

    await expect.poll(async () => (await device('paris-1')).online).toBe(false);
    const offline = await device('paris-1');
    expect(offline.status).toBe('degraded');
    expect(offline.reasons[0]).toMatch(/^offline for \d+ s$/);
    expect(offline.offlineSince).not.toBeNull();
    let h = await health();
    expect(h.summary.status).toBe('degraded');
    expect(h.summary.reasons[0]).toMatch(/^Location paris: Till paris-1: offline for \d+ s$/);
    expect(h.locations.find((l) => l.locationId === 'paris')).toMatchObject({
      status: 'degraded',
      devices: { total: 2, online: 1 },
    });

    // Past the critical threshold: critical, and one till.offline alert however often the job runs.
    await expect.poll(async () => (await device('paris-1')).status, { timeout: 5_000 }).toBe('critical');
    h = await health();
    expect(h.summary.status).toBe('critical');
    expect(h.summary.devices).toMatchObject({ online: 1, critical: 1 });
    await hub.app!.jobs.runNow('sync-alerts');
    await hub.app!.jobs.runNow('sync-alerts');
    const raised = (await alerts()).filter((a) => a.type === 'till.offline');
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ locationId: 'paris', payload: { deviceId: 'paris-1' } });
    expect(raised[0]!.message).toMatch(/^Till .*paris-1.* \(paris\) offline for \d+ s$/);

    // Back: the two queued sales land, their lag covers the time offline, and the till is ok again.
    const offlineFor = Date.now() - Date.parse(offline.offlineSince!);
    p1.agent.start();
    await p1.agent.drained();
    await expect.poll(async () => (await device('paris-1')).status).toBe('ok');
    const back = await device('paris-1');
    expect(back.lastHour.applied).toBe(2);
    expect(back.lastHour.maxLagMs).toBeGreaterThanOrEqual(offlineFor);
    await hub.app!.jobs.runNow('sync-alerts');
    const online = (await alerts()).filter((a) => a.type === 'till.online');
    expect(online).toHaveLength(1);
    expect(online[0]!.message).toMatch(/paris-1.* back online after \d+ s$/);
    expect((await health()).summary.status).toBe('ok');
  });

  it('counts duplicates absorbed and rejections, and shows open dead letters as a reason', async () => {
    const p1 = await till('paris', 'paris-1');
    await p1.agent.stop();
    // A sale the till rings for a SKU the hub does not know: rejected for good, dead-lettered.
    const op = {
      type: 'sale',
      opId: newOpId(),
      seq: p1.till.cashier.status().lastAckedSeq + 1,
      hlc: `${String(Date.now()).padStart(15, '0')}:00000:paris-1`,
      locationId: 'paris',
      receiptId: 'R-1',
      lines: [{ sku: 'NO-SUCH', qty: 1, unitPriceMinor: 100 }],
    };
    const raw = await connectRaw(hub.url, authFor(p1.till.replica.enrolment!.token));
    try {
      expect((await push(raw.socket, [op])).ok).toBe(true);
      // The same batch again (an ack lost on the way): absorbed, answered the same, not counted twice.
      expect((await push(raw.socket, [op])).ok).toBe(true);
    } finally {
      raw.socket.close();
    }
    await expect.poll(async () => (await device('paris-1')).lastHour).toMatchObject({ rejected: 1 });
    const d = await device('paris-1');
    expect(d.openDeadLetters).toBe(1);
    expect(d.reasons).toContain('1 rejected op awaiting review');
    expect(d.status).toBe('degraded');

    const fresh = {
      ...op,
      opId: newOpId(),
      seq: op.seq + 1,
      receiptId: 'R-2',
      lines: [{ sku: 'LIP-RED', qty: 1, unitPriceMinor: 100 }],
    };
    const again = await connectRaw(hub.url, authFor(p1.till.replica.enrolment!.token));
    try {
      await push(again.socket, [fresh]);
      await push(again.socket, [fresh]);
    } finally {
      again.socket.close();
    }
    await expect
      .poll(async () => (await device('paris-1')).lastHour)
      .toMatchObject({ applied: 1, duplicates: 1, rejected: 1 });
  });

  it('raises conflict.opened for an offline oversell and stock.low when a SKU crosses its reorder point', async () => {
    const p1 = await till('paris', 'paris-1');
    p1.till.cashier.sell({ lines: [{ ref: 'MASCARA', qty: 3 }] });
    p1.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 15 }] });
    await p1.agent.drained();
    p1.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    await p1.agent.drained();

    const h = await health();
    const paris = h.locations.find((l) => l.locationId === 'paris')!;
    expect(paris.openConflicts).toMatchObject({ oversell: 1, total: 1 });
    expect(paris.status).toBe('degraded');
    expect(paris.reasons).toContain('1 open conflict (1 oversell)');
    expect(paris.lowStockSkus).toBe(1);
    expect(h.summary).toMatchObject({ status: 'degraded', openConflicts: 1, lowStockSkus: 1 });

    const list = await alerts();
    const conflict = list.filter((a) => a.type === 'conflict.opened');
    expect(conflict).toHaveLength(1);
    expect(conflict[0]).toMatchObject({ locationId: 'paris', payload: { kind: 'oversell', sku: 'MASCARA' } });
    expect(conflict[0]!.message).toBe('oversell at paris on MASCARA (on hand now -1)');
    // 20 → 5 crosses the reorder point (5) once; the next sale, still below, raises nothing new.
    const low = list.filter((a) => a.type === 'stock.low');
    expect(low).toHaveLength(1);
    expect(low[0]!.message).toBe('LIP-RED low at paris: 5 available, reorder point 5');
    // Newest first.
    expect(list.map((a) => a.id)).toEqual([...list.map((a) => a.id)].sort((a, b) => b - a));
  });

  // Postgres only: holding a lock from a second connection needs a second connection.
  (testDbKind() === 'postgres' ? it : () => undefined)(
    'shows a connected till whose pushes are stuck as lagging, and alerts once',
    async () => {
      const p1 = await till('paris', 'paris-1');
      // Hold the location's change cursor from another connection: the till's pushes wait on it,
      // its heartbeats still reach the hub, reporting an ageing outbox.
      const blocker = new pg.Client({ connectionString: testDatabaseUrl() });
      await blocker.connect();
      try {
        await blocker.query(`SET search_path TO ${hub.database.schema}`);
        await blocker.query('BEGIN');
        await blocker.query("SELECT 1 FROM stock_cursors WHERE location_id = 'paris' FOR UPDATE");
        p1.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
        await expect
          .poll(async () => (await device('paris-1')).reasons.join(), { timeout: 8_000 })
          .toMatch(/oldest unsynced op \d+ s old, 1 op waiting/);
        const d = await device('paris-1');
        expect(d).toMatchObject({ online: true, status: 'degraded', outboxDepth: 1 });
        await hub.app!.jobs.runNow('sync-alerts');
        await hub.app!.jobs.runNow('sync-alerts');
        const lagging = (await alerts()).filter((a) => a.type === 'till.lagging');
        expect(lagging).toHaveLength(1);
        expect(lagging[0]!.message).toMatch(/paris-1.* lagging: oldest unsynced op \d+ s old, 1 op waiting/);
      } finally {
        await blocker.query('ROLLBACK');
        await blocker.end();
      }
      await p1.agent.drained();
      await expect.poll(async () => (await device('paris-1')).status).toBe('ok');
    },
  );

  it('does not believe a connection that went silent (a hub that died never recorded its end)', async () => {
    const res = await fetch(`${hub.url}/v1/devices/enrol`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrolmentCode: await hub.enrolmentCode('lyon', 'lyon-mute') }),
    });
    const { token } = (await res.json()) as { token: string };
    // A bare protocol client: connected, but it never sends a heartbeat.
    const raw = await connectRaw(hub.url, authFor(token));
    try {
      expect((await device('lyon-mute')).online).toBe(true);
      await expect
        .poll(async () => (await device('lyon-mute')).online, { timeout: HEARTBEAT_STALE_MS + 3_000 })
        .toBe(false);
      const d = await device('lyon-mute');
      expect(d.reasons[0]).toMatch(/^offline for \d+ s$/);
      expect(Date.parse(d.offlineSince!)).toBeLessThanOrEqual(Date.now() - HEARTBEAT_STALE_MS);
      await hub.app!.jobs.runNow('sync-alerts');
      expect((await alerts()).filter((a) => a.type === 'till.offline')).toMatchObject([
        { payload: { deviceId: 'lyon-mute' } },
      ]);
    } finally {
      raw.socket.close();
    }
  });

  it('limits who sees what: store managers their own location, channels nothing', async () => {
    await till('paris', 'paris-1');
    await till('lyon', 'lyon-1');
    const manager = (await createApiToken(hub.db, { name: 'm', role: 'store_manager', locationId: 'lyon' }))
      .token;
    const own = await get<SyncHealth>('/v1/sync/health', manager);
    expect(own.status).toBe(200);
    expect(own.body.devices.map((d) => d.deviceId)).toEqual(['lyon-1']);
    expect(own.body.locations.map((l) => l.locationId)).toEqual(['lyon']);
    expect((await get('/v1/sync/health?locationId=paris', manager)).status).toBe(403);
    expect((await get('/v1/sync/activity?locationId=paris', manager)).status).toBe(403);
    expect((await get('/v1/alerts?locationId=paris', manager)).status).toBe(403);
    const channel = (await createApiToken(hub.db, { name: 'c', role: 'channel' })).token;
    expect((await get('/v1/sync/health', channel)).status).toBe(403);
    expect((await fetch(`${hub.url}/v1/sync/health`)).status).toBe(401);
    expect((await get('/v1/sync/activity?hours=49')).status).toBe(400);
  });

  it('pushes live updates to HQ dashboards over /hq, and refuses other tokens', async () => {
    const p1 = await till('paris', 'paris-1');
    const updates: HqUpdate[] = [];
    const dash = io(`${hub.url}/hq`, {
      path: '/sync',
      auth: { token: hq },
      extraHeaders: upgradeHeaders(hq),
      transports: ['websocket'],
      reconnection: false,
    });
    dash.on('update', (u: HqUpdate) => updates.push(u));
    try {
      const online = (u: HqUpdate | undefined) =>
        u?.health.devices.find((d) => d.deviceId === 'paris-1')?.online;
      await expect.poll(() => online(updates.at(-1))).toBe(true);
      await p1.agent.stop();
      await expect.poll(() => online(updates.at(-1)), { timeout: 5_000 }).toBe(false);
      p1.agent.start();
      await expect.poll(() => online(updates.at(-1)), { timeout: 5_000 }).toBe(true);
    } finally {
      dash.close();
    }

    const refusal = async (token: string) =>
      new Promise<unknown>((resolve) => {
        const s = io(`${hub.url}/hq`, {
          path: '/sync',
          auth: { token },
          extraHeaders: upgradeHeaders(token),
          transports: ['websocket'],
          reconnection: false,
        });
        s.on('connect_error', (err: Error & { data?: unknown }) => {
          s.close();
          resolve(handshakeRefusal(err) ?? err.data);
        });
        s.on('connect', () => {
          s.close();
          resolve('connected');
        });
      });
    expect(await refusal('tsk.nope.nope')).toMatchObject({ code: 'unauthorized' });
    const manager = (await createApiToken(hub.db, { name: 'm', role: 'store_manager', locationId: 'paris' }))
      .token;
    expect(await refusal(manager)).toMatchObject({ code: 'forbidden' });
  });
});
