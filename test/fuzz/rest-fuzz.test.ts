import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestHub, type TestHub } from '../../hub/test/helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from '../../hub/test/helpers/fixtures.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import {
  deeplyNested,
  hostileValue,
  nastyNumber,
  nastyString,
  tablesIntact,
  writeFootprint,
} from './hostile.js';
import {
  type DocumentedRoute,
  documentedRoutes,
  encodeHostile,
  fillPath,
  isErrorShape,
} from './openapi-routes.js';

/*
 * Every documented /v1 route (from the hub's own OpenAPI doc) under hostile path params, query
 * strings, headers and bodies. One hub for the file: fresh hubs per case would eat the time budget.
 */

/** Ids that exist, so a hostile body meets the handler rather than a 404. */
const REAL: Record<string, string> = { locationId: 'store-a', sku: 'LIP-1' };

const nastyValue = hostileValue(nastyString);

/** A hostile value as query-string or path text. */
const nastyText: fc.Arbitrary<string> = fc.oneof(
  nastyString,
  nastyNumber.map(String),
  fc.constantFrom('NaN', '-Infinity', '1e3', '00', ' 1', '1,2', '[]', '{}', 'true'),
);

/** Path params of every kind, including ones the router refuses (too long, not UTF-8). */
const pathText = fc.oneof(nastyText, fc.constantFrom('a\u0000b', '%00', 'x'.repeat(200)));

