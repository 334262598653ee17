import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import type { Database } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { PgliteDatabase } from '../src/db/pglite.js';
import { PostgresDatabase } from '../src/db/postgres.js';
import { isIdempotentRoute } from '../src/http/idempotency.js';
import { createApiToken } from '../src/services/tokens.js';
import { buildTestHub, type TestHub, type TestResponse } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { type SocketHub, startSocketHub } from './helpers/socket-hub.js';
import { push } from './helpers/sync-client.js';
import { testApplicationName, testDatabaseUrl, testDbKind } from './helpers/test-db.js';

const catalog = {
  locations: [{ id: 'store-a' }, { id: 'wh-1', kind: 'warehouse' as const }],
  products: [{ sku: 'SKU-1' }, { sku: 'SKU-2' }],
  stock: [
    { locationId: 'store-a', sku: 'SKU-1', onHand: 50 },
    { locationId: 'wh-1', sku: 'SKU-1', onHand: 50 },
  ],
};
const shipping = {
  type: 'shipping',
  address: { name: 'A', line1: '1 Rue', city: 'Paris', postalCode: '75001', country: 'FR' },
};
const payment = { payment: { method: 'card', amountMinor: 1000, reference: 'pi_1' } };

/** One covered route: how to call it once ready, and what its one effect changes. */
interface Prepared {
  url: string;
  payload?: object;
  headers?: Record<string, string>;
  /** Another request under the same key: another body, or the same route for another resource. */
  other: { url?: string; payload?: object };
  /** Read after each call: changes when the write runs, not when it is replayed. */
  effect: () => Promise<unknown>;
  /**
   * Whether the same request under a fresh key runs again (false: its second run is refused, e.g.
   * 409; 'idempotent': it succeeds and changes nothing more, as a second revoke).
   */
  repeatable: boolean | 'idempotent';
}

interface Case {
  /** As in the OpenAPI document: "POST /v1/locations/{locationId}/receipts". */
  route: string;
  prepare: () => Promise<Prepared>;
}

