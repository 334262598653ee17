import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import type { Database, Queryable } from '../src/db/database.js';
import type { OrderCreate } from '../src/schemas/orders.js';
import { type KeyedRequest, requestHash, sealingKey } from '../src/services/idempotency.js';
import { type OrderOutcome, type OrderRequest, settleOrders } from '../src/services/orders/create.js';
import { createApiToken, ensureBootstrapAdmin, type Principal } from '../src/services/tokens.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { createTestDatabase, type TestDatabase, testDbKind } from './helpers/test-db.js';

/*
 * POST /v1/orders settles the orders that arrive together in one transaction (services/orders/
 * create.ts): each keeps its own answer, a refused one fails only itself, the result is the same
 * as one by one, and a group costs two statements (read, write) between BEGIN and COMMIT.
 */

const address = { name: 'A', line1: '1 Main St', city: 'Lyon', postalCode: '69001', country: 'FR' };
const shipping = (lines: OrderCreate['lines']): OrderCreate => ({
  channel: 'web',
  customerRef: 'c',
  lines,
  fulfilment: { type: 'shipping', address },
});

async function seed(db: Database): Promise<void> {
  await seedCatalog(db, {
    locations: [{ id: 'wh-1', kind: 'warehouse' }, { id: 'store-1' }],
    products: [{ sku: 'SKU-1' }, { sku: 'SKU-2' }, { sku: 'SKU-3' }, { sku: 'SKU-4' }],
    stock: [
      { locationId: 'wh-1', sku: 'SKU-1', onHand: 20 },
      { locationId: 'wh-1', sku: 'SKU-2', onHand: 20 },
      { locationId: 'store-1', sku: 'SKU-3', onHand: 20 },
      { locationId: 'store-1', sku: 'SKU-4', onHand: 20 },
    ],
  });
}

/** A member as the route builds it: the key described as http/idempotency.ts does. */
function member(principal: Principal, key: string, input: OrderCreate): OrderRequest {
  const request = { scope: principal.id, key, method: 'POST', path: '/v1/orders', body: input };
  const keyed: KeyedRequest = {
    request,
    hash: requestHash(request),
    sealKey: sealingKey('Bearer test', principal.id, key),
    ttlMs: 86_400_000,
  };
  return { principal, input, keyed };
}

const kindOf = (o: OrderOutcome) =>
  o.kind === 'refused'
    ? `refused ${o.error.status}`
    : o.kind === 'answered'
      ? `answered ${o.verdict.kind}`
      : o.kind;

/** The channel token every order of these tests is made with. */
const principal: Principal = {
  kind: 'token',
  id: 'tok-1',
  role: 'channel',
  locationId: null,
  expiresAt: null,
};