describe(`REST API under hostile input on ${testDbKind()}`, () => {
  let hub: TestHub;
  let routes: DocumentedRoute[];

  beforeAll(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'store-a' }, { id: 'store-b' }, { id: 'wh-1', kind: 'warehouse' }],
      products: [{ sku: 'LIP-1' }, { sku: 'LIP-2' }],
      stock: [
        { locationId: 'store-a', sku: 'LIP-1', onHand: 10 },
        { locationId: 'wh-1', sku: 'LIP-2', onHand: 10 },
      ],
    });
    routes = await documentedRoutes(hub);
  });
  afterAll(async () => {
    await hub?.close();
  });

  /** Send one request; a 4xx must carry the error shape and leave every table as it was. */
  async function expectHandled(
    route: DocumentedRoute,
    req: { url: string; body?: string; headers?: object },
  ) {
    const before = await writeFootprint(hub.database.db);
    const res = await hub.request({
      method: route.method,
      url: req.url,
      headers: { 'content-type': 'application/json', ...req.headers },
      ...(req.body === undefined ? {} : { payload: req.body }),
    });
    const what = `${route.method} ${req.url.slice(0, 200)} → ${res.statusCode} ${res.text.slice(0, 300)}`;
    expect(res.statusCode, what).toBeLessThan(500);
    if (res.statusCode >= 400) {
      expect(isErrorShape(res.body), what).toBe(true);
      expect(await writeFootprint(hub.database.db), what).toBe(before);
    }
    return res;
  }

  it('reads its route list from the OpenAPI doc', () => {
    const writes = routes.filter((r) => r.method !== 'GET');
    expect(writes.length).toBeGreaterThan(20);
    expect(writes.map((r) => `${r.method} ${r.path}`)).toContain('POST /v1/locations/{locationId}/receipts');
  });

  it('answers hostile params, queries, headers and bodies on every route with a 2xx or a shaped 4xx', async () => {
    for (const route of routes) {
      // A DELETE with a real id would simply work; only hostile ids are sent to it.
      const pathValue = (name: string) =>
        route.method === 'DELETE' || !(name in REAL)
          ? pathText
          : fc.oneof(fc.constant(REAL[name]!), pathText);
      const params = fc.record(Object.fromEntries(route.pathParams.map((n) => [n, pathValue(n)])));
      const query = fc.dictionary(fc.constantFrom('zzz', ...route.queryParams), nastyText, { maxKeys: 4 });
      const headers = fc.dictionary(
        fc.constantFrom('if-match', 'idempotency-key', ...route.headerParams),
        nastyText,
        {
          maxKeys: 2,
        },
      );
      const fields = route.bodyFields ?? [];
      const body = fc.oneof(
        nastyValue,
        fc.dictionary(fc.constantFrom('zzz', ...fields, ...(fields.length ? fields : ['x'])), nastyValue, {
          maxKeys: 4,
        }),
        fc.record({
          lines: fc.array(fc.record({ sku: fc.constant('LIP-1'), qty: nastyValue }), { maxLength: 3 }),
        }),
      );
      await fc.assert(
        fc.asyncProperty(params, query, headers, body, async (p, q, h, b) => {
          const search = Object.entries(q)
            .map(([k, v]) => `${encodeHostile(k)}=${encodeHostile(v)}`)
            .join('&');
          const url = `${fillPath(route, p)}${search ? `?${search}` : ''}`;
          // Header values must be latin-1 on the wire: others are refused by the HTTP layer itself.
          const sendable = Object.fromEntries(Object.entries(h).filter(([, v]) => /^[\x20-\x7e]*$/.test(v)));
          await expectHandled(route, {
            url,
            headers: sendable,
            ...(route.method === 'GET' ? {} : { body: JSON.stringify(b) ?? 'null' }),
          });
        }),
        { numRuns: route.method === 'GET' ? 6 : 12 },
      );
    }
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
  });

  it('refuses deeply nested, oversized, broken and mistyped bodies on every write route', async () => {
    const bodies: Array<{ name: string; body: string; contentType?: string; status: number[] }> = [
      { name: '10,000-level array', body: deeplyNested(10_000), status: [400] },
      { name: '10,000-level object', body: `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`, status: [400] },
      { name: 'over the body limit', body: JSON.stringify({ x: 'y'.repeat(1_100_000) }), status: [413] },
      { name: 'broken JSON', body: '{"lines": [', status: [400] },
      { name: 'empty JSON body', body: '', status: [400] },
      { name: 'text/plain', body: 'hello', contentType: 'text/plain', status: [400, 415] },
      {
        name: 'a huge array',
        body: JSON.stringify({ lines: Array.from({ length: 100_000 }, () => 1) }),
        status: [400],
      },
    ];
    for (const route of routes.filter((r) => r.method !== 'GET' && r.bodyFields !== null)) {
      const url = fillPath(route, REAL);
      for (const b of bodies) {
        const res = await expectHandled(route, {
          url,
          body: b.body,
          headers: {
            'idempotency-key': 'k',
            'if-match': '1',
            ...(b.contentType ? { 'content-type': b.contentType } : {}),
          },
        });
        // The enrolment route's own tighter rate limit may answer first, in the error shape too.
        expect([...b.status, 429], `${route.method} ${route.path}: ${b.name} → ${res.statusCode}`).toContain(
          res.statusCode,
        );
      }
    }
  });

  it('still answers, with tables and ledger intact, after all of it', async () => {
    const res = await hub.request({ method: 'GET', url: '/v1/locations/store-a/inventory/LIP-1' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({ locationId: 'store-a', sku: 'LIP-1' });
    expect(await tablesIntact(hub.database.db)).toBe(true);
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
  });

  // Known gaps, outside this suite's files: each passes while the hub still gets it wrong and fails
  // once it is fixed (then turn it into a plain `it`).
  it('answers a NUL byte in a text field with 400 in the error shape, and writes nothing', async () => {
    const before = await hub.request({ method: 'GET', url: '/v1/locations/store-a' });
    const res = await hub.request({
      method: 'PATCH',
      url: '/v1/locations/store-a',
      payload: { name: 'a\u0000b' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatchObject({ code: 'invalid_text' });
    const after = await hub.request({ method: 'GET', url: '/v1/locations/store-a' });
    expect(after.body).toEqual(before.body);
  });

  it('answers a path param over 100 characters with 414 in the error shape', async () => {
    const res = await hub.request({ method: 'GET', url: `/v1/products/${'x'.repeat(200)}` });
    expect(res.statusCode).toBe(414);
    expect(isErrorShape(res.body)).toBe(true);
  });

  it('answers a path param of invalid UTF-8 with 400 in the error shape', async () => {
    const res = await hub.request({ method: 'GET', url: '/v1/products/%ED%A0%80' });
    expect(res.statusCode).toBe(400);
    expect(isErrorShape(res.body)).toBe(true);
  });
});
