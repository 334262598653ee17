import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { seedCatalog } from './helpers/fixtures.js';
import { testDbKind } from './helpers/test-db.js';

const lines = [{ sku: 'SKU-1', qty: 1 }];
const WEBHOOK = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const idempotent = { 'idempotency-key': 'access-test' };

/**
 * Every write the REST API has, each with a request that passes validation (so the role check, not
 * the schema, answers). The list is checked against the OpenAPI document: a new write route fails
 * this test until it is added here, so hq's read-only role is audited route by route.
 */
const WRITES: Array<{ method: string; url: string; route: string; payload?: object; headers?: object }> = [
  {
    method: 'POST',
    route: '/v1/locations',
    url: '/v1/locations',
    payload: { id: 'new-store', name: 'New store', kind: 'store' },
  },
  {
    method: 'PATCH',
    route: '/v1/locations/{locationId}',
    url: '/v1/locations/store-a',
    payload: { name: 'A' },
  },
  { method: 'DELETE', route: '/v1/locations/{locationId}', url: '/v1/locations/store-a' },
  {
    method: 'POST',
    route: '/v1/products',
    url: '/v1/products',
    payload: { sku: 'NEW-1', name: 'New', priceMinor: 100 },
  },
  { method: 'PATCH', route: '/v1/products/{sku}', url: '/v1/products/SKU-1', payload: { name: 'Renamed' } },
  { method: 'DELETE', route: '/v1/products/{sku}', url: '/v1/products/SKU-1' },
  {
    method: 'PATCH',
    route: '/v1/locations/{locationId}/inventory/{sku}',
    url: '/v1/locations/store-a/inventory/SKU-1',
    payload: { reorderPoint: 3 },
    headers: { 'if-match': '"1"' },
  },
  {
    method: 'POST',
    route: '/v1/locations/{locationId}/receipts',
    url: '/v1/locations/store-a/receipts',
    payload: { lines },
  },
  {
    method: 'POST',
    route: '/v1/locations/{locationId}/adjustments',
    url: '/v1/locations/store-a/adjustments',
    payload: { reason: 'damage', lines },
  },
  {
    method: 'POST',
    route: '/v1/locations/{locationId}/counts',
    url: '/v1/locations/store-a/counts',
    payload: { lines: [{ sku: 'SKU-1', counted: 4 }] },
  },
  {
    method: 'POST',
    route: '/v1/transfers',
    url: '/v1/transfers',
    payload: { fromLocationId: 'store-a', toLocationId: 'store-b', lines },
  },
  { method: 'POST', route: '/v1/transfers/{transferId}/receive', url: '/v1/transfers/tr_1/receive' },
  {
    method: 'POST',
    route: '/v1/devices',
    url: '/v1/devices',
    payload: { locationId: 'store-a', name: 'Till' },
  },
  {
    method: 'POST',
    route: '/v1/devices/{deviceId}/enrolment-code',
    url: '/v1/devices/till-1/enrolment-code',
  },
  { method: 'DELETE', route: '/v1/devices/{deviceId}', url: '/v1/devices/till-1' },
  { method: 'POST', route: '/v1/sync/dead-letters/{id}/retry', url: '/v1/sync/dead-letters/1/retry' },
  {
    method: 'POST',
    route: '/v1/sync/dead-letters/{id}/dismiss',
    url: '/v1/sync/dead-letters/1/dismiss',
    payload: { reason: 'x' },
  },
  {
    method: 'POST',
    route: '/v1/conflicts/{id}/resolve',
    url: '/v1/conflicts/1/resolve',
    payload: { note: 'x' },
  },
  {
    method: 'POST',
    route: '/v1/orders',
    url: '/v1/orders',
    payload: {
      channel: 'web',
      customerRef: 'c',
      lines,
      fulfilment: { type: 'pickup', pickupLocationId: 'store-a' },
    },
    headers: idempotent,
  },
  {
    method: 'POST',
    route: '/v1/orders/{orderId}/confirm',
    url: '/v1/orders/ord_1/confirm',
    payload: { payment: { method: 'card', amountMinor: 100, reference: 'p-1' } },
  },
  { method: 'POST', route: '/v1/orders/{orderId}/fulfill', url: '/v1/orders/ord_1/fulfill' },
  { method: 'POST', route: '/v1/orders/{orderId}/ship', url: '/v1/orders/ord_1/ship' },
  { method: 'POST', route: '/v1/orders/{orderId}/deliver', url: '/v1/orders/ord_1/deliver' },
  { method: 'POST', route: '/v1/orders/{orderId}/cancel', url: '/v1/orders/ord_1/cancel' },
  {
    method: 'POST',
    route: '/v1/orders/{orderId}/return',
    url: '/v1/orders/ord_1/return',
    payload: { locationId: 'store-a', condition: 'sellable' },
  },
  {
    method: 'POST',
    route: '/v1/locations/{locationId}/inventory/reserve',
    url: '/v1/locations/store-a/inventory/reserve',
    payload: { reference: 'r-1', lines },
    headers: idempotent,
  },
  {
    method: 'POST',
    route: '/v1/locations/{locationId}/inventory/release',
    url: '/v1/locations/store-a/inventory/release',
    payload: { reference: 'r-1', lines },
    headers: idempotent,
  },
  {
    method: 'POST',
    route: '/v1/webhooks',
    url: '/v1/webhooks',
    payload: { url: 'https://example.com/hook', events: ['order.created'] },
  },
  { method: 'DELETE', route: '/v1/webhooks/{webhookId}', url: `/v1/webhooks/${WEBHOOK}` },
  {
    method: 'PATCH',
    route: '/v1/webhooks/{webhookId}',
    url: `/v1/webhooks/${WEBHOOK}`,
    payload: { status: 'active' },
  },
  { method: 'POST', route: '/v1/webhooks/{webhookId}/test', url: `/v1/webhooks/${WEBHOOK}/test` },
  {
    method: 'POST',
    route: '/v1/webhooks/{webhookId}/rotate-secret',
    url: `/v1/webhooks/${WEBHOOK}/rotate-secret`,
  },
  {
    method: 'POST',
    route: '/v1/webhooks/{webhookId}/redeliver',
    url: `/v1/webhooks/${WEBHOOK}/redeliver`,
    payload: { since: '2026-01-01T00:00:00Z' },
  },
  {
    method: 'POST',
    route: '/v1/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver',
    url: `/v1/webhooks/${WEBHOOK}/deliveries/1/redeliver`,
  },
  { method: 'POST', route: '/v1/tokens', url: '/v1/tokens', payload: { name: 'hq made', role: 'hq' } },
  { method: 'POST', route: '/v1/tokens/{tokenId}/revoke', url: '/v1/tokens/abc123/revoke' },
  { method: 'POST', route: '/v1/tokens/{tokenId}/rotate', url: '/v1/tokens/abc123/rotate' },
];
/** Writes that take no token at all (a till trades its one-time code for its device token). */
const UNAUTHENTICATED = new Set(['POST /v1/devices/enrol']);

