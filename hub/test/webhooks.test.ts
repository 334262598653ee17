import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import type { Database } from '../src/db/database.js';
import { emitEvent } from '../src/services/events.js';
import { retryDelayMs } from '../src/services/webhooks/delivery.js';
import { claimDue, recordAttempt } from '../src/services/webhooks/outbox.js';
import { verifySignature } from '../src/services/webhooks/signing.js';
import { buildTestHub, TEST_WEBHOOK_ALLOW_HOSTS, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { testDbKind } from './helpers/test-db.js';

interface Delivered {
  path: string;
  headers: IncomingHttpHeaders;
  text: string;
  body: { eventId: string; type: string; createdAt: string; data: Record<string, unknown> };
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
  active: boolean;
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
  async function secondInstance(webhooks: { timeoutMs?: number } = {}): Promise<FastifyInstance> {
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

  const isSigned = (d: Delivered, secret: string) =>
    verifySignature(
      secret,
      String(d.headers['x-tillsync-timestamp']),
      d.text,
      String(d.headers['x-tillsync-signature']),
    );

  it('delivers a receipt at a store as a signed stock.changed event', async () => {
    receiver = await startReceiver();
    const hook = await subscribe(['stock.changed']);
    expect(hook).toMatchObject({ events: ['stock.changed'], active: true });
    expect(hook.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const receipt = await hub.request({
      method: 'POST',
      url: '/v1/locations/store-a/receipts',
      payload: { reference: 'PO-7', lines: [{ sku: 'SKU-1', qty: 5 }] },
    });
    expect(receipt.statusCode, receipt.text).toBe(201);
    expect(await deliver()).toBe(1);

    const got = only(receiver.received);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-tillsync-event-type']).toBe('stock.changed');
    expect(got.headers['x-tillsync-event-id']).toBe(got.body.eventId);
    expect(got.headers['x-tillsync-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(got.body).toMatchObject({
      type: 'stock.changed',
      data: {
        locationId: 'store-a',
        rows: [{ sku: 'SKU-1', onHand: 15, reserved: 0, available: 15, incoming: 0, damaged: 0, version: 2 }],
      },
    });
    expect(isSigned(got, hook.secret)).toBe(true);
    expect(isSigned(got, 'another secret')).toBe(false);
    expect(isSigned({ ...got, text: got.text.replace('15', '16') }, hook.secret)).toBe(false);

    expect(await log(hook.id)).toMatchObject([
      {
        eventId: got.body.eventId,
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
    expect(new Set(shipped.map((d) => d.body.eventId)).size).toBe(1);
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
    // 5 s doubling, each with up to half taken off at random.
    expect(waits[0]).toBeGreaterThan(2_000);
    expect(waits[0]).toBeLessThanOrEqual(5_000);
    expect(waits[1]).toBeGreaterThan(4_500);
    expect(waits[1]).toBeLessThanOrEqual(10_000);
    expect(waits[2]).toBeGreaterThan(9_500);
    expect(waits[2]).toBeLessThanOrEqual(20_000);

    expect(await deliver()).toBe(1);
    expect(await deliveries()).toMatchObject([{ status: 'delivered', attempts: 4 }]);
    expect(await deliver()).toBe(0);

    expect(receiver.received).toHaveLength(4);
    const ids = new Set(receiver.received.map((d) => d.headers['x-tillsync-event-id']));
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

  it('gives up after 10 attempts at a receiver that never answers 2xx', async () => {
    receiver = await startReceiver(() => 503);
    const hook = await subscribe(['order.shipped']);
    await db.transaction((tx) => emitEvent(tx, 'order.shipped', { orderId: 'ord-9' }));

    for (let run = 1; run <= 10; run++) {
      expect(await deliver()).toBe(1);
      await skipBackoff();
    }
    expect(await deliveries()).toMatchObject([{ status: 'failed', attempts: 10 }]);
    expect(await deliver()).toBe(0);
    expect(receiver.received).toHaveLength(10);

    const attempts = await log(hook.id, '?limit=100');
    expect(attempts).toHaveLength(10);
    expect(attempts[0]).toMatchObject({
      attempt: 10,
      outcome: 'failed',
      statusCode: 503,
      nextAttemptAt: null,
    });
    expect(attempts.slice(1).every((a) => a.outcome === 'retrying')).toBe(true);
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
    expect(new Set(receiver.received.map((d) => d.body.eventId)).size).toBe(6);
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
      expect(new Set(receiver.received.map((d) => d.body.eventId)).size).toBe(3);
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

    await db.query('UPDATE webhook_deliveries SET next_attempt_at = now()');
    expect(await deliver()).toBe(1);
    expect(only(receiver.received).body.eventId).toBe(only(claimed).eventId);
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
      eventId: json<{ eventId: string }>(test).eventId,
      type: 'webhook.test',
      data: { webhookId: hook.id },
    });

    const removed = await hub.request({ method: 'DELETE', url: `/v1/webhooks/${hook.id}` });
    expect(removed.statusCode).toBe(200);
    expect(removed.body).toMatchObject({ id: hook.id, active: false });
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
      active: true,
      createdAt: expect.any(String),
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
    const active = await hub.request({ method: 'GET', url: '/v1/webhooks?active=true' });
    expect(json<{ items: WebhookCreated[] }>(active).items.map((w) => w.id)).not.toContain(second.id);
    expect(json<{ items: unknown[] }>(active).items).toHaveLength(2);
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
  it('waits about 5 s doubling per failed attempt, capped at an hour', () => {
    const s = { baseDelayMs: 5_000, maxDelayMs: 3_600_000 };
    expect(retryDelayMs(1, s, () => 0)).toBe(2_500);
    expect(retryDelayMs(1, s, () => 1)).toBe(5_000);
    expect(retryDelayMs(4, s, () => 1)).toBe(40_000);
    expect(retryDelayMs(9, s, () => 1)).toBe(1_280_000);
    expect(retryDelayMs(11, s, () => 1)).toBe(3_600_000);
    expect(retryDelayMs(30, s, () => 0)).toBe(1_800_000);
  });
});