describe(`Idempotency-Key on every write route, on ${testDbKind()}`, () => {
  let hub: SocketHub;
  let db: Database;
  let keys = 0;
  beforeEach(async () => {
    hub = await startSocketHub(catalog);
    db = hub.database.db;
  });
  afterEach(async () => {
    expect(await ledgerMismatches(db)).toEqual([]);
    await hub.close();
  });

  const one = async (sql: string, params: unknown[] = []) =>
    Object.values((await db.query<Record<string, unknown>>(sql, params)).rows[0] ?? {})[0];
  const count = (table: string, where = 'true', params: unknown[] = []) =>
    one(`SELECT count(*)::int FROM ${table} WHERE ${where}`, params);
  const movements = async () => Number(await count('movements'));

  async function call(method: string, url: string, payload?: object, headers: Record<string, string> = {}) {
    const res = await hub.request({ method: method as 'POST', url, payload, headers });
    return res;
  }
  async function ok(res: TestResponse): Promise<TestResponse> {
    expect(res.statusCode, res.text).toBeLessThan(300);
    return res;
  }
  async function order(status: 'pending' | 'confirmed' | 'processing' | 'shipped'): Promise<string> {
    const created = await ok(
      await call(
        'POST',
        '/v1/orders',
        { channel: 'web', customerRef: 'c', lines: [{ sku: 'SKU-1', qty: 2 }], fulfilment: shipping },
        { 'idempotency-key': `setup-${++keys}` },
      ),
    );
    const id = (created.body as { id: string }).id;
    const steps = ['confirmed', 'processing', 'shipped'] as const;
    const actions = { confirmed: 'confirm', processing: 'fulfill', shipped: 'ship' } as const;
    for (const step of steps.slice(0, steps.indexOf(status as (typeof steps)[number]) + 1)) {
      await ok(
        await call('POST', `/v1/orders/${id}/${actions[step]}`, step === 'confirmed' ? payment : undefined),
      );
    }
    return id;
  }
  const history = (id: string) => () => count('order_history', 'order_id = $1', [id]);
  function transition(
    action: string,
    from: Parameters<typeof order>[0],
    payload?: object,
    other?: object,
  ): Case {
    return {
      route: `POST /v1/orders/{orderId}/${action}`,
      prepare: async () => {
        const id = await order(from);
        const second = await order(from);
        return {
          url: `/v1/orders/${id}/${action}`,
          payload,
          other: other ? { payload: other } : { url: `/v1/orders/${second}/${action}` },
          effect: history(id),
          repeatable: false,
        };
      },
    };
  }
  async function deadLetter(sku: string): Promise<number> {
    const till = await hub.till('store-a');
    const ack = await push(till.socket, [till.ops.sale(sku, 1)]);
    expect(ack.ok && ack.value.results[0]?.status).toBe('rejected');
    return Number(await one('SELECT max(id) FROM dead_letters'));
  }
  async function device(): Promise<string> {
    const res = await ok(await call('POST', '/v1/devices', { locationId: 'store-a', name: 'Till' }));
    return (res.body as { deviceId: string }).deviceId;
  }
  async function apiToken(): Promise<string> {
    const res = await ok(await call('POST', '/v1/tokens', { name: `made ${++keys}`, role: 'hq' }));
    return (res.body as { id: string }).id;
  }
  async function webhook(): Promise<string> {
    const res = await ok(
      await call('POST', '/v1/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['order.*'] }),
    );
    return (res.body as { id: string }).id;
  }
  const cases: Case[] = [
    {
      route: 'POST /v1/locations',
      prepare: async () => ({
        url: '/v1/locations',
        payload: { id: 'new-1', name: 'New', kind: 'store' },
        other: { payload: { id: 'new-2', name: 'New', kind: 'store' } },
        effect: () => count('locations'),
        repeatable: false,
      }),
    },
    {
      route: 'PATCH /v1/locations/{locationId}',
      prepare: async () => ({
        url: '/v1/locations/store-a',
        payload: { name: 'Renamed' },
        other: { payload: { name: 'Other' } },
        effect: () => one("SELECT updated_at FROM locations WHERE id = 'store-a'"),
        repeatable: true,
      }),
    },
    {
      route: 'POST /v1/products',
      prepare: async () => ({
        url: '/v1/products',
        payload: { sku: 'NEW-1', name: 'New', priceMinor: 100 },
        other: { payload: { sku: 'NEW-2', name: 'New', priceMinor: 100 } },
        effect: () => count('products'),
        repeatable: false,
      }),
    },
    {
      route: 'PATCH /v1/products/{sku}',
      prepare: async () => ({
        url: '/v1/products/SKU-2',
        payload: { name: 'Renamed' },
        other: { payload: { name: 'Other' } },
        effect: () => one("SELECT updated_at FROM products WHERE sku = 'SKU-2'"),
        repeatable: true,
      }),
    },
    {
      route: 'PATCH /v1/locations/{locationId}/inventory/{sku}',
      prepare: async () => {
        const version = await one(
          "SELECT version FROM stock WHERE location_id = 'store-a' AND sku = 'SKU-1'",
        );
        return {
          url: '/v1/locations/store-a/inventory/SKU-1',
          payload: { onHand: 40 },
          headers: { 'if-match': `"${version}"` },
          other: { payload: { onHand: 41 } },
          effect: movements,
          // Under a fresh key the same If-Match is stale: 412.
          repeatable: false,
        };
      },
    },
    {
      route: 'POST /v1/locations/{locationId}/receipts',
      prepare: async () => ({
        url: '/v1/locations/store-a/receipts',
        payload: receipt(5),
        other: { payload: receipt(6) },
        effect: () => one("SELECT on_hand FROM stock WHERE location_id = 'store-a' AND sku = 'SKU-1'"),
        repeatable: true,
      }),
    },
    {
      route: 'POST /v1/locations/{locationId}/adjustments',
      prepare: async () => ({
        url: '/v1/locations/store-a/adjustments',
        payload: { reason: 'damage', lines: [{ sku: 'SKU-1', qty: 1 }] },
        other: { payload: { reason: 'shrink', lines: [{ sku: 'SKU-1', qty: 1 }] } },
        effect: movements,
        repeatable: true,
      }),
    },
    {
      route: 'POST /v1/locations/{locationId}/counts',
      prepare: async () => ({
        url: '/v1/locations/store-a/counts',
        payload: { lines: [{ sku: 'SKU-1', counted: 30 }] },
        other: { payload: { lines: [{ sku: 'SKU-1', counted: 31 }] } },
        effect: movements,
        repeatable: true,
      }),
    },
    {
      route: 'POST /v1/transfers',
      prepare: async () => {
        const body = (qty: number) => ({
          fromLocationId: 'store-a',
          toLocationId: 'wh-1',
          lines: [{ sku: 'SKU-1', qty }],
        });
        return {
          url: '/v1/transfers',
          payload: body(2),
          other: { payload: body(3) },
          effect: () => count('transfers'),
          repeatable: true,
        };
      },
    },
    {
      route: 'POST /v1/transfers/{transferId}/receive',
      prepare: async () => {
        const sent = await ok(
          await call('POST', '/v1/transfers', {
            fromLocationId: 'store-a',
            toLocationId: 'wh-1',
            lines: [{ sku: 'SKU-1', qty: 4 }],
          }),
        );
        const id = (sent.body as { id: string }).id;
        return {
          url: `/v1/transfers/${id}/receive`,
          payload: receipt(1),
          other: { payload: receipt(2) },
          effect: () => one('SELECT received_qty FROM transfer_lines WHERE transfer_id = $1', [id]),
          repeatable: true,
        };
      },
    },
    {
      route: 'POST /v1/locations/{locationId}/inventory/reserve',
      prepare: async () => ({
        url: '/v1/locations/store-a/inventory/reserve',
        payload: { reference: 'R-1', lines: [{ sku: 'SKU-1', qty: 1 }] },
        other: { payload: { reference: 'R-1', lines: [{ sku: 'SKU-1', qty: 2 }] } },
        effect: () => one("SELECT reserved FROM stock WHERE location_id = 'store-a' AND sku = 'SKU-1'"),
        repeatable: true,
      }),
    },
    {
      route: 'POST /v1/locations/{locationId}/inventory/release',
      prepare: async () => {
        await ok(
          await call(
            'POST',
            '/v1/locations/store-a/inventory/reserve',
            { reference: 'R-2', lines: [{ sku: 'SKU-1', qty: 5 }] },
            { 'idempotency-key': 'setup-reserve' },
          ),
        );
        return {
          url: '/v1/locations/store-a/inventory/release',
          payload: { reference: 'R-2', lines: [{ sku: 'SKU-1', qty: 1 }] },
          other: { payload: { reference: 'R-2', lines: [{ sku: 'SKU-1', qty: 2 }] } },
          effect: () => one("SELECT reserved FROM stock WHERE location_id = 'store-a' AND sku = 'SKU-1'"),
          repeatable: true,
        };
      },
    },
    {
      route: 'POST /v1/orders',
      prepare: async () => {
        const body = (qty: number) => ({
          channel: 'web',
          customerRef: 'c',
          lines: [{ sku: 'SKU-1', qty }],
          fulfilment: shipping,
        });
        return {
          url: '/v1/orders',
          payload: body(1),
          other: { payload: body(2) },
          effect: () => count('orders'),
          repeatable: true,
        };
      },
    },
    transition('confirm', 'pending', payment, { payment: { ...payment.payment, reference: 'pi_2' } }),
    transition('fulfill', 'confirmed'),
    transition('ship', 'processing'),
    transition('deliver', 'shipped'),
    transition('cancel', 'pending', { reason: 'customer asked' }, { reason: 'other' }),
    transition(
      'return',
      'shipped',
      { locationId: 'wh-1', condition: 'sellable', lines: [{ sku: 'SKU-1', qty: 1 }] },
      { locationId: 'wh-1', condition: 'damaged', lines: [{ sku: 'SKU-1', qty: 1 }] },
    ),
    {
      route: 'POST /v1/devices',
      prepare: async () => ({
        url: '/v1/devices',
        payload: { locationId: 'store-a', name: 'Till 9' },
        other: { payload: { locationId: 'store-a', name: 'Till 10' } },
        effect: () => count('devices'),
        repeatable: true,
      }),
    },
    {
      route: 'POST /v1/devices/{deviceId}/enrolment-code',
      prepare: async () => {
        const id = await device();
        return {
          url: `/v1/devices/${id}/enrolment-code`,
          other: { url: `/v1/devices/${await device()}/enrolment-code` },
          effect: () => one('SELECT enrolment_code_hash FROM devices WHERE id = $1', [id]),
          repeatable: true,
        };
      },
    },
    {
      route: 'POST /v1/webhooks',
      prepare: async () => ({
        url: '/v1/webhooks',
        payload: { url: 'http://127.0.0.1:9/a', events: ['order.*'] },
        other: { payload: { url: 'http://127.0.0.1:9/b', events: ['order.*'] } },
        effect: () => count('webhooks'),
        repeatable: true,
      }),
    },
    {
      route: 'PATCH /v1/webhooks/{webhookId}',
      prepare: async () => {
        const id = await webhook();
        return {
          url: `/v1/webhooks/${id}`,
          payload: { description: 'web shop' },
          other: { payload: { description: 'marketplace' } },
          effect: () => one('SELECT description FROM webhooks WHERE id = $1', [id]),
          repeatable: 'idempotent',
        };
      },
    },
    {
      route: 'POST /v1/webhooks/{webhookId}/rotate-secret',
      prepare: async () => {
        const id = await webhook();
        return {
          url: `/v1/webhooks/${id}/rotate-secret`,
          payload: { overlapSeconds: 60 },
          other: { payload: { overlapSeconds: 120 } },
          effect: () => count('webhook_secrets', 'webhook_id = $1', [id]),
          repeatable: true,
        };
      },
    },
    {
      route: 'POST /v1/tokens',
      prepare: async () => ({
        url: '/v1/tokens',
        payload: { name: 'reporting', role: 'hq' },
        other: { payload: { name: 'reporting 2', role: 'hq' } },
        effect: () => count('api_tokens'),
        repeatable: true,
      }),
    },
    {
      route: 'POST /v1/tokens/{tokenId}/revoke',
      prepare: async () => {
        const id = await apiToken();
        return {
          url: `/v1/tokens/${id}/revoke`,
          other: { url: `/v1/tokens/${await apiToken()}/revoke` },
          effect: () => one('SELECT revoked_at FROM api_tokens WHERE id = $1', [id]),
          repeatable: 'idempotent',
        };
      },
    },
    {
      route: 'POST /v1/tokens/{tokenId}/rotate',
      prepare: async () => {
        const id = await apiToken();
        return {
          url: `/v1/tokens/${id}/rotate`,
          other: { url: `/v1/tokens/${await apiToken()}/rotate` },
          effect: () => one('SELECT secret_hash FROM api_tokens WHERE id = $1', [id]),
          repeatable: true,
        };
      },
    },
    {
      route: 'POST /v1/webhooks/{webhookId}/test',
      prepare: async () => {
        const id = await webhook();
        return {
          url: `/v1/webhooks/${id}/test`,
          other: { url: `/v1/webhooks/${await webhook()}/test` },
          effect: () => count('events', "type = 'webhook.test'"),
          repeatable: true,
        };
      },
    },
    {
      route: 'POST /v1/conflicts/{id}/resolve',
      prepare: async () => {
        const id = await one(
          "INSERT INTO conflicts (location_id, kind, sku) VALUES ('store-a', 'oversell', 'SKU-1') RETURNING id",
        );
        return {
          url: `/v1/conflicts/${id}/resolve`,
          payload: { note: 'recounted' },
          other: { payload: { note: 'something else' } },
          effect: () => count('events', "type = 'conflict.resolved'"),
          repeatable: false,
        };
      },
    },
    {
      route: 'POST /v1/sync/dead-letters/{id}/retry',
      prepare: async () => {
        const id = await deadLetter('LATE-1');
        const second = await deadLetter('LATE-1');
        await db.query("INSERT INTO products (sku, name, price_minor) VALUES ('LATE-1', 'Late', 100)");
        return {
          url: `/v1/sync/dead-letters/${id}/retry`,
          other: { url: `/v1/sync/dead-letters/${second}/retry` },
          effect: movements,
          repeatable: false,
        };
      },
    },
    {
      route: 'POST /v1/sync/dead-letters/{id}/dismiss',
      prepare: async () => {
        const id = await deadLetter('NEVER-1');
        return {
          url: `/v1/sync/dead-letters/${id}/dismiss`,
          payload: { reason: 'typo at the till' },
          other: { payload: { reason: 'another reason' } },
          effect: () => one('SELECT resolved_at FROM dead_letters WHERE id = $1', [id]),
          repeatable: false,
        };
      },
    },
  ];

  it('covers every POST and PATCH route but device enrolment, and documents the header on each', () => {
    const doc = hub.app.swagger() as {
      paths: Record<
        string,
        Record<string, { parameters?: Array<{ in: string; name: string; required?: boolean }> }>
      >;
    };
    const writes: string[] = [];
    const keyed: string[] = [];
    const required: string[] = [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        if (method !== 'post' && method !== 'patch') continue;
        const route = `${method.toUpperCase()} ${path}`;
        writes.push(route);
        const header = op.parameters?.find((p) => p.in === 'header' && p.name === 'idempotency-key');
        if (header) keyed.push(route);
        if (header?.required) required.push(route);
      }
    }
    expect(keyed.sort(), 'a new write route needs a row in this table').toEqual(
      cases.map((c) => c.route).sort(),
    );
    // Enrolment has no token to scope a key to; a redelivery re-sends under the event's own
    // webhook-id, which receivers de-duplicate on (a second one is harmless by design).
    expect(writes.filter((w) => !keyed.includes(w)).sort()).toEqual([
      'POST /v1/devices/enrol',
      'POST /v1/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver',
      'POST /v1/webhooks/{webhookId}/redeliver',
    ]);
    expect(required.sort()).toEqual([
      'POST /v1/locations/{locationId}/inventory/release',
      'POST /v1/locations/{locationId}/inventory/reserve',
      'POST /v1/orders',
    ]);
    expect(isIdempotentRoute({ method: 'POST', config: {} })).toBe(true);
    expect(isIdempotentRoute({ method: 'POST', config: { idempotency: false } })).toBe(false);
    expect(isIdempotentRoute({ method: 'DELETE' })).toBe(false);
  });

  for (const c of cases) {
    it(`${c.route}: the same key replays the first answer and writes once; with another request, 422`, async () => {
      const p = await c.prepare();
      const [method] = c.route.split(' ') as [string];
      const key = `key-${++keys}`;
      const send = (over: { url?: string; payload?: object } = {}, k = key) =>
        call(method, over.url ?? p.url, 'payload' in over ? over.payload : p.payload, {
          ...p.headers,
          'idempotency-key': k,
        });

      const before = await p.effect();
      const first = await ok(await send());
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const written = await p.effect();
      expect(written, 'the first request writes').not.toEqual(before);

      const again = await send();
      expect(again.statusCode).toBe(first.statusCode);
      expect(again.text).toBe(first.text);
      expect(again.headers['idempotent-replayed']).toBe('true');
      for (const header of ['content-type', 'etag', 'location']) {
        expect(again.headers[header], header).toEqual(first.headers[header]);
      }
      expect(await p.effect(), 'a replay writes nothing').toEqual(written);

      const reused = await send(p.other);
      expect(reused.statusCode, reused.text).toBe(422);
      expect(reused.body).toMatchObject({ code: 'idempotency_key_reused', details: { key } });
      expect(await p.effect()).toEqual(written);

      // The effect is one a second run would show: under a fresh key the same request runs again.
      const fresh = await send({}, `${key}-fresh`);
      if (p.repeatable === 'idempotent') {
        expect(fresh.statusCode, fresh.text).toBeLessThan(300);
        expect(fresh.headers['idempotent-replayed']).toBeUndefined();
        expect(await p.effect()).toEqual(written);
      } else if (p.repeatable) {
        expect(fresh.statusCode, fresh.text).toBeLessThan(300);
        expect(await p.effect()).not.toEqual(written);
      } else {
        expect(fresh.statusCode, fresh.text).toBeGreaterThanOrEqual(400);
      }
    });
  }

  it('keeps answers sealed: a secret shown once is not in the table, and only its caller gets it replayed', async () => {
    const headers = { 'idempotency-key': 'make-reporting-token' };
    const first = await ok(await call('POST', '/v1/tokens', { name: 'reporting', role: 'hq' }, headers));
    const { token } = first.body as { token: string };
    const secret = token.split('.')[2]!;
    const stored = String(
      await one('SELECT response_body FROM idempotency_keys WHERE key = $1', [headers['idempotency-key']]),
    );
    expect(stored.startsWith('sealed:v1:')).toBe(true);
    expect(stored).not.toContain(secret);
    const again = await call('POST', '/v1/tokens', { name: 'reporting', role: 'hq' }, headers);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect((again.body as { token: string }).token).toBe(token);

    // The caller's token rotated since: the key still holds (nothing is made twice), its answer is unreadable.
    const admin = await ok(await call('POST', '/v1/tokens', { name: 'second admin', role: 'admin' }));
    const callerId = hub.adminToken.split('.')[1]!;
    const rotated = await ok(
      await hub.request({
        method: 'POST',
        url: `/v1/tokens/${callerId}/rotate`,
        token: (admin.body as { token: string }).token,
      }),
    );
    const tokensBefore = await count('api_tokens');
    const sealed = await hub.request({
      method: 'POST',
      url: '/v1/tokens',
      payload: { name: 'reporting', role: 'hq' },
      headers,
      token: (rotated.body as { token: string }).token,
    });
    expect(sealed.statusCode, sealed.text).toBe(409);
    expect(sealed.body).toMatchObject({
      code: 'idempotency_key_sealed',
      details: { key: headers['idempotency-key'] },
    });
    expect(await count('api_tokens')).toBe(tokensBefore);
  });

  it('refuses an empty or too long key, and a missing one where required, in the one error shape', async () => {
    const before = await movements();
    for (const key of ['', 'k'.repeat(256)]) {
      const res = await call('POST', '/v1/locations/store-a/receipts', receipt(1), {
        'idempotency-key': key,
      });
      expect(res.statusCode).toBe(400);
      expect(res.body).toMatchObject({
        code: 'invalid_idempotency_key',
        details: { issues: [{ field: 'headers.idempotency-key' }] },
      });
    }
    expect(
      (
        await call('POST', '/v1/locations/store-a/receipts', receipt(1), {
          'idempotency-key': 'k'.repeat(255),
        })
      ).statusCode,
    ).toBe(201);
    const missing = await call('POST', '/v1/locations/store-a/inventory/reserve', {
      reference: 'R',
      lines: [{ sku: 'SKU-1', qty: 1 }],
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.body).toMatchObject({
      code: 'invalid_idempotency_key',
      message: 'headers.idempotency-key: required on this route',
    });
    // Without a key an optional route just runs, each time.
    await ok(await call('POST', '/v1/locations/store-a/receipts', receipt(1)));
    await ok(await call('POST', '/v1/locations/store-a/receipts', receipt(1)));
    expect(await movements()).toBe(before + 3);
  });

  it('does not keep a failed request: the same key runs anew once the cause is fixed', async () => {
    const body = { lines: [{ sku: 'LATER-1', qty: 1 }] };
    const missing = await call('POST', '/v1/locations/store-a/receipts', body, {
      'idempotency-key': 'later',
    });
    expect(missing.statusCode).toBe(404);
    expect(await count('idempotency_keys')).toBe(0);
    await db.query("INSERT INTO products (sku, name, price_minor) VALUES ('LATER-1', 'Later', 100)");
    const done = await call('POST', '/v1/locations/store-a/receipts', body, { 'idempotency-key': 'later' });
    expect(done.statusCode).toBe(201);
    expect(done.headers['idempotent-replayed']).toBeUndefined();
    expect(await one("SELECT on_hand FROM stock WHERE location_id = 'store-a' AND sku = 'LATER-1'")).toBe(1);
  });

  it('scopes keys per token: another token with the same key makes its own write', async () => {
    const other = await hub.token('admin');
    const send = (token?: string) =>
      hub.request({
        method: 'POST',
        url: '/v1/locations/store-a/receipts',
        payload: receipt(2),
        token,
        headers: { 'idempotency-key': 'shared' },
      });
    await ok(await send());
    const second = await ok(await send(other));
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(await one("SELECT on_hand FROM stock WHERE location_id = 'store-a' AND sku = 'SKU-1'")).toBe(54);
  });

  it('runs one of two concurrent requests with one key over real sockets; the other gets its answer', async () => {
    const token = await hub.token('admin');
    const send = () =>
      fetch(`${hub.url}/v1/locations/store-a/receipts`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'idempotency-key': 'race',
        },
        body: JSON.stringify(receipt(10)),
      }).then(async (res) => ({
        status: res.status,
        replayed: res.headers.get('idempotent-replayed'),
        body: await res.text(),
      }));
    const before = await movements();
    const answers = await Promise.all([send(), send()]);
    expect(answers.map((a) => a.status)).toEqual([201, 201]);
    expect(answers[0]?.body).toBe(answers[1]?.body);
    expect(answers.map((a) => a.replayed).sort()).toEqual([null, 'true']);
    expect(await movements()).toBe(before + 1);
    expect(await one("SELECT on_hand FROM stock WHERE location_id = 'store-a' AND sku = 'SKU-1'")).toBe(60);
  });

  it('keys are forgotten after their TTL by the retention job: a reused key is a new request', async () => {
    const send = (key: string) =>
      call('POST', '/v1/locations/store-a/receipts', receipt(1), { 'idempotency-key': key });
    await ok(await send('old'));
    await ok(await send('kept'));
    await db.query(
      "UPDATE idempotency_keys SET created_at = created_at - interval '25 hours' WHERE key = 'old'",
    );
    expect(await hub.app.jobs.runNow('retention')).toBe(1);
    expect(await count('idempotency_keys')).toBe(1);
    expect((await send('kept')).headers['idempotent-replayed']).toBe('true');
    const anew = await ok(await send('old'));
    expect(anew.headers['idempotent-replayed']).toBeUndefined();
    expect(await one("SELECT on_hand FROM stock WHERE location_id = 'store-a' AND sku = 'SKU-1'")).toBe(53);
  });

  it('an expired key not purged yet is a new request too', async () => {
    const send = () =>
      call('POST', '/v1/locations/store-a/receipts', receipt(1), { 'idempotency-key': 'stale' });
    await ok(await send());
    await db.query("UPDATE idempotency_keys SET created_at = created_at - interval '25 hours'");
    expect((await ok(await send())).headers['idempotent-replayed']).toBeUndefined();
    expect(await count('idempotency_keys')).toBe(1);
    expect(await one("SELECT on_hand FROM stock WHERE location_id = 'store-a' AND sku = 'SKU-1'")).toBe(52);
  });
});

