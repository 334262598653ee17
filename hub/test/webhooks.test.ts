import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import type { Database } from '../src/db/database.js';
import { WEBHOOK_EVENT_PAYLOADS } from '../src/schemas/webhook-events.js';
import { EVENT_API_VERSION, emitEvent } from '../src/services/events.js';
import {
  type DeliverySettings,
  retryDelayMs,
  STANDARD_RETRY_SCHEDULE_MS,
} from '../src/services/webhooks/delivery.js';
import { claimDue, recordAttempt } from '../src/services/webhooks/outbox.js';
import { buildTestHub, TEST_WEBHOOK_ALLOW_HOSTS, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { testDbKind } from './helpers/test-db.js';

interface Delivered {
  path: string;
  headers: IncomingHttpHeaders;
  text: string;
  body: { id: string; type: string; timestamp: string; apiVersion: string; data: Record<string, unknown> };
}

interface Receiver {
  url: string;
  received: Delivered[];
  close(): Promise<void>;
}

/**
 * A real HTTP receiver on loopback. `answer(n)` gives the status for the n-th request (1-based),
 * or 'hang' to never answer.
 */
async function startReceiver(
  answer: (n: number) => number | 'hang' = () => 200,
  delayMs = 0,
): Promise<Receiver> {
  const received: Delivered[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    received.push({ path: req.url ?? '', headers: req.headers, text, body: JSON.parse(text) });
    const status = answer(received.length);
    if (status === 'hang') return;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'receiver is down');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/tillsync`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface WebhookCreated {
  id: string;
  url: string;
  events: string[];
  secret: string;
  status: string;
}
interface Attempt {
  eventId: string;
  eventType: string;
  attempt: number;
  outcome: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  nextAttemptAt: string | null;
}

const json = <T>(res: { body: unknown }): T => res.body as T;

/** The one item of a list that must have exactly one. */
function only<T>(items: readonly T[]): T {
  expect(items).toHaveLength(1);
  return items[0] as T;
}

describe(`outbound webhooks on ${testDbKind()}`, () => {
  let hub: TestHub;
  let db: Database;
  let receiver: Receiver;
  const others: FastifyInstance[] = [];

  beforeEach(async () => {
    hub = await buildTestHub();
    db = hub.database.db;
    await seedCatalog(db, {
      locations: [{ id: 'store-a' }],
      products: [{ sku: 'SKU-1' }, { sku: 'SKU-2' }],
      stock: [{ locationId: 'store-a', sku: 'SKU-1', onHand: 10 }],
    });
  });
  afterEach(async () => {
    expect(await ledgerMismatches(db)).toEqual([]);
    for (const app of others.splice(0)) await app.close();
    await receiver?.close();
    await hub.close();
  });

  async function subscribe(events: string[], url = receiver.url): Promise<WebhookCreated> {
    const res = await hub.request({ method: 'POST', url: '/v1/webhooks', payload: { url, events } });
    expect(res.statusCode, res.text).toBe(201);
    return json<WebhookCreated>(res);
  }

  /** Another hub instance on the same database, as in a multi-instance deployment. */
  async function secondInstance(webhooks: Partial<DeliverySettings> = {}): Promise<FastifyInstance> {
    const app = await buildApp({
      config: {
        logLevel: 'silent',
        bodyLimit: 1_048_576,
        rateLimitPerMinute: 100_000,
        webhookAllowHosts: TEST_WEBHOOK_ALLOW_HOSTS,
      },
      db,
      jobs: false,
      webhooks,
    });
    await app.ready();
    others.push(app);
    return app;
  }

  const deliver = () => hub.app.jobs.runNow('webhook-delivery');

  /** Make every delivery waiting for a retry due now, as if its backoff had passed. */
  const skipBackoff = () =>
    db.query("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE status = 'pending'");

  async function deliveries() {
    const { rows } = await db.query<{ status: string; attempts: number; wait_ms: number }>(
      `SELECT status, attempts, (EXTRACT(EPOCH FROM next_attempt_at - now()) * 1000)::int AS wait_ms
       FROM webhook_deliveries ORDER BY id`,
    );
    return rows;
  }

  async function log(webhookId: string, query = ''): Promise<Attempt[]> {
    const res = await hub.request({ method: 'GET', url: `/v1/webhooks/${webhookId}/deliveries${query}` });
    expect(res.statusCode, res.text).toBe(200);
    return json<{ items: Attempt[] }>(res).items;
  }

  /** Verified by the Standard Webhooks library, as a receiver would (its own 5-minute tolerance). */
  const isSigned = (d: Delivered, secret: string) => {
    try {
      new Webhook(secret).verify(d.text, {
        'webhook-id': String(d.headers['webhook-id']),
        'webhook-timestamp': String(d.headers['webhook-timestamp']),
        'webhook-signature': String(d.headers['webhook-signature']),
      });
      return true;
    } catch {
      return false;
    }
  };

  it('delivers a receipt at a store as a signed stock.changed event', async () => {
    receiver = await startReceiver();
    const hook = await subscribe(['stock.changed']);
    expect(hook).toMatchObject({ events: ['stock.changed'], status: 'active' });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const receipt = await hub.request({
      method: 'POST',
      url: '/v1/locations/store-a/receipts',
      payload: { reference: 'PO-7', lines: [{ sku: 'SKU-1', qty: 5 }] },
    });
    expect(receipt.statusCode, receipt.text).toBe(201);
    expect(await deliver()).toBe(1);

    const got = only(receiver.received);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['webhook-id']).toBe(got.body.id);
    expect(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(10);
    expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(Object.keys(got.headers).filter((h) => h.startsWith('x-tillsync'))).toEqual([]);
    expect(got.body).toMatchObject({
      type: 'stock.changed',
      apiVersion: EVENT_API_VERSION,
      data: {
        locationId: 'store-a',
        rows: [{ sku: 'SKU-1', onHand: 15, reserved: 0, available: 15, incoming: 0, damaged: 0, version: 2 }],
      },
    });
    expect(isSigned(got, hook.secret)).toBe(true);
    expect(isSigned(got, `whsec_${Buffer.from('another secret').toString('base64')}`)).toBe(false);
    expect(isSigned({ ...got, text: got.text.replace('15', '16') }, hook.secret)).toBe(false);

    expect(await log(hook.id)).toMatchObject([
      {
        eventId: got.body.id,
        eventType: 'stock.changed',
        attempt: 1,
        outcome: 'delivered',
        statusCode: 200,
      },
    ]);
    expect(await deliver()).toBe(0);
    expect(receiver.received).toHaveLength(1);
  });

  it('writes no event for a stock write that fails', async () => {
    receiver = await startReceiver();
    await subscribe(['stock.changed']);
    const bad = await hub.request({
      method: 'POST',
      url: '/v1/locations/store-a/receipts',
      payload: {
        lines: [
          { sku: 'SKU-1', qty: 5 },
          { sku: 'SKU-404', qty: 1 },
        ],
      },
    });
    expect(bad.statusCode).toBe(404);
    expect(await deliveries()).toEqual([]);
    expect(await deliver()).toBe(0);
    expect(receiver.received).toEqual([]);
  });

  it('sends each subscriber the order events it asked for, and nothing else', async () => {
    receiver = await startReceiver();
    const allOrders = await subscribe(['order.*']);
    const shippedOnly = await subscribe(['order.shipped', 'order.shipped'], `${receiver.url}?only=shipped`);
    expect(shippedOnly.events).toEqual(['order.shipped']);

    await db.transaction(async (tx) => {
      await emitEvent(tx, 'order.created', { orderId: 'ord-1', status: 'pending' }, 'store-a');
      await emitEvent(tx, 'order.shipped', { orderId: 'ord-1', status: 'shipped' }, 'store-a');
    });
    await expect(
      db.transaction(async (tx) => {
        await emitEvent(tx, 'order.canceled', { orderId: 'ord-2' });
        throw new Error('the order change failed');
      }),
    ).rejects.toThrow('the order change failed');
    await hub.request({
      method: 'POST',
      url: '/v1/locations/store-a/receipts',
      payload: { lines: [{ sku: 'SKU-2', qty: 1 }] },
    });

    expect(await deliver()).toBe(3);
    const typesAt = (path: string) =>
      receiver.received
        .filter((d) => d.path === path)
        .map((d) => d.body.type)
        .sort();
    expect(typesAt('/hooks/tillsync')).toEqual(['order.created', 'order.shipped']);
    expect(typesAt('/hooks/tillsync?only=shipped')).toEqual(['order.shipped']);
    expect((await log(allOrders.id)).map((a) => a.eventType).sort()).toEqual([
      'order.created',
      'order.shipped',
    ]);
    expect((await log(shippedOnly.id)).map((a) => a.eventType)).toEqual(['order.shipped']);
    const shipped = receiver.received.filter((d) => d.body.type === 'order.shipped');
    expect(new Set(shipped.map((d) => d.body.id)).size).toBe(1);
    expect(shipped.map((d) => d.body.data)).toEqual([
      { orderId: 'ord-1', status: 'shipped' },
      { orderId: 'ord-1', status: 'shipped' },
    ]);
  });

  it('retries a receiver that fails three times with backoff, then delivers once with the same event id', async () => {
    receiver = await startReceiver((n) => (n <= 3 ? 500 : 200));
    const hook = await subscribe(['order.*']);
    await db.transaction((tx) => emitEvent(tx, 'order.confirmed', { orderId: 'ord-1' }));

    const waits: number[] = [];
    for (let run = 1; run <= 3; run++) {
      expect(await deliver()).toBe(1);
      const d = only(await deliveries());
      expect(d).toMatchObject({ status: 'pending', attempts: run });
      waits.push(d.wait_ms);
      expect(await deliver(), 'not due before its backoff').toBe(0);
      await skipBackoff();
    }
    // Standard Webhooks' schedule: 5 s, 5 min, 30 min, each ±10 %.
    expect(waits[0]).toBeGreaterThan(4_000);
    expect(waits[0]).toBeLessThanOrEqual(5_500);
    expect(waits[1]).toBeGreaterThan(269_000);
    expect(waits[1]).toBeLessThanOrEqual(330_000);
    expect(waits[2]).toBeGreaterThan(1_619_000);
    expect(waits[2]).toBeLessThanOrEqual(1_980_000);

    expect(await deliver()).toBe(1);
    expect(await deliveries()).toMatchObject([{ status: 'delivered', attempts: 4 }]);
    expect(await deliver()).toBe(0);

    expect(receiver.received).toHaveLength(4);
    const ids = new Set(receiver.received.map((d) => d.headers['webhook-id']));
    expect(ids.size).toBe(1);
    expect(new Set(receiver.received.map((d) => d.text)).size).toBe(1);
    expect(receiver.received.every((d) => isSigned(d, hook.secret))).toBe(true);

    const attempts = await log(hook.id);
    expect(attempts.map((a) => [a.attempt, a.outcome, a.statusCode])).toEqual([
      [4, 'delivered', 200],
      [3, 'retrying', 500],
      [2, 'retrying', 500],
      [1, 'retrying', 500],
    ]);
    // Only the status: the receiver's body ("receiver is down") is never read, so never shown.
    expect(attempts[1]).toMatchObject({ error: 'HTTP 500' });
    expect(JSON.stringify(attempts)).not.toContain('receiver is down');
    expect(attempts.map((a) => a.nextAttemptAt !== null)).toEqual([false, true, true, true]);
    expect(new Set(attempts.map((a) => a.eventId)).size).toBe(1);

    const firstPage = await hub.request({ method: 'GET', url: `/v1/webhooks/${hook.id}/deliveries?limit=3` });
    const { items, nextCursor } = json<{ items: Attempt[]; nextCursor: string }>(firstPage);
    expect(items.map((a) => a.attempt)).toEqual([4, 3, 2]);
    expect((await log(hook.id, `?limit=3&cursor=${nextCursor}`)).map((a) => a.attempt)).toEqual([1]);
  });

  it('gives up after 8 attempts over the schedule, disables the webhook and raises an alert', async () => {
    receiver = await startReceiver(() => 503);
    const hook = await subscribe(['order.shipped']);
    await db.transaction((tx) => emitEvent(tx, 'order.shipped', { orderId: 'ord-9' }));

    for (let run = 1; run <= 8; run++) {
      expect(await deliver()).toBe(1);
      await skipBackoff();
    }
    expect(await deliveries()).toMatchObject([{ status: 'failed', attempts: 8 }]);
    expect(await deliver()).toBe(0);
    expect(receiver.received).toHaveLength(8);

    const attempts = await log(hook.id, '?limit=100');
    expect(attempts).toHaveLength(8);
    expect(attempts[0]).toMatchObject({
      attempt: 8,
      outcome: 'failed',
      statusCode: 503,
      nextAttemptAt: null,
    });
    expect(attempts.slice(1).every((a) => a.outcome === 'retrying')).toBe(true);

    const disabled = await hub.request({ method: 'GET', url: `/v1/webhooks/${hook.id}` });
    expect(disabled.body).toMatchObject({ status: 'disabled', disabledAt: expect.any(String) });
    expect(json<{ disabledReason: string }>(disabled).disabledReason).toMatch(
      /^8 attempts over \d+ s failed \(last: HTTP 503\) and nothing was delivered meanwhile$/,
    );
    const alerts = await hub.request({ method: 'GET', url: '/v1/alerts' });
    const alert = only(
      json<{ items: Array<{ type: string; message: string; payload: unknown }> }>(alerts).items,
    );
    expect(alert).toMatchObject({ type: 'webhook.disabled', payload: { id: hook.id, status: 'disabled' } });
    expect(alert.message).toBe(
      `Webhook ${receiver.url} disabled: ${json<{ disabledReason: string }>(disabled).disabledReason}`,
    );
  });

  it('does not disable a webhook whose other deliveries succeed while one event keeps failing', async () => {
    // The receiver refuses only order ord-bad (a poison event), and takes everything else.
    receiver = await startReceiver((n) => (receiverRefusesPoison(n) ? 422 : 200));
    const refused = new Set<number>();
    function receiverRefusesPoison(n: number): boolean {
      const poison = receiver.received[n - 1]?.text.includes('ord-bad') ?? false;
      if (poison) refused.add(n);
      return poison;
    }
    const hook = await subscribe(['order.*']);
    await db.transaction((tx) => emitEvent(tx, 'order.created', { orderId: 'ord-bad' }));
    for (let run = 1; run <= 8; run++) {
      await db.transaction((tx) => emitEvent(tx, 'order.created', { orderId: `ord-ok-${run}` }));
      expect(await deliver()).toBe(2);
      await skipBackoff();
    }
    expect(refused.size).toBe(8);
    expect((await hub.request({ method: 'GET', url: `/v1/webhooks/${hook.id}` })).body).toMatchObject({
      status: 'active',
    });
  });

  it('records a refused connection and a receiver slower than the timeout as failed attempts', async () => {
    receiver = await startReceiver(() => 'hang');
    const closed = await startReceiver();
    await closed.close();
    const slow = await subscribe(['order.created']);
    const gone = await subscribe(['order.created'], closed.url);
    await db.transaction((tx) => emitEvent(tx, 'order.created', { orderId: 'ord-3' }));

    const impatient = await secondInstance({ timeoutMs: 200 });
    expect(await impatient.jobs.runNow('webhook-delivery')).toBe(2);

    const timedOut = only(await log(slow.id));
    expect(timedOut).toMatchObject({
      outcome: 'retrying',
      statusCode: null,
      error: 'timed out after 200 ms',
    });
    expect(timedOut.durationMs).toBeGreaterThanOrEqual(190);
    const refused = only(await log(gone.id));
    expect(refused).toMatchObject({ outcome: 'retrying', statusCode: null });
    expect(refused.error).toMatch(/^ECONNREFUSED/);
  });

  it('sends a delivery once when two hub instances run the job at the same time', async () => {
    receiver = await startReceiver(() => 200, 50);
    await subscribe(['order.*']);
    await db.transaction(async (tx) => {
      for (let i = 1; i <= 6; i++) await emitEvent(tx, 'order.created', { orderId: `ord-${i}` });
    });
    const other = await secondInstance();

    const [mine, theirs] = await Promise.all([deliver(), other.jobs.runNow('webhook-delivery')]);
    expect(mine + theirs).toBe(6);
    expect(receiver.received).toHaveLength(6);
    expect(new Set(receiver.received.map((d) => d.body.id)).size).toBe(6);
    expect(await deliveries()).toEqual(
      Array.from({ length: 6 }, () => expect.objectContaining({ status: 'delivered', attempts: 1 })),
    );
  });

  // Only Postgres has a second connection that can hold a row lock (PGlite is one connection).
  (testDbKind() === 'postgres' ? it : () => undefined)(
    'skips, without waiting, a delivery another instance is claiming at that moment',
    async () => {
      receiver = await startReceiver();
      await subscribe(['order.*']);
      await db.transaction(async (tx) => {
        for (let i = 1; i <= 3; i++) await emitEvent(tx, 'order.created', { orderId: `ord-${i}` });
      });
      let release = () => {};
      let locked = () => {};
      const lockTaken = new Promise<void>((resolve) => {
        locked = resolve;
      });
      const otherClaim = db.transaction(async (tx) => {
        await tx.query('SELECT id FROM webhook_deliveries ORDER BY id LIMIT 1 FOR UPDATE');
        locked();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      });
      await lockTaken;
      expect(await deliver()).toBe(2);
      release();
      await otherClaim;
      expect(await deliver()).toBe(1);
      expect(new Set(receiver.received.map((d) => d.body.id)).size).toBe(3);
    },
  );

  it('sends again a delivery whose instance died mid-send, once its lease runs out', async () => {
    receiver = await startReceiver();
    const hook = await subscribe(['order.*']);
    await db.transaction((tx) => emitEvent(tx, 'order.delivered', { orderId: 'ord-5' }));

    // An instance claims it and dies before recording anything.
    const { claimed } = await claimDue(db, 10, 60_000);
    expect(claimed).toHaveLength(1);
    expect(await deliver(), 'still leased').toBe(0);
    const inFlight = await hub.request({
      method: 'POST',
      url: `/v1/webhooks/${hook.id}/deliveries/${only(claimed).id}/redeliver`,
    });
    expect(inFlight.statusCode).toBe(409);
    expect(inFlight.body).toMatchObject({ code: 'delivery_in_flight' });

    await db.query('UPDATE webhook_deliveries SET next_attempt_at = now()');
    expect(await deliver()).toBe(1);
    expect(only(receiver.received).body.id).toBe(only(claimed).eventId);
    expect(await deliveries()).toMatchObject([{ status: 'delivered', attempts: 2 }]);

    // The presumed-dead instance comes back and records its attempt: logged, but it settles nothing.
    await recordAttempt(
      db,
      only(claimed),
      { statusCode: 500, error: 'HTTP 500', durationMs: 30_000, startedAt: new Date() },
      'retrying',
      5_000,
    );
    expect(await deliveries()).toMatchObject([{ status: 'delivered', attempts: 2 }]);
    expect((await log(hook.id)).map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'retrying'],
      [2, 'delivered'],
    ]);
  });

  it('sends a test event on request, and nothing more once the webhook is deactivated', async () => {
    receiver = await startReceiver(() => 500);
    const hook = await subscribe(['order.*']);

    const test = await hub.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/test` });
    expect(test.statusCode, test.text).toBe(202);
    expect(await deliver()).toBe(1);
    expect(only(receiver.received).body).toMatchObject({
      id: json<{ eventId: string }>(test).eventId,
      type: 'webhook.test',
      data: { webhookId: hook.id },
    });

    const removed = await hub.request({ method: 'DELETE', url: `/v1/webhooks/${hook.id}` });
    expect(removed.statusCode).toBe(200);
    expect(removed.body).toMatchObject({ id: hook.id, status: 'deactivated' });
    expect(json<{ deactivatedAt: string }>(removed).deactivatedAt).not.toBeNull();
    await db.transaction((tx) => emitEvent(tx, 'order.created', { orderId: 'ord-7' }));
    await skipBackoff();
    expect(await deliver()).toBe(0);
    expect(await deliveries()).toMatchObject([{ status: 'canceled', attempts: 1 }]);
    expect(receiver.received).toHaveLength(1);

    const again = await hub.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/test` });
    expect(again.statusCode).toBe(409);
    expect(again.body).toMatchObject({ code: 'webhook_inactive' });
    expect((await hub.request({ method: 'DELETE', url: `/v1/webhooks/${hook.id}` })).statusCode).toBe(200);
  });

  it('lets admin and hq read webhooks, never showing the secret again', async () => {
    receiver = await startReceiver();
    const first = await subscribe(['order.*']);
    const second = await subscribe(['stock.changed']);
    await subscribe(['order.created']);
    await hub.request({ method: 'DELETE', url: `/v1/webhooks/${second.id}` });

    const hq = await hub.token('hq');
    const one = await hub.request({ method: 'GET', url: `/v1/webhooks/${first.id}`, token: hq });
    expect(one.statusCode).toBe(200);
    expect(one.body).toEqual({
      id: first.id,
      url: receiver.url,
      events: ['order.*'],
      description: null,
      status: 'active',
      createdAt: expect.any(String),
      disabledAt: null,
      disabledReason: null,
      deactivatedAt: null,
    });

    const page1 = await hub.request({ method: 'GET', url: '/v1/webhooks?limit=2', token: hq });
    const { items, nextCursor } = json<{ items: WebhookCreated[]; nextCursor: string }>(page1);
    expect(items).toHaveLength(2);
    expect(items.some((w) => 'secret' in w)).toBe(false);
    const page2 = await hub.request({ method: 'GET', url: `/v1/webhooks?limit=2&cursor=${nextCursor}` });
    expect(json<{ items: unknown[]; nextCursor: null }>(page2)).toMatchObject({
      items: [{}],
      nextCursor: null,
    });
    const active = await hub.request({ method: 'GET', url: '/v1/webhooks?status=active' });
    expect(json<{ items: WebhookCreated[] }>(active).items.map((w) => w.id)).not.toContain(second.id);
    expect(json<{ items: unknown[] }>(active).items).toHaveLength(2);
  });

  /** Verified against one secret by the Standard Webhooks library; the error message when not. */
  function verifyWith(secret: string, d: Delivered): string {
    try {
      new Webhook(secret).verify(d.text, d.headers as Record<string, string>);
      return 'verified';
    } catch (err) {
      return (err as Error).message;
    }
  }

  async function placeOrder(qty: number): Promise<{ id: string }> {
    const res = await hub.request({
      method: 'POST',
      url: '/v1/orders',
      headers: { 'idempotency-key': `order-${qty}-${Date.now()}` },
      payload: {
        channel: 'web',
        customerRef: 'cust-1',
        lines: [{ sku: 'SKU-1', qty }],
        fulfilment: { type: 'pickup', pickupLocationId: 'store-a' },
      },
    });
    expect(res.statusCode, res.text).toBe(201);
    return json<{ id: string }>(res);
  }

  it('sends the full order and stock rows as of each event, valid against the published schemas', async () => {
    receiver = await startReceiver();
    const hook = await subscribe(['order.*', 'stock.changed']);
    const order = await placeOrder(3);
    const confirmed = await hub.request({
      method: 'POST',
      url: `/v1/orders/${order.id}/confirm`,
      payload: { payment: { method: 'card', amountMinor: 3000, reference: 'pi_1' } },
    });
    expect(confirmed.statusCode, confirmed.text).toBe(200);
    // Delivered after both changes: each event still shows the order as of its own change.
    expect(await deliver()).toBeGreaterThanOrEqual(2);

    const byType = (type: string) => receiver.received.filter((d) => d.body.type === type);
    const [created] = byType('order.created');
    const [wasConfirmed] = byType('order.confirmed');
    expect(created?.body.data).toMatchObject({
      id: order.id,
      status: 'pending',
      channel: 'web',
      lines: [{ sku: 'SKU-1', qty: 3, returnedQty: 0 }],
      allocations: [{ locationId: 'store-a', sku: 'SKU-1', qty: 3, status: 'held' }],
      payment: null,
      change: { from: null, to: 'pending', reason: 'created' },
    });
    expect(wasConfirmed?.body.data).toMatchObject({
      id: order.id,
      status: 'confirmed',
      payment: { method: 'card', amountMinor: 3000 },
      allocations: [{ locationId: 'store-a', sku: 'SKU-1', qty: 3, status: 'held' }],
      change: { from: 'pending', to: 'confirmed' },
    });
    // The snapshot is what GET /v1/orders/{id} answered at that moment.
    const { change: _c, ...orderNow } = wasConfirmed!.body.data;
    expect(orderNow).toEqual(confirmed.body);

    for (const d of receiver.received) {
      const schema = WEBHOOK_EVENT_PAYLOADS[d.body.type];
      expect(schema, d.body.type).toBeDefined();
      const parsed = schema!.safeParse(d.body);
      expect(parsed.success, `${d.body.type}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
      expect(d.body).toMatchObject({ apiVersion: EVENT_API_VERSION, timestamp: expect.any(String) });
      expect(isSigned(d, hook.secret)).toBe(true);
    }
    expect(Object.keys(WEBHOOK_EVENT_PAYLOADS).sort()).toEqual([
      'conflict.opened',
      'conflict.resolved',
      'order.at_risk',
      'order.canceled',
      'order.confirmed',
      'order.created',
      'order.delivered',
      'order.processing',
      'order.reallocated',
      'order.returned',
      'order.shipped',
      'stock.changed',
      'stock.low',
      'sync.incident',
      'till.lagging',
      'till.offline',
      'till.online',
      'webhook.disabled',
      'webhook.test',
    ]);
  });

  it('serves the event log for backfill, in the webhook body shape, paged and filtered', async () => {
    receiver = await startReceiver();
    await subscribe(['order.*', 'stock.changed']);
    await placeOrder(1);
    const before = new Date(Date.now() - 1).toISOString();
    await placeOrder(2);
    await hub.request({
      method: 'POST',
      url: '/v1/locations/store-a/receipts',
      payload: { lines: [{ sku: 'SKU-2', qty: 4 }] },
    });
    await deliver();

    type Page = { items: Delivered['body'][]; nextCursor: string | null };
    const all: Delivered['body'][] = [];
    let cursor: string | null = null;
    do {
      const res = await hub.request({
        method: 'GET',
        url: `/v1/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        token: await hub.token('hq'),
      });
      expect(res.statusCode, res.text).toBe(200);
      const page: Page = json<Page>(res);
      expect(page.items.length).toBeLessThanOrEqual(2);
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM events WHERE type <> 'webhook.test'",
    );
    expect(all).toHaveLength(rows[0]!.n);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    expect(all.filter((e) => e.type === 'order.created')).toHaveLength(2);
    expect(all.at(-1)).toMatchObject({
      type: 'stock.changed',
      data: { rows: [{ sku: 'SKU-2', onHand: 4 }] },
    });
    // Byte for byte what the webhook received.
    expect(receiver.received.length).toBeGreaterThan(2);
    for (const d of receiver.received)
      expect(all.find((e) => e.id === d.body.id)).toEqual(JSON.parse(d.text));

    const stock = await hub.request({ method: 'GET', url: '/v1/events?type=stock.changed,stock.low' });
    const stockTypes = json<Page>(stock).items.map((e) => e.type);
    expect(stockTypes).toEqual(all.filter((e) => e.type === 'stock.changed').map((e) => e.type));
    const since = await hub.request({ method: 'GET', url: `/v1/events?since=${encodeURIComponent(before)}` });
    const recent = json<Page>(since).items;
    expect(recent.filter((e) => e.type === 'order.created')).toHaveLength(1);
    expect(recent.every((e) => e.timestamp >= before)).toBe(true);
    expect(recent.length).toBeLessThan(all.length);

    for (const url of [
      '/v1/events?type=order.nope',
      '/v1/events?since=yesterday',
      '/v1/events?cursor=WyJ4Il0',
      '/v1/events?limit=0',
    ]) {
      const res = await hub.request({ method: 'GET', url });
      expect(res.statusCode, url).toBe(400);
    }
    const manager = await hub.token('store_manager', 'store-a');
    expect((await hub.request({ method: 'GET', url: '/v1/events', token: manager })).statusCode).toBe(403);
    expect((await hub.request({ method: 'GET', url: '/v1/events', token: null })).statusCode).toBe(401);
  });

  it('redelivers one delivery, and every failed one since a time, with the same webhook-id', async () => {
    let down = true;
    receiver = await startReceiver(() => (down ? 500 : 200));
    const hook = await subscribe(['order.*']);
    await db.transaction((tx) => emitEvent(tx, 'order.created', { orderId: 'ord-1' }));
    expect(await deliver()).toBe(1);
    down = false;
    await skipBackoff();
    expect(await deliver()).toBe(1);
    const [delivered] = await log(hook.id);
    const first = receiver.received.at(-1)!;

    const one = await hub.request({
      method: 'POST',
      url: `/v1/webhooks/${hook.id}/deliveries/${(delivered as unknown as { deliveryId: number }).deliveryId}/redeliver`,
    });
    expect(one.statusCode, one.text).toBe(202);
    expect(one.body).toEqual({ deliveries: 1 });
    expect(await deliver()).toBe(1);
    const again = receiver.received.at(-1)!;
    expect(again.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(again.text).toBe(first.text);
    expect(isSigned(again, hook.secret)).toBe(true);

    // Two events fail their whole schedule (the webhook is disabled), a third is written meanwhile.
    down = true;
    const since = new Date().toISOString();
    await db.transaction(async (tx) => {
      await emitEvent(tx, 'order.shipped', { orderId: 'ord-2' });
      await emitEvent(tx, 'order.delivered', { orderId: 'ord-3' });
    });
    for (let run = 1; run <= 8; run++) {
      await deliver();
      await skipBackoff();
    }
    await db.transaction((tx) => emitEvent(tx, 'order.canceled', { orderId: 'ord-4' }));
    expect((await hub.request({ method: 'GET', url: `/v1/webhooks/${hook.id}` })).body).toMatchObject({
      status: 'disabled',
    });
    const refused = await hub.request({
      method: 'POST',
      url: `/v1/webhooks/${hook.id}/redeliver`,
      payload: { since },
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.body).toMatchObject({ code: 'webhook_disabled' });

    down = false;
    const enabled = await hub.request({
      method: 'PATCH',
      url: `/v1/webhooks/${hook.id}`,
      payload: { status: 'active' },
    });
    expect(enabled.statusCode, enabled.text).toBe(200);
    expect(enabled.body).toMatchObject({ status: 'active', disabledAt: null, disabledReason: null });
    expect(await deliver(), 're-enabling sends nothing by itself').toBe(0);
    const bulk = await hub.request({
      method: 'POST',
      url: `/v1/webhooks/${hook.id}/redeliver`,
      payload: { since },
    });
    expect(bulk.statusCode, bulk.text).toBe(202);
    expect(bulk.body).toEqual({ deliveries: 3 });
    expect(await deliver()).toBe(3);
    const late = receiver.received.slice(-3);
    expect(late.map((d) => JSON.parse(d.text).data.orderId).sort()).toEqual(['ord-2', 'ord-3', 'ord-4']);
    expect(late.every((d) => d.headers['webhook-id'] === d.body.id && isSigned(d, hook.secret))).toBe(true);
    const ids = receiver.received
      .filter((d) => d.body.data.orderId === 'ord-2')
      .map((d) => d.headers['webhook-id']);
    expect(new Set(ids).size).toBe(1);
    expect(await deliveries()).toEqual(
      Array.from({ length: 4 }, () => expect.objectContaining({ status: 'delivered' })),
    );

    const missing = await hub.request({
      method: 'POST',
      url: `/v1/webhooks/${hook.id}/deliveries/999999/redeliver`,
    });
    expect(missing.statusCode).toBe(404);
    for (const [url, payload] of [
      [`/v1/webhooks/${hook.id}/redeliver`, { since: 'yesterday' }],
      [`/v1/webhooks/${hook.id}/redeliver`, {}],
    ] as const) {
      const res = await hub.request({ method: 'POST', url, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const badId = await hub.request({
      method: 'POST',
      url: `/v1/webhooks/${hook.id}/deliveries/x/redeliver`,
    });
    expect(badId.statusCode).toBe(400);
    const hq = await hub.token('hq');
    expect(
      (
        await hub.request({
          method: 'POST',
          url: `/v1/webhooks/${hook.id}/redeliver`,
          payload: { since },
          token: hq,
        })
      ).statusCode,
    ).toBe(403);
  });

  it('disables a webhook after its (shortened) schedule against a real failing receiver, in real time', async () => {
    receiver = await startReceiver(() => 503);
    const hook = await subscribe(['order.*']);
    await db.transaction((tx) => emitEvent(tx, 'order.created', { orderId: 'ord-1' }));
    const quick = await secondInstance({ retryScheduleMs: [50, 100] });
    const started = Date.now();
    let status = 'active';
    while (status === 'active' && Date.now() - started < 10_000) {
      await quick.jobs.runNow('webhook-delivery');
      await new Promise((r) => setTimeout(r, 25));
      status = json<{ status: string }>(
        await hub.request({ method: 'GET', url: `/v1/webhooks/${hook.id}` }),
      ).status;
    }
    expect(status).toBe('disabled');
    expect(Date.now() - started).toBeGreaterThanOrEqual(135);
    expect(receiver.received).toHaveLength(3);
    const alerts = json<{ items: Array<{ type: string }> }>(
      await hub.request({ method: 'GET', url: '/v1/alerts' }),
    );
    expect(alerts.items.map((a) => a.type)).toEqual(['webhook.disabled']);
    const test = await hub.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/test` });
    expect(test.statusCode).toBe(409);
    expect(test.body).toMatchObject({ code: 'webhook_disabled' });
    // While disabled, new events are recorded as failed deliveries (redeliverable), never sent.
    await db.transaction((tx) => emitEvent(tx, 'order.shipped', { orderId: 'ord-1' }));
    expect(await quick.jobs.runNow('webhook-delivery')).toBe(0);
    const { rows } = await db.query<{ status: string; last_error: string }>(
      'SELECT status, last_error FROM webhook_deliveries ORDER BY id',
    );
    expect(rows).toEqual([
      { status: 'failed', last_error: 'HTTP 503' },
      { status: 'failed', last_error: 'endpoint disabled' },
    ]);
  });

  it('rotates the secret: both signatures during the overlap, then only the new one', async () => {
    receiver = await startReceiver();
    const hook = await subscribe(['order.*']);
    const rotated = await hub.request({
      method: 'POST',
      url: `/v1/webhooks/${hook.id}/rotate-secret`,
      payload: { overlapSeconds: 2 },
    });
    expect(rotated.statusCode, rotated.text).toBe(200);
    const { secret, previousSecretExpiresAt } = json<{ secret: string; previousSecretExpiresAt: string }>(
      rotated,
    );
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(hook.secret);
    expect(Date.parse(previousSecretExpiresAt) - Date.now()).toBeGreaterThan(1_000);
    expect(Date.parse(previousSecretExpiresAt) - Date.now()).toBeLessThanOrEqual(2_000);

    await db.transaction((tx) => emitEvent(tx, 'order.created', { orderId: 'ord-1' }));
    expect(await deliver()).toBe(1);
    const during = receiver.received.at(-1)!;
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifyWith(hook.secret, during)).toBe('verified');
    expect(verifyWith(secret, during)).toBe('verified');

    await new Promise((r) => setTimeout(r, Date.parse(previousSecretExpiresAt) - Date.now() + 50));
    await db.transaction((tx) => emitEvent(tx, 'order.created', { orderId: 'ord-2' }));
    expect(await deliver()).toBe(1);
    const after = receiver.received.at(-1)!;
    expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(verifyWith(secret, after)).toBe('verified');
    expect(verifyWith(hook.secret, after)).toBe('No matching signature found');

    // Default overlap 24 h; a deactivated webhook cannot rotate; bad overlaps are 400.
    const dflt = await hub.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/rotate-secret` });
    expect(dflt.statusCode, dflt.text).toBe(200);
    const overlap =
      Date.parse(json<{ previousSecretExpiresAt: string }>(dflt).previousSecretExpiresAt) - Date.now();
    expect(Math.abs(overlap - 86_400_000)).toBeLessThan(60_000);
    for (const payload of [
      { overlapSeconds: -1 },
      { overlapSeconds: 1.5 },
      { overlapSeconds: 8 * 86_400 },
      { other: 1 },
    ]) {
      const res = await hub.request({
        method: 'POST',
        url: `/v1/webhooks/${hook.id}/rotate-secret`,
        payload,
      });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const hq = await hub.token('hq');
    expect(
      (await hub.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/rotate-secret`, token: hq }))
        .statusCode,
    ).toBe(403);
    await hub.request({ method: 'DELETE', url: `/v1/webhooks/${hook.id}` });
    const gone = await hub.request({ method: 'POST', url: `/v1/webhooks/${hook.id}/rotate-secret` });
    expect(gone.statusCode).toBe(409);
    expect(gone.body).toMatchObject({ code: 'webhook_inactive' });
  });

  it('changes a webhook with PATCH, refusing a URL that is not http(s) and a deactivated webhook', async () => {
    receiver = await startReceiver();
    const hook = await subscribe(['order.*']);
    const changed = await hub.request({
      method: 'PATCH',
      url: `/v1/webhooks/${hook.id}`,
      payload: { events: ['stock.low', 'stock.low'], description: 'ops', url: `${receiver.url}?v=2` },
    });
    expect(changed.statusCode, changed.text).toBe(200);
    expect(changed.body).toMatchObject({
      events: ['stock.low'],
      description: 'ops',
      url: `${receiver.url}?v=2`,
    });
    const paused = await hub.request({
      method: 'PATCH',
      url: `/v1/webhooks/${hook.id}`,
      payload: { status: 'disabled' },
    });
    expect(paused.body).toMatchObject({ status: 'disabled', disabledReason: 'paused by an admin' });
    for (const [payload, field] of [
      [{ url: 'ftp://example.com/hook' }, 'body.url'],
      [{ url: 'javascript:alert(1)' }, 'body.url'],
      [{ url: 'http://10.0.0.1/hook' }, 'body.url'],
      [{ status: 'deactivated' }, 'body.status'],
      [{ events: ['webhook.disabled'] }, 'body.events.0'],
      [{}, 'body'],
    ] as const) {
      const res = await hub.request({ method: 'PATCH', url: `/v1/webhooks/${hook.id}`, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(json<{ message: string }>(res).message.startsWith(field), res.text).toBe(true);
    }
    const hq = await hub.token('hq');
    expect(
      (
        await hub.request({
          method: 'PATCH',
          url: `/v1/webhooks/${hook.id}`,
          payload: { status: 'active' },
          token: hq,
        })
      ).statusCode,
    ).toBe(403);
    await hub.request({ method: 'DELETE', url: `/v1/webhooks/${hook.id}` });
    const gone = await hub.request({
      method: 'PATCH',
      url: `/v1/webhooks/${hook.id}`,
      payload: { status: 'active' },
    });
    expect(gone.statusCode).toBe(409);
    expect(gone.body).toMatchObject({ code: 'webhook_inactive' });
  });

  it('rejects bad subscriptions with 400 naming the field, and other roles with 401/403/404', async () => {
    receiver = await startReceiver();
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ url: 'ftp://example.com/hook', events: ['order.*'] }, 'body.url'],
      [{ url: 'not a url', events: ['order.*'] }, 'body.url'],
      [{ url: receiver.url, events: [] }, 'body.events'],
      [{ url: receiver.url, events: ['ordr.shipped'] }, 'body.events.0'],
      [{ url: receiver.url, events: ['webhook.test'] }, 'body.events.0'],
      [{ url: receiver.url }, 'body.events'],
      [{ url: receiver.url, events: ['order.*'], secret: 'mine' }, 'body'],
    ];
    for (const [payload, field] of bad) {
      const res = await hub.request({ method: 'POST', url: '/v1/webhooks', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(json<{ message: string }>(res).message.startsWith(field), res.text).toBe(true);
    }

    const payload = { url: receiver.url, events: ['order.*'] };
    const hq = await hub.token('hq');
    const manager = await hub.token('store_manager', 'store-a');
    const channel = await hub.token('channel');
    expect((await hub.request({ method: 'POST', url: '/v1/webhooks', payload, token: hq })).statusCode).toBe(
      403,
    );
    expect(
      (await hub.request({ method: 'POST', url: '/v1/webhooks', payload, token: null })).statusCode,
    ).toBe(401);
    expect((await hub.request({ method: 'GET', url: '/v1/webhooks', token: manager })).statusCode).toBe(403);
    expect((await hub.request({ method: 'GET', url: '/v1/webhooks', token: channel })).statusCode).toBe(403);
    const { rows } = await db.query('SELECT count(*)::int AS n FROM webhooks');
    expect(rows).toEqual([{ n: 0 }]);

    const missing = '0190a0b0-0000-7000-8000-000000000000';
    for (const url of [`/v1/webhooks/${missing}`, `/v1/webhooks/${missing}/deliveries`]) {
      const res = await hub.request({ method: 'GET', url });
      expect(res.statusCode).toBe(404);
      expect(res.body).toMatchObject({ code: 'not_found', details: { webhook: missing } });
    }
    expect((await hub.request({ method: 'DELETE', url: `/v1/webhooks/${missing}` })).statusCode).toBe(404);
    expect((await hub.request({ method: 'POST', url: `/v1/webhooks/${missing}/test` })).statusCode).toBe(404);
    const malformed = await hub.request({ method: 'GET', url: '/v1/webhooks/nope' });
    expect(malformed.statusCode).toBe(400);
    expect(json<{ message: string }>(malformed).message).toMatch(/^params\.webhookId/);
    const badCursor = await hub.request({ method: 'GET', url: '/v1/webhooks?cursor=WzFd' });
    expect(badCursor.statusCode).toBe(400);
    expect(badCursor.body).toMatchObject({ details: { field: 'cursor' } });
  });
});