describe(`roles on ${testDbKind()}: hq reads everything and writes nothing`, () => {
  let hub: TestHub;
  let hq: string;

  beforeAll(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'store-a' }, { id: 'store-b' }],
      products: [{ sku: 'SKU-1' }],
      stock: [{ locationId: 'store-a', sku: 'SKU-1', onHand: 5 }],
    });
    hq = await hub.token('hq');
  });
  afterAll(() => hub.close());

  it('lists every write route of the OpenAPI document', async () => {
    const doc = (await hub.request({ method: 'GET', url: '/docs/json' })).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => m !== 'get' && m !== 'head')
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    const listed = WRITES.map((w) => `${w.method} ${w.route}`);
    expect(new Set(documented)).toEqual(new Set([...listed, ...UNAUTHENTICATED]));
  });

  it('refuses hq with 403 on every write route', async () => {
    const answers: Record<string, number> = {};
    for (const w of WRITES) {
      const res = await hub.request({
        method: w.method as 'POST',
        url: w.url,
        ...(w.payload ? { payload: w.payload } : {}),
        headers: { ...(w.headers ?? {}) },
        token: hq,
      });
      answers[`${w.method} ${w.route}`] = res.statusCode;
    }
    expect(answers).toEqual(Object.fromEntries(WRITES.map((w) => [`${w.method} ${w.route}`, 403])));
  });

  it('tells a client its role and whether it may settle triage (GET /v1/me)', async () => {
    const me = (token: string) => hub.request({ method: 'GET', url: '/v1/me', token });
    expect((await me(hq)).body).toEqual({ role: 'hq', locationId: null, canTriage: false });
    expect((await me(hub.adminToken)).body).toEqual({ role: 'admin', locationId: null, canTriage: true });
    const manager = await hub.token('store_manager', 'store-a');
    expect((await me(manager)).body).toEqual({
      role: 'store_manager',
      locationId: 'store-a',
      canTriage: true,
    });
    expect((await hub.request({ method: 'GET', url: '/v1/me', token: null })).statusCode).toBe(401);
  });
});