describe(`Idempotency-Key across a hub restart, on ${testDbKind()}`, () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  /** A database that survives its hub: a PGlite data directory, or a Postgres schema, reopened. */
  async function durable(): Promise<{ open: () => Promise<Database>; drop: () => Promise<void> }> {
    if (testDbKind() === 'pglite') {
      const dir = await mkdtemp(join(tmpdir(), 'idem-'));
      dirs.push(dir);
      return { open: () => PgliteDatabase.open(dir), drop: async () => {} };
    }
    const schema = `t_idem_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const open = () =>
      PostgresDatabase.connect({
        connectionString: testDatabaseUrl(),
        schema,
        max: 4,
        applicationName: testApplicationName(schema),
      });
    return {
      open,
      drop: async () => {
        const admin = await open();
        await admin.query(`DROP SCHEMA ${schema} CASCADE`);
        await admin.close();
      },
    };
  }

  it('replays the stored answer from a new hub process on the same database', async () => {
    const store = await durable();
    const config = { logLevel: 'silent' as const, bodyLimit: 1_048_576, rateLimitPerMinute: 100_000 };
    const send = async (db: Database, token: string) => {
      const app = await buildApp({ config, db, jobs: false });
      try {
        await app.ready();
        return await app.inject({
          method: 'POST',
          url: '/v1/locations/store-a/receipts',
          headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'survives' },
          payload: { lines: [{ sku: 'SKU-1', qty: 7 }] },
        });
      } finally {
        await app.close();
      }
    };
    try {
      const first = await store.open();
      await migrate(first);
      await seedCatalog(first, { locations: [{ id: 'store-a' }], products: [{ sku: 'SKU-1' }] });
      const { token } = await createApiToken(first, { name: 'restart', role: 'admin', locationId: null });
      const answer = await send(first, token);
      expect(answer.statusCode).toBe(201);
      await first.close();

      const second = await store.open();
      try {
        const replay = await send(second, token);
        expect(replay.statusCode).toBe(201);
        expect(replay.body).toBe(answer.body);
        expect(replay.headers['idempotent-replayed']).toBe('true');
        const { rows } = await second.query<{ on_hand: number }>('SELECT on_hand FROM stock');
        expect(rows).toEqual([{ on_hand: 7 }]);
      } finally {
        await second.close();
      }
    } finally {
      await store.drop();
    }
  }, 180_000);
});

// PGlite has one connection: a second request queues behind the first's transaction for its own
// token check, so the wait there is that queue, never the 409. Defined on Postgres only (not skipped).
if (testDbKind() === 'postgres') {
  describe('Idempotency-Key while the first request still runs (Postgres)', () => {
    let hub: TestHub;
    afterEach(() => hub.close());

    it('waits a bounded time, then answers 409 with Retry-After, on this instance and on another', async () => {
      hub = await buildTestHub({ idempotencyWaitMs: 300 });
      const db = hub.database.db;
      await seedCatalog(db, catalog);
      const other = await buildApp({
        config: { logLevel: 'silent', bodyLimit: 1_048_576, rateLimitPerMinute: 100_000 },
        db,
        jobs: false,
        idempotencyWaitMs: 300,
      });
      await other.ready();
      try {
        const request = {
          method: 'POST' as const,
          url: '/v1/locations/store-a/receipts',
          payload: receipt(1),
        };
        const headers = { authorization: `Bearer ${hub.adminToken}`, 'idempotency-key': 'slow' };
        // The stock row is locked elsewhere: the first request claims its key, then waits on the row.
        let release!: () => void;
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        const locked = db.transaction(async (tx) => {
          await tx.query("SELECT 1 FROM stock WHERE location_id = 'store-a' AND sku = 'SKU-1' FOR UPDATE");
          await held;
        });
        const first = hub.app.inject({ ...request, headers });
        await new Promise((resolve) => setTimeout(resolve, 500));
        const sameInstance = await hub.app.inject({ ...request, headers });
        const otherInstance = await other.inject({ ...request, headers });
        for (const res of [sameInstance, otherInstance]) {
          expect(res.statusCode, res.body).toBe(409);
          expect(res.headers['retry-after']).toBe('1');
          expect(JSON.parse(res.body)).toMatchObject({ code: 'idempotency_key_in_use' });
        }
        release();
        await locked;
        const done = await first;
        expect(done.statusCode).toBe(201);
        for (const app of [hub.app, other]) {
          const again = await app.inject({ ...request, headers });
          expect(again.body).toBe(done.body);
          expect(again.headers['idempotent-replayed']).toBe('true');
        }
        const { rows } = await db.query(
          "SELECT on_hand FROM stock WHERE location_id = 'store-a' AND sku = 'SKU-1'",
        );
        expect(rows).toEqual([{ on_hand: 51 }]);
      } finally {
        await other.close();
      }
    });
  });
}

function receipt(qty: number) {
  return { lines: [{ sku: 'SKU-1', qty }] };
}
