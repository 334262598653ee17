import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDeviceToken, hashSecret, newSecret } from '../src/services/tokens.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { testDbKind } from './helpers/test-db.js';

interface LocationBody {
  id: string;
  name: string;
  kind: 'store' | 'warehouse';
  timezone: string;
  priority: number;
  safetyStock: number;
  active: boolean;
  createdAt: string;
  updatedAt: string;
}
interface PageBody {
  items: LocationBody[];
  nextCursor: string | null;
}

// Created in this order.
const NETWORK = [
  { id: 'store-paris-1', name: 'Paris Opera', kind: 'store', priority: 10 },
  { id: 'wh-north', name: 'North Warehouse', kind: 'warehouse', priority: 5 },
  { id: 'store-lyon-1', name: 'Lyon Centre', kind: 'store', priority: 20 },
  { id: 'wh-south', name: 'South Warehouse', kind: 'warehouse', priority: 5, active: false },
  { id: 'store-nice-1', name: 'Nice 100% Beauty', kind: 'store', priority: 30 },
  { id: 'store-paris-2', name: 'Paris Marais', kind: 'store', priority: 20 },
  { id: 'store-lille-1', name: 'Lille Grand Place', kind: 'store' },
] as const;

async function createNetwork(hub: TestHub): Promise<void> {
  for (const location of NETWORK) {
    const res = await hub.request({ method: 'POST', url: '/v1/locations', payload: location });
    expect(res.statusCode).toBe(201);
  }
}

