import { newOpId } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { enrolDevice } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

interface MovementBody {
  id: number;
  locationId: string;
  sku: string;
  opId: string;
  opType: string;
  reason: string;
  hubTime: string;
  reference: string | null;
  deltas: { onHand: number; reserved: number; incoming: number; damaged: number };
}
interface MovementPage {
  items: MovementBody[];
  nextCursor: string | null;
}

const json = <T>(res: { body: unknown }): T => res.body as T;

describe(`the movement ledger API on ${testDbKind()}`, () => {
  let hub: TestHub;
  let db: Database;
  beforeEach(async () => {
    hub = await buildTestHub();
    db = hub.database.db;
    // Six seed receipts: one per (location, sku).
    await seedCatalog(db, {
      locations: [{ id: 'store-a' }, { id: 'store-b' }, { id: 'store-c' }],
      products: [{ sku: 'SKU-1' }, { sku: 'SKU-2' }],
      stock: ['store-a', 'store-b', 'store-c'].flatMap((locationId) => [
        { locationId, sku: 'SKU-1', onHand: 10 },
        { locationId, sku: 'SKU-2', onHand: 10 },
      ]),
    });
  });
  afterEach(async () => {
    expect(await ledgerMismatches(db)).toEqual([]);
    await hub.close();
  });

  /** A shrink of `qty` units written through the hub's stock writer; returns its op id. */
  async function shrink(locationId: string, lines: Array<{ sku: string; qty: number }>): Promise<string> {
    const opId = newOpId();
    await hub.app.stock.write((_tx, apply) =>
      apply([
        {
          op: { type: 'adjust', reason: 'shrink', opId, hlc: hub.app.stock.clock.tick(), locationId, lines },
          actor: 'system',
          reference: 'audit-7',
        },
      ]),
    );
    return opId;
  }

  const list = async (query: string, token?: string): Promise<MovementPage> => {
    const res = await hub.request({ method: 'GET', url: `/v1/movements?${query}`, token });
    expect(res.statusCode, `${query}: ${JSON.stringify(res.body)}`).toBe(200);
    return json<MovementPage>(res);
  };
  const summary = (page: MovementPage) => page.items.map((m) => `${m.locationId} ${m.sku} ${m.reason}`);

  it('filters by location, sku, op and reason, showing exactly the entries written', async () => {
    const op = await shrink('store-a', [
      { sku: 'SKU-1', qty: 2 },
      { sku: 'SKU-2', qty: 1 },
    ]);
    await shrink('store-b', [{ sku: 'SKU-1', qty: 3 }]);

    expect(summary(await list('locationId=store-a'))).toEqual([
      'store-a SKU-1 receive',
      'store-a SKU-2 receive',
      'store-a SKU-1 adjust_shrink',
      'store-a SKU-2 adjust_shrink',
    ]);
    expect(summary(await list('sku=SKU-1&reason=adjust_shrink'))).toEqual([
      'store-a SKU-1 adjust_shrink',
      'store-b SKU-1 adjust_shrink',
    ]);
    expect(summary(await list('locationId=store-b&sku=SKU-1'))).toEqual([
      'store-b SKU-1 receive',
      'store-b SKU-1 adjust_shrink',
    ]);
    expect(summary(await list('reason=count'))).toEqual([]);

    const byOp = await list(`opId=${op}`);
    expect(byOp.items).toEqual([
      {
        id: expect.any(Number),
        locationId: 'store-a',
        sku: 'SKU-1',
        opId: op,
        opType: 'adjust',
        reason: 'adjust_shrink',
        outcome: 'applied',
        deltas: { onHand: -2, reserved: 0, incoming: 0, damaged: 0 },
        absorbedOnHand: 0,
        counted: null,
        onHandAfter: 8,
        versionAfter: 2,
        oversell: false,
        hlc: expect.any(String),
        hubTime: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
        deviceId: null,
        actor: 'system',
        reference: 'audit-7',
      },
      expect.objectContaining({ sku: 'SKU-2', opId: op, onHandAfter: 9, versionAfter: 2 }),
    ]);
    expect(byOp.nextCursor).toBeNull();
  });

  it('shows a transfer as it moves: out at the source, incoming then in at the destination', async () => {
    const shipped = await hub.request({
      method: 'POST',
      url: '/v1/transfers',
      payload: { fromLocationId: 'store-a', toLocationId: 'store-b', lines: [{ sku: 'SKU-2', qty: 4 }] },
    });
    expect(shipped.statusCode).toBe(201);
    const { id } = json<{ id: string }>(shipped);
    await hub.request({ method: 'POST', url: `/v1/transfers/${id}/receive`, payload: {} });

    const page = await list('sku=SKU-2&reason=transfer_out');
    expect(page.items.map((m) => [m.locationId, m.deltas, m.reference])).toEqual([
      ['store-a', { onHand: -4, reserved: 0, incoming: 0, damaged: 0 }, id],
    ]);
    const destination = await list('locationId=store-b&sku=SKU-2');
    expect(destination.items.map((m) => [m.reason, m.deltas.onHand, m.deltas.incoming])).toEqual([
      ['receive', 10, 0],
      ['transfer_incoming', 0, 4],
      ['transfer_in', 4, -4],
    ]);
  });

  it('walks pages without gaps or repeats, in both orders', async () => {
    for (let i = 0; i < 4; i++) {
      await shrink('store-c', [
        { sku: 'SKU-1', qty: 1 },
        { sku: 'SKU-2', qty: 1 },
      ]);
    }
    // 6 receipts + 8 shrinks.
    const all = (await list('limit=500')).items.map((m) => m.id);
    expect(all).toHaveLength(14);
    expect(new Set(all).size).toBe(14);

    for (const [order, expected] of [
      ['asc', all],
      ['desc', [...all].reverse()],
    ] as const) {
      for (const limit of [1, 3, 5]) {
        const walked: number[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page = await list(`order=${order}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
          expect(page.items.length).toBeLessThanOrEqual(limit);
          walked.push(...page.items.map((m) => m.id));
          cursor = page.nextCursor;
          pages++;
        } while (cursor);
        expect(walked, `${order} by ${limit}`).toEqual(expected);
        expect(pages).toBe(Math.ceil(14 / limit));
      }
    }

    // A filter stays applied across pages.
    const first = await list('locationId=store-c&sku=SKU-2&limit=3');
    const second = await list(`locationId=store-c&sku=SKU-2&limit=3&cursor=${first.nextCursor}`);
    expect([...summary(first), ...summary(second)]).toEqual([
      'store-c SKU-2 receive',
      'store-c SKU-2 adjust_shrink',
      'store-c SKU-2 adjust_shrink',
      'store-c SKU-2 adjust_shrink',
      'store-c SKU-2 adjust_shrink',
    ]);
    expect(second.nextCursor).toBeNull();
  });

  it('filters by hub time: from inclusive, to exclusive', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await shrink('store-a', [{ sku: 'SKU-1', qty: 1 }]);

    expect(summary(await list(`from=${between}`))).toEqual(['store-a SKU-1 adjust_shrink']);
    expect(await list(`to=${between}`).then((p) => p.items.length)).toBe(6);
    expect((await list('from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00%2B02:00')).items).toHaveLength(7);
    expect((await list('from=2999-01-01T00:00:00Z')).items).toEqual([]);
  });

  it('rejects bad filters with 400 naming the field', async () => {
    const asc = await list('limit=2');
    const cases: Array<[string, string]> = [
      ['from=yesterday', 'querystring.from'],
      ['to=2024-13-01T00:00:00Z', 'querystring.to'],
      ['from=2024-01-01T00:00:00', 'querystring.from'],
      ['from=2024-02-01T00:00:00Z&to=2024-01-01T00:00:00Z', 'querystring.to'],
      ['order=sideways', 'querystring.order'],
      ['cursor=garbage', 'querystring.cursor'],
      [`cursor=${Buffer.from('[1,2]').toString('base64url')}`, 'querystring.cursor'],
      [
        `cursor=${Buffer.from('["asc","2024-02-30T00:00:00.000000Z","store-a",1]').toString('base64url')}`,
        'querystring.cursor',
      ],
      [`order=desc&cursor=${asc.nextCursor}`, 'querystring.cursor'],
      ['opId=not-a-uuid', 'querystring.opId'],
      ['reason=theft', 'querystring.reason'],
      ['locationId=Store%20A', 'querystring.locationId'],
      ['limit=501', 'querystring.limit'],
      ['colour=red', 'querystring'],
    ];
    for (const [query, field] of cases) {
      const res = await hub.request({ method: 'GET', url: `/v1/movements?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(res.body, query).toMatchObject({ code: 'invalid_request' });
      expect(json<{ message: string }>(res).message, query).toContain(field);
    }
  });

  it('lets admin and hq read everything, a store manager only its own location', async () => {
    expect((await list('', await hub.token('hq'))).items).toHaveLength(6);

    const manager = await hub.token('store_manager', 'store-a');
    expect(summary(await list('locationId=store-a', manager))).toEqual([
      'store-a SKU-1 receive',
      'store-a SKU-2 receive',
    ]);
    for (const query of ['', 'locationId=store-b', 'sku=SKU-1']) {
      const res = await hub.request({ method: 'GET', url: `/v1/movements?${query}`, token: manager });
      expect(res.statusCode, query).toBe(403);
      expect(res.body).toMatchObject({ code: 'forbidden' });
    }
    const channel = await hub.request({
      method: 'GET',
      url: '/v1/movements',
      token: await hub.token('channel'),
    });
    expect(channel.statusCode).toBe(403);
    const till = await enrolDevice(hub, 'store-a');
    const device = await hub.request({
      method: 'GET',
      url: '/v1/movements?locationId=store-a',
      token: till.token,
    });
    expect(device.statusCode).toBe(403);
    expect((await hub.request({ method: 'GET', url: '/v1/movements', token: null })).statusCode).toBe(401);
  });
});
