import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { enrolDevice } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

interface TransferBody {
  id: string;
  fromLocationId: string;
  toLocationId: string;
  status: string;
  reference: string | null;
  receivedAt: string | null;
  lines: Array<{ sku: string; qty: number; receivedQty: number }>;
}

const json = <T>(res: { body: unknown }): T => res.body as T;

describe(`transfers between locations on ${testDbKind()}`, () => {
  let hub: TestHub;
  let db: Database;
  beforeEach(async () => {
    hub = await buildTestHub();
    db = hub.database.db;
    await seedCatalog(db, {
      locations: [{ id: 'warehouse', kind: 'warehouse' }, { id: 'store-a' }, { id: 'store-b' }],
      products: [{ sku: 'SKU-1' }, { sku: 'SKU-2' }],
      stock: [
        { locationId: 'warehouse', sku: 'SKU-1', onHand: 20 },
        { locationId: 'warehouse', sku: 'SKU-2', onHand: 10 },
      ],
    });
  });
  afterEach(async () => {
    expect(await ledgerMismatches(db)).toEqual([]);
    await hub.close();
  });

  async function stock(locationId: string, sku: string) {
    const { rows } = await db.query<{ on_hand: number; incoming: number }>(
      'SELECT on_hand, incoming FROM stock WHERE location_id = $1 AND sku = $2',
      [locationId, sku],
    );
    const row = rows[0];
    return { onHand: row?.on_hand ?? 0, incoming: row?.incoming ?? 0 };
  }

  /** Everything a failed request must leave untouched. */
  async function snapshot() {
    const { rows } = await db.query(
      `SELECT (SELECT count(*) FROM movements)::int AS movements,
              (SELECT count(*) FROM transfers)::int AS transfers,
              (SELECT json_agg(t ORDER BY t.transfer_id, t.sku) FROM transfer_lines t) AS lines,
              (SELECT json_agg(s.status ORDER BY s.id) FROM transfers s) AS statuses,
              (SELECT json_agg(json_build_array(location_id, sku, on_hand, incoming, version)
                 ORDER BY location_id, sku) FROM stock) AS stock`,
    );
    return rows[0];
  }

  const ship = (payload: object, token?: string | null) =>
    hub.request({ method: 'POST', url: '/v1/transfers', payload, token });
  const receive = (id: string, payload?: object, token?: string | null) =>
    hub.request({ method: 'POST', url: `/v1/transfers/${id}/receive`, payload, token });

  async function shipFive(): Promise<TransferBody> {
    const res = await ship({
      fromLocationId: 'warehouse',
      toLocationId: 'store-a',
      lines: [{ sku: 'SKU-1', qty: 5 }],
    });
    expect(res.statusCode).toBe(201);
    return json<TransferBody>(res);
  }

  it('ships 5 from the warehouse: warehouse on_hand -5, store incoming +5, in transit', async () => {
    const res = await ship({
      fromLocationId: 'warehouse',
      toLocationId: 'store-a',
      reference: 'DN-1001',
      lines: [
        { sku: 'SKU-1', qty: 5 },
        { sku: 'SKU-2', qty: 2 },
      ],
    });
    expect(res.statusCode).toBe(201);
    const transfer = json<TransferBody>(res);
    expect(transfer.id).toMatch(/^tr_[A-Za-z0-9_-]{12}$/);
    expect(transfer).toMatchObject({
      fromLocationId: 'warehouse',
      toLocationId: 'store-a',
      status: 'in_transit',
      reference: 'DN-1001',
      receivedAt: null,
      lines: [
        { sku: 'SKU-1', qty: 5, receivedQty: 0 },
        { sku: 'SKU-2', qty: 2, receivedQty: 0 },
      ],
    });
    expect(await stock('warehouse', 'SKU-1')).toEqual({ onHand: 15, incoming: 0 });
    expect(await stock('warehouse', 'SKU-2')).toEqual({ onHand: 8, incoming: 0 });
    expect(await stock('store-a', 'SKU-1')).toEqual({ onHand: 0, incoming: 5 });
    expect(await stock('store-a', 'SKU-2')).toEqual({ onHand: 0, incoming: 2 });

    // One op, four ledger entries, all pointing at the transfer.
    const ledger = await hub.request({
      method: 'GET',
      url: `/v1/movements?opId=${await opIdOf(transfer.id)}`,
    });
    expect(ledger.statusCode).toBe(200);
    const items = json<{ items: Array<Record<string, unknown>> }>(ledger).items;
    expect(items.map((m) => [m.locationId, m.sku, m.reason, m.reference])).toEqual(
      expect.arrayContaining([
        ['warehouse', 'SKU-1', 'transfer_out', transfer.id],
        ['warehouse', 'SKU-2', 'transfer_out', transfer.id],
        ['store-a', 'SKU-1', 'transfer_incoming', transfer.id],
        ['store-a', 'SKU-2', 'transfer_incoming', transfer.id],
      ]),
    );
    expect(items).toHaveLength(4);

    const read = await hub.request({ method: 'GET', url: `/v1/transfers/${transfer.id}` });
    expect(read.statusCode).toBe(200);
    expect(read.body).toEqual(transfer);
  });

  async function opIdOf(transferId: string): Promise<string> {
    const { rows } = await db.query<{ op_id: string }>(
      "SELECT DISTINCT op_id FROM movements WHERE reference = $1 AND op_type = 'transfer_out'",
      [transferId],
    );
    expect(rows).toHaveLength(1);
    return rows[0]?.op_id ?? '';
  }

  it('receives 3 then the rest: partially_received, then received', async () => {
    const transfer = await shipFive();

    const first = await receive(transfer.id, { lines: [{ sku: 'SKU-1', qty: 3 }] });
    expect(first.statusCode).toBe(200);
    expect(first.body).toMatchObject({
      status: 'partially_received',
      receivedAt: null,
      lines: [{ sku: 'SKU-1', qty: 5, receivedQty: 3 }],
    });
    expect(await stock('store-a', 'SKU-1')).toEqual({ onHand: 3, incoming: 2 });
    expect(await stock('warehouse', 'SKU-1')).toEqual({ onHand: 15, incoming: 0 });

    // No body: everything still outstanding.
    const rest = await receive(transfer.id);
    expect(rest.statusCode).toBe(200);
    expect(rest.body).toMatchObject({
      status: 'received',
      lines: [{ sku: 'SKU-1', qty: 5, receivedQty: 5 }],
    });
    expect(json<TransferBody>(rest).receivedAt).toEqual(expect.any(String));
    expect(await stock('store-a', 'SKU-1')).toEqual({ onHand: 5, incoming: 0 });

    const { rows } = await db.query<{ reason: string; d_on_hand: number; d_incoming: number }>(
      `SELECT reason, d_on_hand, d_incoming FROM movements
       WHERE location_id = 'store-a' AND reference = $1 ORDER BY id`,
      [transfer.id],
    );
    expect(rows).toEqual([
      { reason: 'transfer_incoming', d_on_hand: 0, d_incoming: 5 },
      { reason: 'transfer_in', d_on_hand: 3, d_incoming: -3 },
      { reason: 'transfer_in', d_on_hand: 2, d_incoming: -2 },
    ]);
  });

  it('refuses an over-receipt with 409 and writes nothing', async () => {
    const transfer = await shipFive();
    await receive(transfer.id, { lines: [{ sku: 'SKU-1', qty: 3 }] });
    const before = await snapshot();

    const over = await receive(transfer.id, { lines: [{ sku: 'SKU-1', qty: 3 }] });
    expect(over.statusCode).toBe(409);
    expect(over.body).toMatchObject({
      code: 'over_receipt',
      details: { transfer: transfer.id, lines: [{ sku: 'SKU-1', requested: 3, outstanding: 2 }] },
    });

    // A SKU that was never shipped has nothing outstanding.
    const stranger = await receive(transfer.id, {
      lines: [
        { sku: 'SKU-1', qty: 1 },
        { sku: 'SKU-2', qty: 1 },
      ],
    });
    expect(stranger.statusCode).toBe(409);
    expect(stranger.body).toMatchObject({
      code: 'over_receipt',
      details: { lines: [{ sku: 'SKU-2', requested: 1, outstanding: 0 }] },
    });
    expect(await snapshot()).toEqual(before);
    expect(await stock('store-a', 'SKU-1')).toEqual({ onHand: 3, incoming: 2 });
  });

  it('refuses to receive a fully received transfer again (409)', async () => {
    const transfer = await shipFive();
    expect((await receive(transfer.id, {})).statusCode).toBe(200);
    const before = await snapshot();
    for (const payload of [{}, { lines: [{ sku: 'SKU-1', qty: 1 }] }]) {
      const again = await receive(transfer.id, payload);
      expect(again.statusCode).toBe(409);
      expect(again.body).toMatchObject({ code: 'already_received' });
    }
    expect(await snapshot()).toEqual(before);
  });

  it('settles two receipts racing for the same units: one wins, the other gets 409', async () => {
    const transfer = await shipFive();
    const results = await Promise.all([receive(transfer.id), receive(transfer.id)]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    expect(await stock('store-a', 'SKU-1')).toEqual({ onHand: 5, incoming: 0 });
  });

  it('lets only the source ship and only the destination receive', async () => {
    const before = await snapshot();
    const payload = {
      fromLocationId: 'warehouse',
      toLocationId: 'store-a',
      lines: [{ sku: 'SKU-1', qty: 5 }],
    };
    const destinationManager = await hub.token('store_manager', 'store-a');
    const refused = await ship(payload, destinationManager);
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toMatchObject({ code: 'forbidden' });
    for (const role of ['hq', 'channel'] as const) {
      expect((await ship(payload, await hub.token(role))).statusCode).toBe(403);
    }
    expect((await ship(payload, (await enrolDevice(hub, 'warehouse')).token)).statusCode).toBe(403);
    expect((await ship(payload, null)).statusCode).toBe(401);
    expect(await snapshot()).toEqual(before);

    const sourceManager = await hub.token('store_manager', 'warehouse');
    const shipped = await ship(payload, sourceManager);
    expect(shipped.statusCode).toBe(201);
    const { id } = json<TransferBody>(shipped);
    const afterShip = await snapshot();

    expect((await receive(id, {}, sourceManager)).statusCode).toBe(403);
    expect((await receive(id, {}, await hub.token('store_manager', 'store-b'))).statusCode).toBe(403);
    expect(await snapshot()).toEqual(afterShip);
    expect((await receive(id, {}, destinationManager)).statusCode).toBe(200);
    expect(await stock('store-a', 'SKU-1')).toEqual({ onHand: 5, incoming: 0 });
  });

  it('rejects bad input with 400 naming the field, unknown things with 404, and writes nothing', async () => {
    const before = await snapshot();
    const line = [{ sku: 'SKU-1', qty: 1 }];
    const cases: Array<[object, string]> = [
      [{ fromLocationId: 'warehouse', toLocationId: 'warehouse', lines: line }, 'body.toLocationId'],
      [{ fromLocationId: 'warehouse', toLocationId: 'store-a', lines: [] }, 'body.lines'],
      [{ fromLocationId: 'warehouse', toLocationId: 'store-a', lines: [...line, ...line] }, 'body.lines'],
      [
        { fromLocationId: 'warehouse', toLocationId: 'store-a', lines: [{ sku: 'SKU-1', qty: 0 }] },
        'body.lines.0.qty',
      ],
      [
        { fromLocationId: 'warehouse', toLocationId: 'store-a', lines: [{ sku: 'SKU-1', qty: 1.5 }] },
        'body.lines.0.qty',
      ],
      [{ fromLocationId: 'warehouse', lines: line }, 'body.toLocationId'],
      [{ fromLocationId: 'warehouse', toLocationId: 'store-a', lines: line, id: 'no spaces' }, 'body.id'],
      [{ fromLocationId: 'warehouse', toLocationId: 'store-a', lines: line, color: 'red' }, 'body'],
    ];
    for (const [payload, field] of cases) {
      const res = await ship(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(json<{ message: string }>(res).message).toContain(field);
    }

    const unknownLocation = await ship({ fromLocationId: 'warehouse', toLocationId: 'store-z', lines: line });
    expect(unknownLocation.statusCode).toBe(404);
    expect(unknownLocation.body).toMatchObject({ code: 'not_found', details: { location: 'store-z' } });
    const unknownSku = await ship({
      fromLocationId: 'warehouse',
      toLocationId: 'store-a',
      lines: [...line, { sku: 'SKU-404', qty: 1 }],
    });
    expect(unknownSku.statusCode).toBe(404);
    expect(unknownSku.body).toMatchObject({ code: 'not_found', details: { product: 'SKU-404' } });
    expect((await receive('tr_missing', {})).statusCode).toBe(404);
    expect((await receive('tr_missing', { lines: [{ sku: 'SKU-1', qty: -1 }] })).statusCode).toBe(400);
    expect(await snapshot()).toEqual(before);
  });

  it('takes a client-chosen id once (409 on reuse, nothing written)', async () => {
    const payload = {
      id: 'DN-2024-001',
      fromLocationId: 'warehouse',
      toLocationId: 'store-a',
      lines: [{ sku: 'SKU-1', qty: 4 }],
    };
    const first = await ship(payload);
    expect(first.statusCode).toBe(201);
    expect(first.body).toMatchObject({ id: 'DN-2024-001' });
    const before = await snapshot();
    const again = await ship(payload);
    expect(again.statusCode).toBe(409);
    expect(again.body).toMatchObject({ code: 'already_exists', details: { field: 'id' } });
    expect(await snapshot()).toEqual(before);
    expect(await stock('warehouse', 'SKU-1')).toEqual({ onHand: 16, incoming: 0 });
  });

  it('lists transfers by filter and page; a store manager sees only its own', async () => {
    const shipped: string[] = [];
    for (const [from, to] of [
      ['warehouse', 'store-a'],
      ['warehouse', 'store-b'],
      ['warehouse', 'store-a'],
      ['store-a', 'store-b'],
      ['warehouse', 'store-b'],
    ]) {
      const res = await ship({ fromLocationId: from, toLocationId: to, lines: [{ sku: 'SKU-1', qty: 1 }] });
      expect(res.statusCode).toBe(201);
      shipped.push(json<TransferBody>(res).id);
    }
    await receive(shipped[0] ?? '', {});

    const list = async (query: string, token?: string) => {
      const res = await hub.request({ method: 'GET', url: `/v1/transfers?${query}`, token });
      expect(res.statusCode, query).toBe(200);
      return json<{ items: TransferBody[]; nextCursor: string | null }>(res);
    };
    const ids = (page: { items: TransferBody[] }) => page.items.map((t) => t.id);

    expect(ids(await list(''))).toEqual(shipped);
    expect(ids(await list('order=desc'))).toEqual([...shipped].reverse());
    expect(ids(await list('toLocationId=store-b'))).toEqual([shipped[1], shipped[3], shipped[4]]);
    expect(ids(await list('fromLocationId=store-a'))).toEqual([shipped[3]]);
    expect(ids(await list('status=received'))).toEqual([shipped[0]]);
    expect(ids(await list('status=in_transit&toLocationId=store-a'))).toEqual([shipped[2]]);

    // Pages of two walk the whole list without gaps or repeats, both ways.
    for (const order of ['asc', 'desc']) {
      const walked: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await list(`limit=2&order=${order}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.items.length).toBeLessThanOrEqual(2);
        walked.push(...ids(page));
        cursor = page.nextCursor;
      } while (cursor);
      expect(walked).toEqual(order === 'asc' ? shipped : [...shipped].reverse());
    }

    const manager = await hub.token('store_manager', 'store-a');
    expect(ids(await list('', manager))).toEqual([shipped[0], shipped[2], shipped[3]]);
    expect(ids(await list('toLocationId=store-b', manager))).toEqual([shipped[3]]);
    const own = await hub.request({ method: 'GET', url: `/v1/transfers/${shipped[0]}`, token: manager });
    expect(own.statusCode).toBe(200);
    const other = await hub.request({ method: 'GET', url: `/v1/transfers/${shipped[1]}`, token: manager });
    expect(other.statusCode).toBe(403);
    expect(ids(await list('', await hub.token('hq')))).toEqual(shipped);

    const channel = await hub.request({
      method: 'GET',
      url: '/v1/transfers',
      token: await hub.token('channel'),
    });
    expect(channel.statusCode).toBe(403);
    expect((await hub.request({ method: 'GET', url: '/v1/transfers/tr_missing' })).statusCode).toBe(404);
    for (const query of ['status=lost', 'order=sideways', 'cursor=garbage', 'limit=0', 'colour=red']) {
      const res = await hub.request({ method: 'GET', url: `/v1/transfers?${query}` });
      expect(res.statusCode, query).toBe(400);
    }
    const { nextCursor } = await list('limit=2');
    const replayed = await hub.request({
      method: 'GET',
      url: `/v1/transfers?order=desc&cursor=${nextCursor}`,
    });
    expect(replayed.statusCode).toBe(400);
    expect(replayed.body).toMatchObject({ details: { field: 'cursor' } });
  });
});