async function walk(hub: TestHub, query: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const url: string = `/v1/locations?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await hub.request({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    const body = json<PageBody>(res);
    ids.push(...body.items.map((l) => l.id));
    cursor = body.nextCursor;
    pages += 1;
  } while (cursor);
  return { ids, pages };
}

async function deviceToken(hub: TestHub, deviceId: string, locationId: string): Promise<string> {
  const secret = newSecret();
  await hub.database.db.query(
    'INSERT INTO devices (id, location_id, name, token_hash) VALUES ($1, $2, $3, $4)',
    [deviceId, locationId, `Till ${deviceId}`, hashSecret(secret)],
  );
  return formatDeviceToken(deviceId, secret);
}

/** The parsed JSON body of a response, as the shape this endpoint documents. */
const json = <T>(res: { body: unknown }): T => res.body as T;
const message = (res: { body: unknown }) => json<{ message: string }>(res).message;

describe(`an admin opens, changes and closes locations on ${testDbKind()}`, () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await buildTestHub();
  });
  afterAll(() => hub.close());

  it('opens a store with defaults, reads it, changes it and deletes it', async () => {
    const created = await hub.request({
      method: 'POST',
      url: '/v1/locations',
      payload: { id: 'store-berlin-1', name: 'Berlin Mitte', kind: 'store' },
    });
    expect(created.statusCode).toBe(201);
    const store = json<LocationBody>(created);
    expect(store).toMatchObject({
      id: 'store-berlin-1',
      name: 'Berlin Mitte',
      kind: 'store',
      timezone: 'UTC',
      priority: 100,
      safetyStock: 0,
      active: true,
    });

    expect((await hub.request({ method: 'GET', url: '/v1/locations/store-berlin-1' })).body).toEqual(store);

    const patched = await hub.request({
      method: 'PATCH',
      url: '/v1/locations/store-berlin-1',
      payload: { timezone: 'Europe/Berlin', priority: 15, safetyStock: 2 },
    });
    expect(patched.statusCode).toBe(200);
    const after = json<LocationBody>(patched);
    expect(after).toMatchObject({
      name: 'Berlin Mitte',
      timezone: 'Europe/Berlin',
      priority: 15,
      safetyStock: 2,
    });
    expect(after.createdAt).toBe(store.createdAt);
    expect(after.updatedAt > store.updatedAt).toBe(true);

    const deleted = await hub.request({ method: 'DELETE', url: '/v1/locations/store-berlin-1' });
    expect(deleted.statusCode).toBe(204);
    expect((await hub.request({ method: 'GET', url: '/v1/locations/store-berlin-1' })).body).toMatchObject({
      code: 'not_found',
      message: 'location "store-berlin-1" does not exist',
    });
  });

  it('refuses a second location with the same id and keeps the first', async () => {
    const first = { id: 'wh-central', name: 'Central', kind: 'warehouse' };
    expect((await hub.request({ method: 'POST', url: '/v1/locations', payload: first })).statusCode).toBe(
      201,
    );
    const again = await hub.request({
      method: 'POST',
      url: '/v1/locations',
      payload: { ...first, name: 'Impostor', kind: 'store' },
    });
    expect(again.statusCode).toBe(409);
    expect(again.body).toMatchObject({
      code: 'already_exists',
      details: { field: 'id', value: 'wh-central' },
    });
    expect((await hub.request({ method: 'GET', url: '/v1/locations/wh-central' })).body).toMatchObject({
      name: 'Central',
      kind: 'warehouse',
    });
  });

  it('will not delete a location with stock and movements; suggests deactivating it instead', async () => {
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'store-stocked' }],
      products: [{ sku: 'SERUM-30' }],
      stock: [{ locationId: 'store-stocked', sku: 'SERUM-30', onHand: 12 }],
    });
    const res = await hub.request({ method: 'DELETE', url: '/v1/locations/store-stocked' });
    expect(res.statusCode).toBe(409);
    expect(res.body).toMatchObject({ code: 'in_use', details: { uses: ['stock', 'movements'] } });
    expect(message(res)).toContain('PATCH /v1/locations/store-stocked {"active": false}');

    expect((await hub.request({ method: 'GET', url: '/v1/locations/store-stocked' })).statusCode).toBe(200);
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
    const closed = await hub.request({
      method: 'PATCH',
      url: '/v1/locations/store-stocked',
      payload: { active: false },
    });
    expect(closed.body).toMatchObject({ id: 'store-stocked', active: false });
  });

  it('will not delete a location that has tills or a manager token', async () => {
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'store-tills' }, { id: 'store-managed' }],
      products: [],
    });
    await deviceToken(hub, 'till-1', 'store-tills');
    await hub.token('store_manager', 'store-managed');

    const tills = await hub.request({ method: 'DELETE', url: '/v1/locations/store-tills' });
    expect(tills.statusCode).toBe(409);
    expect(tills.body).toMatchObject({ code: 'in_use', details: { uses: ['devices'] } });

    const managed = await hub.request({ method: 'DELETE', url: '/v1/locations/store-managed' });
    expect(managed.statusCode).toBe(409);
    expect(managed.body).toMatchObject({ code: 'in_use' });
    expect(message(managed)).toContain('{"active": false}');

    for (const id of ['store-tills', 'store-managed']) {
      expect((await hub.request({ method: 'GET', url: `/v1/locations/${id}` })).statusCode).toBe(200);
    }
  });

  it('answers 404 for a location that does not exist, on read, change and delete', async () => {
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const res = await hub.request({
        method,
        url: '/v1/locations/store-atlantis',
        ...(method === 'PATCH' ? { payload: { name: 'Atlantis' } } : {}),
      });
      expect(res.statusCode).toBe(404);
      expect(res.body).toMatchObject({ code: 'not_found', details: { location: 'store-atlantis' } });
    }
  });
});

describe(`HQ looks through the store network on ${testDbKind()}`, () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await buildTestHub();
    await createNetwork(hub);
  });
  afterAll(() => hub.close());

  it('lists by id by default', async () => {
    const body = json<PageBody>(await hub.request({ method: 'GET', url: '/v1/locations' }));
    expect(body.items.map((l) => l.id)).toEqual([
      'store-lille-1',
      'store-lyon-1',
      'store-nice-1',
      'store-paris-1',
      'store-paris-2',
      'wh-north',
      'wh-south',
    ]);
    expect(body.nextCursor).toBeNull();
  });

  it('walks by priority both ways, 3 to a page, ties in id order', async () => {
    const up = await walk(hub, 'sort=priority&limit=3');
    expect(up.pages).toBe(3);
    expect(up.ids).toEqual([
      'wh-north',
      'wh-south',
      'store-paris-1',
      'store-lyon-1',
      'store-paris-2',
      'store-nice-1',
      'store-lille-1',
    ]);
    const down = await walk(hub, 'sort=-priority&limit=3');
    expect(down.ids).toEqual([...up.ids].reverse());
  });

  it('walks by name, by id descending and by creation time', async () => {
    expect((await walk(hub, 'sort=name&limit=2')).ids).toEqual([
      'store-lille-1', // Lille Grand Place
      'store-lyon-1', // Lyon Centre
      'store-nice-1', // Nice 100% Beauty
      'wh-north', // North Warehouse
      'store-paris-2', // Paris Marais
      'store-paris-1', // Paris Opera
      'wh-south', // South Warehouse
    ]);
    const byIdDesc = await walk(hub, 'sort=-id&limit=4');
    expect(byIdDesc.pages).toBe(2);
    expect(byIdDesc.ids[0]).toBe('wh-south');
    expect(byIdDesc.ids[6]).toBe('store-lille-1');
    expect((await walk(hub, 'sort=createdAt&limit=3')).ids).toEqual(NETWORK.map((l) => l.id));
    expect((await walk(hub, 'sort=-createdAt&limit=3')).ids).toEqual(NETWORK.map((l) => l.id).reverse());
  });

  it('filters by kind, active and a piece of the name or id', async () => {
    const list = async (query: string) =>
      json<PageBody>(await hub.request({ method: 'GET', url: `/v1/locations?${query}` })).items.map(
        (l) => l.id,
      );
    expect(await list('kind=warehouse')).toEqual(['wh-north', 'wh-south']);
    expect(await list('kind=warehouse&active=true')).toEqual(['wh-north']);
    expect(await list('active=false')).toEqual(['wh-south']);
    expect(await list('q=paris')).toEqual(['store-paris-1', 'store-paris-2']);
    expect(await list('q=WAREHOUSE')).toEqual(['wh-north', 'wh-south']);
    expect(await list('q=lyon-')).toEqual(['store-lyon-1']);
    expect(await list('q=100%25')).toEqual(['store-nice-1']);
    expect(await list('q=%25')).toEqual(['store-nice-1']);
    expect(await list('q=_')).toEqual([]);
    expect(await list('q=store&kind=store&sort=-priority&limit=2')).toEqual([
      'store-lille-1',
      'store-nice-1',
    ]);
  });
});

describe(`who may see and change locations on ${testDbKind()}`, () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, { locations: [{ id: 'store-1' }, { id: 'store-2' }], products: [] });
  });
  afterAll(() => hub.close());

  it('lets every role read every location, only admins write, nobody without a token', async () => {
    const readers = {
      hq: await hub.token('hq'),
      store_manager: await hub.token('store_manager', 'store-1'),
      channel: await hub.token('channel'),
      device: await deviceToken(hub, 'till-7', 'store-1'),
    };
    for (const [role, token] of Object.entries(readers)) {
      const list = await hub.request({ method: 'GET', url: '/v1/locations', token });
      expect(list.statusCode, role).toBe(200);
      expect(json<PageBody>(list).items.map((l) => l.id)).toEqual(['store-1', 'store-2']);
      expect(
        (await hub.request({ method: 'GET', url: '/v1/locations/store-2', token })).statusCode,
        role,
      ).toBe(200);

      const writes = [
        {
          method: 'POST' as const,
          url: '/v1/locations',
          payload: { id: 'store-3', name: 'x', kind: 'store' },
        },
        { method: 'PATCH' as const, url: '/v1/locations/store-2', payload: { name: 'Renamed' } },
        { method: 'DELETE' as const, url: '/v1/locations/store-2' },
      ];
      for (const write of writes) {
        const res = await hub.request({ ...write, token });
        expect(res.statusCode, `${role} ${write.method}`).toBe(403);
        expect(res.body).toMatchObject({ code: 'forbidden' });
      }
    }
    for (const req of [
      { method: 'GET' as const, url: '/v1/locations' },
      { method: 'GET' as const, url: '/v1/locations/store-1' },
      { method: 'DELETE' as const, url: '/v1/locations/store-2' },
    ]) {
      const res = await hub.request({ ...req, token: null });
      expect(res.statusCode).toBe(401);
      expect(res.body).toMatchObject({ code: 'unauthorized' });
    }
    const unchanged = json<PageBody>(await hub.request({ method: 'GET', url: '/v1/locations' }));
    expect(unchanged.items.map((l) => [l.id, l.name])).toEqual([
      ['store-1', 'Location store-1'],
      ['store-2', 'Location store-2'],
    ]);
  });
});

describe(`bad location input gets a clear 400 and changes nothing on ${testDbKind()}`, () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await buildTestHub();
    await createNetwork(hub);
  });
  afterAll(() => hub.close());

  const field = (res: { body: unknown }) => message(res).split(':')[0];

  it('names the field of a bad body', async () => {
    const good = { id: 'store-new', name: 'New', kind: 'store' };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...good, region: 'north' }, 'body.region'],
      [{ ...good, id: 'Store New' }, 'body.id'],
      [{ ...good, id: "x'); DROP TABLE locations; --" }, 'body.id'],
      [{ ...good, kind: 'kiosk' }, 'body.kind'],
      [{ ...good, timezone: 'Mars/Olympus' }, 'body.timezone'],
      [{ ...good, priority: '10' }, 'body.priority'],
      [{ ...good, safetyStock: -1 }, 'body.safetyStock'],
      [{ id: 'store-new', kind: 'store' }, 'body.name'],
    ];
    for (const [payload, expected] of cases) {
      const res = await hub.request({ method: 'POST', url: '/v1/locations', payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.body).toMatchObject({ code: 'invalid_request' });
      expect(field(res)).toBe(expected);
    }
    const patch = await hub.request({
      method: 'PATCH',
      url: '/v1/locations/wh-north',
      payload: { id: 'wh-n' },
    });
    expect(patch.statusCode).toBe(400);
    expect(field(patch)).toBe('body.id');
    expect((await hub.request({ method: 'GET', url: '/v1/locations/store-new' })).statusCode).toBe(404);
    expect(json<PageBody>(await hub.request({ method: 'GET', url: '/v1/locations' })).items).toHaveLength(7);
  });

  it('names the query parameter at fault', async () => {
    const cases: Array<[string, string]> = [
      ['limit=501', 'querystring.limit'],
      ['kind=shop', 'querystring.kind'],
      ['active=1', 'querystring.active'],
      ['sort=city', 'querystring.sort'],
      ['city=paris', 'querystring.city'],
      ['cursor=%7B%7D', 'querystring.cursor'],
      [
        `sort=priority&cursor=${Buffer.from('["priority","high","wh-north"]').toString('base64url')}`,
        'querystring.cursor',
      ],
      [
        `sort=createdAt&cursor=${Buffer.from('["createdAt","yesterday","wh-north"]').toString('base64url')}`,
        'querystring.cursor',
      ],
    ];
    for (const [query, expected] of cases) {
      const res = await hub.request({ method: 'GET', url: `/v1/locations?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(field(res), query).toBe(expected);
    }
  });

  it('treats injection-looking searches and ids as plain text', async () => {
    for (const q of ["' OR '1'='1", "paris'; DELETE FROM locations; --", 'store\\']) {
      const res = await hub.request({ method: 'GET', url: `/v1/locations?q=${encodeURIComponent(q)}` });
      expect(res.statusCode, q).toBe(200);
      expect(json<PageBody>(res).items).toEqual([]);
    }
    const res = await hub.request({
      method: 'GET',
      url: `/v1/locations/${encodeURIComponent("wh-north' OR 1=1 --")}`,
    });
    expect(res.statusCode).toBe(400);
    expect(field(res)).toBe('params.locationId');
    expect(json<PageBody>(await hub.request({ method: 'GET', url: '/v1/locations' })).items).toHaveLength(7);
  });
});