describe(`orders settled in groups on ${testDbKind()}`, () => {
  let hubs: TestHub[] = [];
  afterEach(async () => {
    for (const hub of hubs) {
      expect(await ledgerMismatches(hub.database.db)).toEqual([]);
      await hub.close();
    }
    hubs = [];
  });
  async function hub(): Promise<TestHub> {
    const h = await buildTestHub();
    hubs.push(h);
    await seed(h.database.db);
    return h;
  }

  it('settles a group in one transaction where a bad order fails only itself', async () => {
    const h = await hub();
    const db = h.database.db;
    const ctx = h.app.orders;
    const first = await settleOrders(ctx, [
      member(principal, 'earlier', shipping([{ sku: 'SKU-1', qty: 1 }])),
      member(principal, 'reused', shipping([{ sku: 'SKU-1', qty: 1 }])),
    ]);
    expect(first.map(kindOf)).toEqual(['created', 'created']);

    const outcomes = await settleOrders(ctx, [
      member(principal, 'good-1', shipping([{ sku: 'SKU-1', qty: 2 }])),
      member(principal, 'unknown', shipping([{ sku: 'NOPE', qty: 1 }])),
      member(principal, 'short', shipping([{ sku: 'SKU-2', qty: 21 }])),
      member(principal, 'reused', shipping([{ sku: 'SKU-2', qty: 1 }])),
      member(principal, 'earlier', shipping([{ sku: 'SKU-1', qty: 1 }])),
      // Sees what good-1 took: 20 - 1 - 1 - 2 = 16 left of SKU-1.
      member(
        principal,
        'good-2',
        shipping([
          { sku: 'SKU-1', qty: 16 },
          { sku: 'SKU-2', qty: 3 },
        ]),
      ),
      member(principal, 'too-late', shipping([{ sku: 'SKU-1', qty: 1 }])),
    ]);
    expect(outcomes.map(kindOf)).toEqual([
      'created',
      'refused 400',
      'refused 409',
      'answered reused',
      'answered replay',
      'created',
      'refused 409',
    ]);
    const replayed = outcomes[4]!;
    const earlier = first[0]!;
    expect(
      replayed.kind === 'answered' && replayed.verdict.kind === 'replay' && replayed.verdict.response,
    ).toEqual(earlier.kind === 'created' && earlier.response);

    // The group's two orders share one transaction; the refused keys are not kept.
    const { rows: orders } = await db.query<{ tx: string; n: number }>(
      'SELECT xmin::text AS tx, count(*)::int AS n FROM orders GROUP BY xmin ORDER BY n',
    );
    expect(orders.map((o) => o.n)).toEqual([2, 2]);
    const { rows: keys } = await db.query<{ key: string; status_code: number }>(
      'SELECT key, status_code FROM idempotency_keys ORDER BY key',
    );
    expect(keys).toEqual(['earlier', 'good-1', 'good-2', 'reused'].map((key) => ({ key, status_code: 201 })));
    const { rows: stock } = await db.query(
      'SELECT sku, on_hand, reserved FROM stock WHERE reserved > 0 ORDER BY sku',
    );
    expect(stock).toEqual([
      { sku: 'SKU-1', on_hand: 20, reserved: 20 },
      { sku: 'SKU-2', on_hand: 20, reserved: 3 },
    ]);
    // Each answer is what GET then reads back.
    const token = (await createApiToken(db, { name: 'reader', role: 'admin' })).token;
    for (const o of [outcomes[0]!, outcomes[5]!]) {
      if (o.kind !== 'created') throw new Error('expected created');
      const created = JSON.parse(o.response.body) as { id: string };
      const res = await h.request({ method: 'GET', url: `/v1/orders/${created.id}`, token });
      expect(res.body).toEqual(created);
    }

    // A refused key was given back: the same key runs anew.
    const again = await settleOrders(ctx, [
      member(principal, 'short', shipping([{ sku: 'SKU-2', qty: 17 }])),
    ]);
    expect(again.map(kindOf)).toEqual(['created']);
  });

  /** The same orders: 40 that fit, 5 of an unknown SKU, 5 too large, 5 retries of a key. */
  function requests(principal: Principal): OrderRequest[] {
    return Array.from({ length: 55 }, (_, i) => {
      if (i < 40) {
        const sku = `SKU-${(i % 4) + 1}`;
        const input: OrderCreate =
          i % 4 < 2
            ? shipping([{ sku, qty: 1 }])
            : { ...shipping([{ sku, qty: 1 }]), fulfilment: { type: 'pickup', pickupLocationId: 'store-1' } };
        return member(principal, `ok-${i}`, input);
      }
      if (i < 45) return member(principal, `unknown-${i}`, shipping([{ sku: 'NOPE', qty: 1 }]));
      if (i < 50) return member(principal, `short-${i}`, shipping([{ sku: 'SKU-1', qty: 50 }]));
      return member(principal, 'ok-0', shipping([{ sku: 'SKU-1', qty: 1 }]));
    });
  }

  async function stockOf(h: TestHub) {
    const { rows } = await h.database.db.query(
      'SELECT location_id, sku, on_hand, reserved, version FROM stock ORDER BY location_id, sku',
    );
    const { rows: held } = await h.database.db.query(
      `SELECT location_id, sku, sum(qty)::int AS qty, count(*)::int AS n FROM allocations
       WHERE status = 'held' GROUP BY location_id, sku ORDER BY location_id, sku`,
    );
    return { rows, held };
  }

  it('groups orders submitted together, with the same result as one by one', async () => {
    const grouped = await hub();
    const creations = grouped.app.orders.creations;
    // The first runs at once; the others arrive while it is in flight. A key's retries wait their turn.
    const together = await Promise.all(requests(principal).map((r) => creations.submit(r)));
    expect(creations.stats.members).toBe(55);
    expect(creations.stats.groups).toBeLessThan(10);
    const { rows } = await grouped.database.db.query<{ n: number }>(
      'SELECT count(DISTINCT xmin::text)::int AS n FROM orders',
    );
    expect(rows[0]!.n).toBeLessThan(10);

    const alone = await hub();
    const oneByOne: OrderOutcome[] = [];
    for (const r of requests(principal)) oneByOne.push(await alone.app.orders.creations.submit(r));
    expect(alone.app.orders.creations.stats.groups).toBe(55);
    expect(together.map(kindOf)).toEqual(oneByOne.map(kindOf));
    expect(together.filter((o) => o.kind === 'created')).toHaveLength(40);
    expect(await stockOf(grouped)).toEqual(await stockOf(alone));
  });
});

