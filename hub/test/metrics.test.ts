import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HybridClock, newOpId, type TillOpInput } from '@tillsync/sync-protocol';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { buildTestHub, TEST_WEBHOOK_ALLOW_HOSTS, type TestHub } from './helpers/build-hub.js';
import { seedCatalog } from './helpers/fixtures.js';
import { type Metrics, parseMetrics } from './helpers/metrics.js';
import { authFor, connectRaw, enrolDevice, push, type RawTill } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

const FAMILIES = [
  'tillsync_http_request_duration_seconds',
  'tillsync_sync_connections',
  'tillsync_sync_ops_total',
  'tillsync_sync_push_batch_size',
  'tillsync_sync_push_apply_seconds',
  'tillsync_outbox_depth',
  'tillsync_outbox_oldest_unsynced_seconds',
  'tillsync_reserved_units',
  'tillsync_orders_open',
  'tillsync_webhook_delivery_failures_total',
  'tillsync_webhook_deliveries_pending',
  'tillsync_db_pool_connections',
  'tillsync_db_pool_idle',
  'tillsync_db_pool_waiting',
  // prom-client's process metrics
  'process_cpu_user_seconds_total',
  'nodejs_eventloop_lag_seconds',
];

describe(`/metrics on ${testDbKind()}`, () => {
  let hub: TestHub;
  const sockets: RawTill[] = [];

  beforeEach(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'store-a' }],
      products: [{ sku: 'SKU-1' }],
      stock: [{ locationId: 'store-a', sku: 'SKU-1', onHand: 10 }],
    });
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await hub.close();
  });

  async function scrape(app: FastifyInstance = hub.app): Promise<Metrics> {
    const res = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    expect(res.statusCode, res.body).toBe(200);
    return parseMetrics(res.body);
  }

  it('needs an admin or hq token and stays out of /v1 and the OpenAPI document', async () => {
    const anonymous = await hub.request({ method: 'GET', url: '/metrics', token: null });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.body).toMatchObject({ code: 'unauthorized' });
    for (const token of [await hub.token('store_manager', 'store-a'), await hub.token('channel')]) {
      const refused = await hub.request({ method: 'GET', url: '/metrics', token });
      expect(refused.statusCode).toBe(403);
      expect(refused.body).toMatchObject({ code: 'forbidden' });
    }
    const hq = await hub.request({ method: 'GET', url: '/metrics', token: await hub.token('hq') });
    expect(hq.statusCode).toBe(200);
    expect(hq.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const docs = (await hub.request({ method: 'GET', url: '/docs/json' })).body as { paths: object };
    expect(Object.keys(docs.paths).filter((p) => p.includes('metrics'))).toEqual([]);
  });

  it('exposes every metric family', async () => {
    const { text } = await scrape();
    for (const name of FAMILIES) expect(text, name).toContain(`# TYPE ${name} `);
  });

  it('times HTTP requests by route pattern, and unmatched paths under one label', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await hub.request({ method: 'GET', url: '/v1/locations/store-a/inventory' });
      expect(res.statusCode).toBe(200);
    }
    await hub.request({ method: 'GET', url: '/v1/locations/nowhere/inventory' });
    for (const path of ['/nope-1', '/v1/nope-2']) {
      expect((await hub.request({ method: 'GET', url: path })).statusCode).toBe(404);
    }
    const m = await scrape();
    const route = '/v1/locations/:locationId/inventory';
    const name = 'tillsync_http_request_duration_seconds_count';
    expect(m.value(name, { method: 'GET', route, status_code: '200' })).toBe(2);
    expect(m.value(name, { method: 'GET', route, status_code: '404' })).toBe(1);
    expect(m.value(name, { route: 'unmatched', status_code: '404' })).toBe(2);
    expect(m.labelSets(name).filter((l) => l.route?.includes('nope'))).toEqual([]);
  });

  it('counts pushed ops by result, batch sizes, apply time, connections and outbox depth', async () => {
    const url = await hub.listen();
    const device = await enrolDevice(hub, 'store-a', 'till-1');
    const clock = new HybridClock(device.id);
    let seq = 0;
    const sale = (sku: string): TillOpInput => ({
      type: 'sale',
      opId: newOpId(),
      seq: ++seq,
      hlc: clock.tick(),
      locationId: 'store-a',
      receiptId: `r-${seq}`,
      lines: [{ sku, qty: 1, unitPriceMinor: 1000 }],
      payments: [{ method: 'card', amountMinor: 1000 }],
    });
    const before = await scrape();
    expect(before.value('tillsync_sync_connections')).toBe(0);
    expect(before.value('tillsync_sync_ops_total')).toBeUndefined();

    const { socket } = await connectRaw(url, authFor(device.token));
    sockets.push(socket);
    expect((await scrape()).value('tillsync_sync_connections')).toBe(1);

    const sales = [sale('SKU-1'), sale('SKU-1')];
    expect(await push(socket, sales)).toMatchObject({ ok: true });
    let m = await scrape();
    expect(m.value('tillsync_sync_ops_total', { result: 'applied' })).toBe(2);

    // The ack was "lost": the till sends the same batch again.
    expect(await push(socket, sales)).toMatchObject({ ok: true });
    // An op the hub refuses for good.
    expect(await push(socket, [sale('NO-SUCH-SKU')])).toMatchObject({
      ok: true,
      value: { results: [{ status: 'rejected', code: 'unknown_sku' }] },
    });
    m = await scrape();
    expect(m.value('tillsync_sync_ops_total', { result: 'applied' })).toBe(2);
    expect(m.value('tillsync_sync_ops_total', { result: 'duplicate' })).toBe(2);
    expect(m.value('tillsync_sync_ops_total', { result: 'rejected' })).toBe(1);
    expect(m.value('tillsync_sync_push_batch_size_count')).toBe(3);
    expect(m.value('tillsync_sync_push_batch_size_sum')).toBe(5);
    expect(m.value('tillsync_sync_push_apply_seconds_count')).toBe(3);
    expect(m.value('tillsync_sync_push_apply_seconds_sum')).toBeGreaterThan(0);

    socket.emit('heartbeat', { outboxDepth: 4, oldestUnsyncedAgeMs: 90_000, clockOffsetMs: 0 });
    await expect
      .poll(async () => (await scrape()).value('tillsync_outbox_depth', { location: 'store-a' }))
      .toBe(4);
    expect((await scrape()).value('tillsync_outbox_oldest_unsynced_seconds', { location: 'store-a' })).toBe(
      90,
    );

    socket.close();
    // Gone: no connection, and a disconnected till's last heartbeat no longer counts.
    await expect.poll(async () => (await scrape()).value('tillsync_sync_connections')).toBe(0);
    await expect
      .poll(async () => (await scrape()).value('tillsync_outbox_depth', { location: 'store-a' }))
      .toBeUndefined();
  });

  it('reports reserved units per location and open online orders by status', async () => {
    const before = await scrape();
    expect(before.value('tillsync_reserved_units', { location: 'store-a' })).toBeUndefined();
    expect(before.value('tillsync_orders_open', { status: 'pending' })).toBe(0);

    const created = await hub.request({
      method: 'POST',
      url: '/v1/orders',
      headers: { 'idempotency-key': 'metrics-1' },
      payload: {
        channel: 'web',
        customerRef: 'cust-1',
        lines: [{ sku: 'SKU-1', qty: 3 }],
        fulfilment: { type: 'pickup', pickupLocationId: 'store-a' },
      },
    });
    expect(created.statusCode, created.text).toBe(201);
    const order = created.body as { id: string };
    let m = await scrape();
    expect(m.value('tillsync_reserved_units', { location: 'store-a' })).toBe(3);
    expect(m.value('tillsync_orders_open', { status: 'pending' })).toBe(1);
    expect(m.value('tillsync_orders_open', { status: 'confirmed' })).toBe(0);

    const confirmed = await hub.request({
      method: 'POST',
      url: `/v1/orders/${order.id}/confirm`,
      payload: { payment: { method: 'card', amountMinor: 3000, reference: 'psp-1' } },
    });
    expect(confirmed.statusCode, confirmed.text).toBe(200);
    m = await scrape();
    expect(m.value('tillsync_orders_open', { status: 'pending' })).toBe(0);
    expect(m.value('tillsync_orders_open', { status: 'confirmed' })).toBe(1);

    expect((await hub.request({ method: 'POST', url: `/v1/orders/${order.id}/cancel` })).statusCode).toBe(
      200,
    );
    m = await scrape();
    expect(m.value('tillsync_reserved_units', { location: 'store-a' })).toBeUndefined();
    expect(m.value('tillsync_orders_open')).toBe(0);
  });

  it('counts failed webhook deliveries (retrying, then given up) and the ones still pending', async () => {
    const receiver = createServer((_req, res) => res.writeHead(500).end('down'));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const app = await buildApp({
      config: {
        logLevel: 'silent',
        bodyLimit: 1_048_576,
        rateLimitPerMinute: 100_000,
        webhookAllowHosts: TEST_WEBHOOK_ALLOW_HOSTS,
      },
      db: hub.database.db,
      jobs: false,
      webhooks: { retryScheduleMs: [1], timeoutMs: 5_000 },
    });
    try {
      const { port } = receiver.address() as AddressInfo;
      const created = await hub.request({
        method: 'POST',
        url: '/v1/webhooks',
        payload: { url: `http://127.0.0.1:${port}/hook`, events: ['order.*'] },
      });
      expect(created.statusCode, created.text).toBe(201);
      const { id } = created.body as { id: string };
      expect((await hub.request({ method: 'POST', url: `/v1/webhooks/${id}/test` })).statusCode).toBe(202);

      const failures = async (outcome: string) =>
        (await scrape(app)).value('tillsync_webhook_delivery_failures_total', { outcome }) ?? 0;
      const pending = async () =>
        (await scrape(app)).value('tillsync_webhook_deliveries_pending', { webhook: id });
      expect(await pending()).toBe(1);
      await app.jobs.runNow('webhook-delivery');
      expect(await failures('retrying')).toBe(1);
      expect(await pending()).toBe(1);
      await expect
        .poll(async () => {
          await app.jobs.runNow('webhook-delivery');
          return failures('failed');
        })
        .toBe(1);
      expect(await failures('retrying')).toBe(1);
      // Given up: no longer pending (the gauge leaves the webhook out).
      expect(await pending()).toBeUndefined();
    } finally {
      await app.close();
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });

  it('still answers when one scrape-time query fails, without that metric', async () => {
    await hub.database.db.query(`INSERT INTO orders (id, kind, channel, status, fulfilment, created_by)
      VALUES ('ord-1', 'order', 'web', 'pending', 'shipping', 'test')`);
    await hub.database.db.query('ALTER TABLE allocations RENAME TO allocations_gone');
    const m = await scrape();
    expect(m.text).toContain('# TYPE tillsync_reserved_units gauge');
    expect(m.labelSets('tillsync_reserved_units')).toEqual([]);
    expect(m.value('tillsync_orders_open', { status: 'pending' })).toBe(1);
  });

  it('reports database pool usage, waiting callers included', async () => {
    const idle = await scrape();
    expect(idle.value('tillsync_db_pool_connections')).toBeGreaterThanOrEqual(1);
    if (testDbKind() === 'pglite') expect(idle.value('tillsync_db_pool_connections')).toBe(1);

    // More slow queries than connections (PGlite has one, the test pool ten): some must wait.
    const slow = Array.from({ length: 12 }, () => hub.database.db.query('SELECT pg_sleep(0.2)'));
    const busy = parseMetrics(await hub.app.metrics.text());
    await Promise.all(slow);
    expect(busy.value('tillsync_db_pool_waiting')).toBeGreaterThanOrEqual(2);
    if (testDbKind() === 'pglite') expect(busy.value('tillsync_db_pool_idle')).toBe(0);
    expect((await scrape()).value('tillsync_db_pool_waiting')).toBe(0);
  });

  it('echoes a sane x-request-id and replaces any other with a generated one', async () => {
    const given = await hub.request({
      method: 'GET',
      url: '/v1/locations',
      headers: { 'x-request-id': 'abc-123' },
    });
    expect(given.headers['x-request-id']).toBe('abc-123');
    const notFound = await hub.request({
      method: 'GET',
      url: '/nope',
      headers: { 'x-request-id': 'abc.456_7' },
    });
    expect(notFound.headers['x-request-id']).toBe('abc.456_7');

    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (const bad of ['has space', 'a'.repeat(65), 'semi;colon', '']) {
      const res = await hub.request({
        method: 'GET',
        url: '/v1/locations',
        headers: { 'x-request-id': bad },
      });
      expect(res.headers['x-request-id'], bad).toMatch(uuid);
    }
    const none = await hub.request({ method: 'GET', url: '/v1/locations', token: null });
    expect(none.statusCode).toBe(401);
    expect(none.headers['x-request-id']).toMatch(uuid);
  });
});
