import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SocketHub, startSocketHub } from './helpers/socket-hub.js';
import { push } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

interface ConflictBody {
  id: number;
  locationId: string;
  kind: string;
  sku: string | null;
  opId: string | null;
  details: Record<string, unknown>;
  status: 'open' | 'resolved';
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolution: string | null;
}
type ConflictPage = { items: ConflictBody[]; nextCursor: string | null };

const tokenId = (token: string) => token.split('.')[1];

describe(`conflicts triage on ${testDbKind()}`, () => {
  let hub: SocketHub;

  beforeEach(async () => {
    hub = await startSocketHub({
      locations: [{ id: 'store-a' }, { id: 'store-b' }],
      products: [{ sku: 'LIP-1' }, { sku: 'LIP-2' }],
      stock: [
        { locationId: 'store-a', sku: 'LIP-1', onHand: 1 },
        { locationId: 'store-b', sku: 'LIP-2', onHand: 1 },
      ],
    });
  });
  afterEach(() => hub.close());

  /** Three conflicts from real pushes, oldest first: two oversells and a pickup of an unknown order. */
  async function conflictsFromTills(): Promise<{ oversellA: string; oversellB: string; pickup: string }> {
    const a = await hub.till('store-a');
    const b = await hub.till('store-b');
    const saleA = a.ops.sale('LIP-1', 3);
    const saleB = b.ops.sale('LIP-2', 2);
    const pickup = a.ops.other({ type: 'pickup', orderId: 'ord_missing', lines: [{ sku: 'LIP-1', qty: 1 }] });
    for (const [t, op] of [
      [a, saleA],
      [b, saleB],
      [a, pickup],
    ] as const) {
      const ack = await push(t.socket, [op]);
      expect(ack.ok && ack.value.results[0]?.status).toBe('applied');
    }
    return { oversellA: saleA.opId, oversellB: saleB.opId, pickup: pickup.opId };
  }

  /** As admin unless a token is given (null: none). */
  const list = async (query: string, token?: string | null) =>
    hub.request({ method: 'GET', url: `/v1/conflicts${query}`, token });

  it('lists conflicts opened by real till pushes, newest first, with filters and keyset pages', async () => {
    const ops = await conflictsFromTills();
    const hq = await hub.token('hq');

    const all = await list('', hq);
    expect(all.statusCode).toBe(200);
    const items = (all.body as ConflictPage).items;
    expect(items.map((c) => [c.kind, c.locationId, c.sku, c.opId])).toEqual([
      ['pickup_mismatch', 'store-a', 'LIP-1', ops.pickup],
      ['oversell', 'store-b', 'LIP-2', ops.oversellB],
      ['oversell', 'store-a', 'LIP-1', ops.oversellA],
    ]);
    expect(items[2]).toMatchObject({
      status: 'open',
      resolvedAt: null,
      resolvedBy: null,
      resolution: null,
      details: { onHandAfter: -2 },
    });

    const kinds = async (query: string) =>
      ((await list(query, hq)).body as ConflictPage).items.map((c) => c.opId);
    expect(await kinds('?kind=oversell')).toEqual([ops.oversellB, ops.oversellA]);
    expect(await kinds('?locationId=store-a')).toEqual([ops.pickup, ops.oversellA]);
    expect(await kinds('?sku=LIP-2')).toEqual([ops.oversellB]);
    expect(await kinds('?status=resolved')).toEqual([]);
    expect(await kinds('?locationId=store-a&kind=oversell&status=open')).toEqual([ops.oversellA]);

    // One per page, every conflict once, in the same order.
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await list(`?limit=1${cursor ? `&cursor=${cursor}` : ''}`, hq);
      const p = res.body as ConflictPage;
      walked.push(...p.items.map((c) => c.opId ?? ''));
      cursor = p.nextCursor;
    } while (cursor);
    expect(walked).toEqual([ops.pickup, ops.oversellB, ops.oversellA]);

    expect((await list('?kind=nope', hq)).statusCode).toBe(400);
    expect((await list('?cursor=bm9wZQ', hq)).statusCode).toBe(400);
  });

  it('resolves once with a note, records who, and emits conflict.resolved', async () => {
    await conflictsFromTills();
    const hq = await hub.token('hq');
    const admin = hub.adminToken;
    const [newest] = ((await list('', hq)).body as ConflictPage).items;
    const resolve = (id: number, payload: unknown, token = admin) =>
      hub.request({ method: 'POST', url: `/v1/conflicts/${id}/resolve`, payload: payload as object, token });

    const res = await resolve(newest!.id, { note: 'order was collected on paper; stock recounted' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({
      id: newest!.id,
      status: 'resolved',
      resolvedBy: `token:${tokenId(admin)}`,
      resolution: 'order was collected on paper; stock recounted',
    });
    expect(Date.parse((res.body as ConflictBody).resolvedAt ?? '')).toBeGreaterThan(Date.now() - 60_000);

    const { rows: events } = await hub.database.db.query<{
      location_id: string;
      payload: Record<string, unknown>;
    }>(`SELECT location_id, payload FROM events WHERE type = 'conflict.resolved'`);
    expect(events).toEqual([
      {
        location_id: 'store-a',
        payload: expect.objectContaining({
          id: newest!.id,
          kind: 'pickup_mismatch',
          resolvedBy: `token:${tokenId(admin)}`,
          resolution: 'order was collected on paper; stock recounted',
        }),
      },
    ]);

    const again = await resolve(newest!.id, { note: 'twice' });
    expect(again.statusCode).toBe(409);
    expect(again.body).toMatchObject({ code: 'already_resolved' });
    expect(
      (await hub.database.db.query(`SELECT 1 FROM events WHERE type = 'conflict.resolved'`)).rows,
    ).toHaveLength(1);

    expect(((await list('?status=resolved', hq)).body as ConflictPage).items.map((c) => c.id)).toEqual([
      newest!.id,
    ]);
    expect(((await list('?status=open', hq)).body as ConflictPage).items).toHaveLength(2);

    const other = ((await list('?status=open', hq)).body as ConflictPage).items[0]!.id;
    for (const bad of [
      {},
      { note: '' },
      { note: '   ' },
      { note: 'x'.repeat(501) },
      { note: 'ok', extra: 1 },
    ]) {
      const r = await resolve(other, bad);
      expect(r.statusCode, JSON.stringify(bad)).toBe(400);
      expect(r.body).toMatchObject({ code: 'invalid_request' });
    }
    expect((await resolve(other, { note: 'x'.repeat(500) })).statusCode).toBe(200);
    expect((await resolve(999_999, { note: 'nothing' })).statusCode).toBe(404);
    expect((await resolve(0, { note: 'nothing' })).statusCode).toBe(400);
  });

  it('keeps a store manager to its own location, hq to reading, and channels out', async () => {
    await conflictsFromTills();
    const managerA = await hub.token('store_manager', 'store-a');

    const own = await list('', managerA);
    expect(own.statusCode).toBe(200);
    expect(new Set((own.body as ConflictPage).items.map((c) => c.locationId))).toEqual(new Set(['store-a']));
    expect((await list('?locationId=store-a', managerA)).statusCode).toBe(200);
    const foreign = await list('?locationId=store-b', managerA);
    expect(foreign.statusCode).toBe(403);
    expect(foreign.body).toMatchObject({ code: 'forbidden' });

    const [atB] = ((await list('?locationId=store-b')).body as ConflictPage).items;
    const [atA] = ((await list('?locationId=store-a')).body as ConflictPage).items;
    const resolve = (id: number, token: string) =>
      hub.request({
        method: 'POST',
        url: `/v1/conflicts/${id}/resolve`,
        payload: { note: 'checked' },
        token,
      });
    expect((await resolve(atB!.id, managerA)).statusCode).toBe(403);
    expect((await list('?locationId=store-b&status=open')).body as ConflictPage).toMatchObject({
      items: [{ id: atB!.id, status: 'open' }],
    });
    expect((await resolve(atA!.id, managerA)).statusCode).toBe(200);

    const channel = await hub.token('channel');
    expect((await list('', channel)).statusCode).toBe(403);
    expect((await resolve(atB!.id, channel)).statusCode).toBe(403);
    // hq reads every conflict but settles none.
    const hq = await hub.token('hq');
    expect((await list('?locationId=store-b', hq)).statusCode).toBe(200);
    const byHq = await resolve(atB!.id, hq);
    expect(byHq.statusCode).toBe(403);
    expect(byHq.body).toMatchObject({ code: 'forbidden' });
    expect((await list('', null)).statusCode).toBe(401);
  });
});