/** Counts the statements of every transaction, and those outside one. */
class CountingDatabase implements Database {
  readonly transactions: string[][] = [];
  readonly outside: string[] = [];
  constructor(private readonly inner: Database) {}
  get kind() {
    return this.inner.kind;
  }
  poolStats() {
    return this.inner.poolStats();
  }
  query<R>(sql: string, params?: readonly unknown[]) {
    this.outside.push(sql);
    return this.inner.query<R>(sql, params);
  }
  exec(sql: string) {
    return this.inner.exec(sql);
  }
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const statements: string[] = [];
    this.transactions.push(statements);
    return this.inner.transaction((tx) =>
      fn({
        query: <R>(sql: string, params?: readonly unknown[]) => {
          statements.push(sql);
          return tx.query<R>(sql, params);
        },
        exec: (sql) => tx.exec(sql),
      }),
    );
  }
  close() {
    return this.inner.close();
  }
}

describe(`round trips of POST /v1/orders on ${testDbKind()}`, () => {
  let database: TestDatabase;
  let app: FastifyInstance;
  afterEach(async () => {
    await app.close();
    await database.drop();
  });

  it('an order is one transaction of two statements; a group of them too', async () => {
    database = await createTestDatabase();
    await seed(database.db);
    const db = new CountingDatabase(database.db);
    app = await buildApp({
      config: {
        logLevel: 'silent',
        bodyLimit: 1_048_576,
        rateLimitPerMinute: 100_000,
        webhookAllowHosts: [],
      },
      db,
      jobs: false,
    });
    await app.ready();
    await ensureBootstrapAdmin(database.db);
    const token = (await createApiToken(database.db, { name: 'shop', role: 'channel' })).token;
    const order = (key: string, sku = 'SKU-1') =>
      app.inject({
        method: 'POST',
        url: '/v1/orders',
        payload: shipping([{ sku, qty: 1 }]),
        headers: { authorization: `Bearer ${token}`, 'idempotency-key': key },
      });

    // The token's first use records it (once a minute at most): not part of an order.
    expect((await order('warm-up')).statusCode).toBe(201);
    db.transactions.length = 0;
    db.outside.length = 0;
    expect((await order('one')).statusCode).toBe(201);
    // Besides BEGIN and COMMIT: the read statement and the write statement.
    expect(db.transactions.map((t) => t.length)).toEqual([2]);
    // Outside it: the bearer token's lookup, nothing of the order's.
    expect(db.outside).toHaveLength(1);
    expect(db.outside[0]).toContain('FROM api_tokens');

    db.transactions.length = 0;
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => order(`many-${i}`, `SKU-${(i % 2) + 1}`)),
    );
    expect(responses.map((r) => r.statusCode)).toEqual(Array(30).fill(201));
    expect(db.transactions.every((t) => t.length === 2)).toBe(true);
    // PGlite runs on the hub's thread: while its transaction runs no other request is even read,
    // so concurrent HTTP requests arrive one by one there (submitted together they group: above).
    if (testDbKind() === 'postgres') expect(db.transactions.length).toBeLessThan(30);
  });
});
