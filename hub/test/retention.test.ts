import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TillOpInput } from '@tillsync/sync-protocol';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { configFromEnv } from '../src/config.js';
import type { Database } from '../src/db/database.js';
import { emitEvent } from '../src/services/events.js';
import { DEFAULT_RETENTION } from '../src/services/retention.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { authFor, connectRaw, enrolDevice, push, type RawTill } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';
import { tillOps } from './helpers/till-ops.js';

/*
 * Retention (issue 8, finding 9): each growing table forgets rows past its window and keeps the
 * rest; what exactly-once needs survives. Rows are aged by moving their timestamps back, as if
 * the days had passed.
 */

const DAY = "interval '1 day'";

describe(`retention on ${testDbKind()}`, () => {
  let hub: TestHub;
  let db: Database;
  const sockets: RawTill[] = [];
  const others: FastifyInstance[] = [];

  beforeEach(async () => {
    hub = await buildTestHub();
    db = hub.database.db;
    await seedCatalog(db, {
      locations: [{ id: 'store-a' }],
      products: [{ sku: 'SKU-1' }],
      stock: [{ locationId: 'store-a', sku: 'SKU-1', onHand: 100 }],
    });
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    for (const app of others.splice(0)) await app.close();
    expect(await ledgerMismatches(db)).toEqual([]);
    await hub.close();
  });

  const retain = (app = hub.app) => app.jobs.runNow('retention');
  const count = async (sql: string) =>
    (await db.query<{ n: number }>(`SELECT (${sql})::int AS n`)).rows[0]!.n;

  async function till(id: string) {
    const url = await hub.listen();
    const device = await enrolDevice(hub, 'store-a', id);
    const { socket } = await connectRaw(url, authFor(device.token));
    sockets.push(socket);
    return socket;
  }

  it('forgets applied answers below the acked seq after 7 days; a resend of a purged seq is a duplicate and applies nothing', async () => {
    const socket = await till('till-1');
    const ops = tillOps('till-1', 'store-a');
    const first: TillOpInput[] = [1, 2, 3, 4, 5].map((n) =>
      n === 3 ? ops.sale('NOPE', 1) : ops.sale('SKU-1', 1),
    );
    const ack1 = await push(socket, first);
    expect(ack1).toMatchObject({ ok: true, value: { lastAckedSeq: 5 } });
    await db.query(`UPDATE applied_ops SET applied_at = applied_at - 8 * ${DAY}`);
    expect(await push(socket, [ops.sale('SKU-1', 1), ops.sale('SKU-1', 1)])).toMatchObject({
      ok: true,
      value: { lastAckedSeq: 7 },
    });

    const seqs = async () =>
      (await db.query<{ seq: number }>('SELECT seq::int FROM applied_ops ORDER BY seq')).rows.map(
        (r) => r.seq,
      );
    expect(await retain()).toBe(4);
    // 1, 2, 4, 5 went; 3 is a rejection (kept with its dead letter); 6, 7 are recent.
    expect(await seqs()).toEqual([3, 6, 7]);
    await db.query(`UPDATE applied_ops SET applied_at = applied_at - 8 * ${DAY}`);
    expect(await retain()).toBe(1);
    expect(await seqs(), 'the acked seq itself is kept').toEqual([3, 7]);

    const movements = await count("SELECT count(*) FROM movements WHERE device_id = 'till-1'");
    const onHand = await count("SELECT on_hand FROM stock WHERE sku = 'SKU-1'");
    expect(movements).toBe(6);
    expect(onHand).toBe(94);
    const resend = await push(socket, [first[0], first[1], first[2]]);
    expect(resend).toMatchObject({
      ok: true,
      value: {
        lastAckedSeq: 7,
        results: [
          { seq: 1, status: 'duplicate' },
          { seq: 2, status: 'duplicate' },
          { seq: 3, status: 'rejected', code: 'unknown_sku' },
        ],
      },
    });
    // A purged seq no longer knows its op id: another op sent at seq 1 is answered duplicate too
    // (no seq_conflict), and is not applied either.
    const other = await push(socket, [{ ...ops.sale('SKU-1', 5), seq: 1 }]);
    expect(other).toMatchObject({ ok: true, value: { results: [{ seq: 1, status: 'duplicate' }] } });
    // A replacement till passing on seq 1's op under a new seq (till recover): the ledger still
    // knows the op, so it is a duplicate, not applied and not refused.
    const passedOn = await push(socket, [{ ...first[0], seq: 8 }]);
    expect(passedOn).toMatchObject({
      ok: true,
      value: { lastAckedSeq: 8, results: [{ seq: 8, status: 'duplicate' }] },
    });
    expect(await count("SELECT count(*) FROM movements WHERE device_id = 'till-1'")).toBe(movements);
    expect(await count("SELECT on_hand FROM stock WHERE sku = 'SKU-1'")).toBe(onHand);
    expect(await count('SELECT count(*) FROM dead_letters')).toBe(1);
  });

  it('forgets webhook attempts after 30 days, and events once their deliveries are settled and logged out', async () => {
    const server = createServer((_req, res) => res.writeHead(200).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const created = await hub.request({
        method: 'POST',
        url: '/v1/webhooks',
        payload: { url, events: ['order.*'] },
      });
      expect(created.statusCode, created.text).toBe(201);
      const ids: Record<string, string> = {};
      await db.transaction(async (tx) => {
        for (const name of ['logged-out', 'still-logged', 'recent'])
          ids[name] = (await emitEvent(tx, 'order.created', { name })).eventId;
        ids.undelivered = (await emitEvent(tx, 'stock.low', { name: 'undelivered' })).eventId;
      });
      expect(await hub.app.jobs.runNow('webhook-delivery')).toBe(3);
      await db.transaction(async (tx) => {
        ids.pending = (await emitEvent(tx, 'order.created', { name: 'pending' })).eventId;
      });
      const aged = [ids['logged-out'], ids['still-logged'], ids.undelivered, ids.pending];
      await db.query(
        `UPDATE events SET created_at = created_at - 31 * ${DAY} WHERE event_id = ANY($1::uuid[])`,
        [aged],
      );
      await db.query(
        `UPDATE webhook_attempts SET started_at = started_at - 31 * ${DAY}, finished_at = finished_at - 31 * ${DAY}
         WHERE event_id = $1`,
        [ids['logged-out']],
      );

      expect(await retain()).toBe(1 + 2);
      const names = async (sql: string) =>
        (await db.query<{ name: string }>(sql)).rows.map((r) => r.name).sort();
      expect(await names("SELECT payload->>'name' AS name FROM events WHERE payload ? 'name'")).toEqual([
        'pending',
        'recent',
        'still-logged',
      ]);
      expect(
        await names(
          "SELECT e.payload->>'name' AS name FROM webhook_attempts a JOIN events e ON e.event_id = a.event_id",
        ),
      ).toEqual(['recent', 'still-logged']);
      expect(await count('SELECT count(*) FROM webhook_deliveries')).toBe(3);
      expect(await retain(), 'nothing more is past its window').toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('forgets idempotency keys after 24 h: a key reused after that is a new request', async () => {
    const order = (key: string) =>
      hub.request({
        method: 'POST',
        url: '/v1/orders',
        headers: { 'idempotency-key': key },
        payload: {
          channel: 'web',
          customerRef: 'c',
          lines: [{ sku: 'SKU-1', qty: 1 }],
          fulfilment: { type: 'pickup', pickupLocationId: 'store-a' },
        },
      });
    const orderId = async (key: string) => {
      const res = await order(key);
      expect(res.statusCode, res.text).toBe(201);
      return (res.body as { id: string }).id;
    };
    const old = await orderId('k-old');
    const kept = await orderId('k-kept');
    await db.query(
      `UPDATE idempotency_keys SET created_at = created_at - interval '25 hours' WHERE key = 'k-old'`,
    );
    expect(await retain()).toBe(1);
    expect(await count('SELECT count(*) FROM idempotency_keys')).toBe(1);

    expect(await orderId('k-kept'), 'within 24 h: the same order').toBe(kept);
    const again = await orderId('k-old');
    expect(again, 'after 24 h: the key is new again, so is the order').not.toBe(old);
    expect(await count('SELECT count(*) FROM orders')).toBe(3);
  });

  it('purges in bounded chunks from two instances at once, each row once', async () => {
    await db.query(
      `INSERT INTO idempotency_keys (token_id, key, request_hash, created_at)
       SELECT 'tok', 'k' || i, 'h', now() - 2 * ${DAY} FROM generate_series(1, 2500) AS i`,
    );
    await db.query(
      `INSERT INTO events (event_id, type, api_version, payload, created_at)
       SELECT gen_random_uuid(), 'stock.low', '2026-12-04', '{}', now() - 40 * ${DAY} FROM generate_series(1, 2500)`,
    );
    await db.query(`INSERT INTO idempotency_keys (token_id, key, request_hash) VALUES ('tok', 'fresh', 'h')`);
    const instance = async () => {
      const app = await buildApp({
        config: { logLevel: 'silent', bodyLimit: 1_048_576, rateLimitPerMinute: 100_000 },
        db,
        jobs: false,
        retention: { chunkSize: 100 },
      });
      await app.ready();
      others.push(app);
      return app;
    };
    const [a, b] = await Promise.all([instance(), instance()]);
    const deleted = await Promise.all([retain(a), retain(b)]);
    expect(deleted[0] + deleted[1]).toBe(5000);
    expect(await count('SELECT count(*) FROM idempotency_keys')).toBe(1);
    expect(await count(`SELECT count(*) FROM events WHERE created_at < now() - 30 * ${DAY}`)).toBe(0);
  });

  it('reads its windows from the environment, defaulting to 30 days, 24 hours and 7 days', () => {
    expect(configFromEnv({}).retention).toEqual(DEFAULT_RETENTION);
    expect(DEFAULT_RETENTION).toEqual({
      eventsMs: 30 * 86_400_000,
      webhookAttemptsMs: 30 * 86_400_000,
      idempotencyKeysMs: 24 * 3_600_000,
      appliedOpsMs: 7 * 86_400_000,
    });
    const set = configFromEnv({
      TILLSYNC_RETAIN_EVENTS_DAYS: '90',
      TILLSYNC_RETAIN_WEBHOOK_ATTEMPTS_DAYS: '14',
      TILLSYNC_RETAIN_IDEMPOTENCY_KEYS_HOURS: '48',
      TILLSYNC_RETAIN_APPLIED_OPS_DAYS: '0.5',
      TILLSYNC_WEBHOOK_ALLOW_HOSTS: 'hooks.internal, 10.20.0.0/16,[::1]',
    });
    expect(set.retention).toEqual({
      eventsMs: 90 * 86_400_000,
      webhookAttemptsMs: 14 * 86_400_000,
      idempotencyKeysMs: 48 * 3_600_000,
      appliedOpsMs: 43_200_000,
    });
    expect(set.webhookAllowHosts).toEqual(['hooks.internal', '10.20.0.0/16', '[::1]']);
    expect(() => configFromEnv({ TILLSYNC_WEBHOOK_ALLOW_HOSTS: '10.0.0.0/40' })).toThrow();
    expect(() => configFromEnv({ TILLSYNC_RETAIN_EVENTS_DAYS: '0' })).toThrow();
    // GET /v1/events promises a week of backfill.
    expect(() => configFromEnv({ TILLSYNC_RETAIN_EVENTS_DAYS: '6.9' })).toThrow(/at least 7 days/);
    expect(configFromEnv({ TILLSYNC_RETAIN_EVENTS_DAYS: '7' }).retention.eventsMs).toBe(7 * 86_400_000);
  });

  it("reads the webhook retry schedule, defaulting to Standard Webhooks' (over 24 h)", () => {
    expect(configFromEnv({}).webhooks.retryScheduleMs).toEqual([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
    expect(configFromEnv({ TILLSYNC_WEBHOOK_RETRY_SCHEDULE: '0.2, 1,60' }).webhooks.retryScheduleMs).toEqual([
      200, 1_000, 60_000,
    ]);
    for (const bad of ['5s,1m', '5,,6', '-1', 'abc'])
      expect(() => configFromEnv({ TILLSYNC_WEBHOOK_RETRY_SCHEDULE: bad }), bad).toThrow(
        /comma-separated seconds/,
      );
  });
});