describe('webhook retry schedule', () => {
  const total = (random: () => number) => {
    let ms = 0;
    for (let n = 1; ; n++) {
      const wait = retryDelayMs(n, STANDARD_RETRY_SCHEDULE_MS, random);
      if (wait === null) return { ms, attempts: n };
      ms += wait;
    }
  };

  it("follows Standard Webhooks' schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) ±10 %", () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelayMs(n, STANDARD_RETRY_SCHEDULE_MS, mid))).toEqual([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
    expect(retryDelayMs(1, STANDARD_RETRY_SCHEDULE_MS, () => 0)).toBe(4_500);
    expect(retryDelayMs(1, STANDARD_RETRY_SCHEDULE_MS, () => 1)).toBe(5_500);
    expect(retryDelayMs(8, STANDARD_RETRY_SCHEDULE_MS, mid)).toBeNull();
    expect(retryDelayMs(1, [], mid)).toBeNull();
  });

  it('keeps retrying for at least 24 h before giving up, whatever the jitter', () => {
    const hour = 3_600_000;
    expect(total(() => 0)).toEqual({ ms: 89_374_500, attempts: 8 });
    expect(total(() => 0).ms).toBeGreaterThanOrEqual(24 * hour);
    expect(total(() => 1).ms).toBeLessThanOrEqual(31 * hour);
  });
});
