import {
  HybridClock,
  newOpId,
  stockChecksum,
  type TillOpInput,
  upgradeHeaders,
} from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import {
  authFor,
  checksum,
  connectRaw,
  enrolDevice,
  eventually,
  pull,
  push,
  type RawTill,
} from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

/** Ops as a till would make them: its own seq and HLC. */
function opMaker(deviceId: string, locationId: string) {
  const clock = new HybridClock(deviceId);
  let seq = 0;
  return {
    sale(sku: string, qty: number, over: Partial<TillOpInput> = {}): TillOpInput {
      seq += 1;
      return {
        type: 'sale',
        opId: newOpId(),
        seq,
        hlc: clock.tick(),
        locationId,
        receiptId: `r-${seq}`,
        lines: [{ sku, qty, unitPriceMinor: 1000 }],
        payments: [{ method: 'card', amountMinor: 1000 * qty }],
        ...over,
      } as TillOpInput;
    },
    /** Any other op type, stamped like the rest. */
    other(body: Record<string, unknown>): TillOpInput {
      seq += 1;
      return { opId: newOpId(), seq, hlc: clock.tick(), locationId, ...body } as TillOpInput;
    },
    count(sku: string, counted: number): TillOpInput {
      seq += 1;
      return {
        type: 'count',
        opId: newOpId(),
        seq,
        hlc: clock.tick(),
        locationId,
        lines: [{ sku, counted }],
      };
    },
  };
}

describe(`sync protocol on ${testDbKind()} (real sockets)`, () => {
  let hub: TestHub;
  let url: string;
  const sockets: RawTill[] = [];
  const onHand = async (locationId: string, sku: string) =>
    (
      await hub.database.db.query<{ on_hand: number }>(
        'SELECT on_hand FROM stock WHERE location_id = $1 AND sku = $2',
        [locationId, sku],
      )
    ).rows[0]?.on_hand;
  const movementCount = async () =>
    (await hub.database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM movements')).rows[0]!.n;

  beforeEach(async () => {
    hub = await buildTestHub();
    url = await hub.listen();
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'store-a' }, { id: 'store-b' }],
      products: [{ sku: 'LIP-1' }, { sku: 'LIP-2' }],
      stock: [
        { locationId: 'store-a', sku: 'LIP-1', onHand: 10 },
        { locationId: 'store-a', sku: 'LIP-2', onHand: 4 },
        { locationId: 'store-b', sku: 'LIP-1', onHand: 7 },
      ],
    });
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await hub.close();
  });

  async function till(locationId: string, id?: string) {
    const device = await enrolDevice(hub, locationId, id);
    const conn = await connectRaw(url, authFor(device.token));
    sockets.push(conn.socket);
    return { ...conn, device, ops: opMaker(device.id, locationId) };
  }

  it('greets a till with its location, last acked seq and stock cursor', async () => {
    const t = await till('store-a', 'till-a1');
    expect(t.hello).toMatchObject({
      deviceId: 'till-a1',
      locationId: 'store-a',
      lastAckedSeq: 0,
      stockCursor: '2',
    });
    expect(Math.abs(t.hello.serverTime - Date.now())).toBeLessThan(5000);
  });

  it('applies a batch, acks per op, and answers a resend with the same results without applying twice', async () => {
    const t = await till('store-a');
    const batch = [t.ops.sale('LIP-1', 2), t.ops.sale('LIP-2', 1)];
    const first = await push(t.socket, batch);
    expect(first).toEqual({
      ok: true,
      value: {
        lastAckedSeq: 2,
        results: [
          { seq: 1, opId: batch[0]!.opId, status: 'applied' },
          { seq: 2, opId: batch[1]!.opId, status: 'applied' },
        ],
        // The pushing till gets its rows in the ack (the broadcast skips it).
        stock: [
          {
            fromCursor: '2',
            cursor: '4',
            rows: [
              expect.objectContaining({ sku: 'LIP-1', onHand: 8, version: 2 }),
              expect.objectContaining({ sku: 'LIP-2', onHand: 3, version: 2 }),
            ],
          },
        ],
      },
    });
    const movements = await movementCount();
    const resend = await push(t.socket, batch);
    expect(resend.ok && resend.value.results.map((r) => r.status)).toEqual(['duplicate', 'duplicate']);
    expect(resend.ok && resend.value.lastAckedSeq).toBe(2);
    expect(await movementCount()).toBe(movements);
    expect(await onHand('store-a', 'LIP-1')).toBe(8);
    expect(await onHand('store-a', 'LIP-2')).toBe(3);
  });

  it('refuses a seq gap until it is filled, without applying or acking past it', async () => {
    const t = await till('store-a');
    const [s1, s2, s3] = [t.ops.sale('LIP-1', 1), t.ops.sale('LIP-1', 1), t.ops.sale('LIP-1', 1)];
    const gap = await push(t.socket, [s2!, s3!]);
    expect(gap.ok && gap.value).toEqual({
      lastAckedSeq: 0,
      results: [
        {
          seq: 2,
          opId: s2!.opId,
          status: 'rejected',
          code: 'seq_gap',
          reason: 'expected seq 1 before seq 2',
        },
        {
          seq: 3,
          opId: s3!.opId,
          status: 'rejected',
          code: 'seq_gap',
          reason: 'expected seq 1 before seq 3',
        },
      ],
      stock: [],
    });
    expect(await onHand('store-a', 'LIP-1')).toBe(10);
    const filled = await push(t.socket, [s1!, s2!, s3!]);
    expect(filled.ok && filled.value.lastAckedSeq).toBe(3);
    expect(await onHand('store-a', 'LIP-1')).toBe(7);
  });

  it('rejects bad ops with a reason, dead-letters them, and never blocks the ops behind them', async () => {
    const t = await till('store-a', 'till-a1');
    const unknownSku = t.ops.sale('NOPE-9', 1);
    const otherStore = t.ops.sale('LIP-1', 1, { locationId: 'store-b' });
    const malformed = { ...t.ops.sale('LIP-1', 1), lines: [{ sku: 'LIP-1', qty: -3, unitPriceMinor: 1 }] };
    const good = t.ops.sale('LIP-1', 2);
    const ack = await push(t.socket, [unknownSku, otherStore, malformed, good]);
    expect(ack.ok && ack.value.lastAckedSeq).toBe(4);
    expect(ack.ok && ack.value.results.map((r) => (r.status === 'rejected' ? r.code : r.status))).toEqual([
      'unknown_sku',
      'wrong_location',
      'malformed',
      'applied',
    ]);
    expect(await onHand('store-a', 'LIP-1')).toBe(8);
    expect(await onHand('store-b', 'LIP-1')).toBe(7);

    // A resend of a rejected op gets the same answer.
    const again = await push(t.socket, [malformed]);
    expect(again.ok && again.value.results[0]).toMatchObject({ status: 'rejected', code: 'malformed' });

    const dead = await hub.request({ method: 'GET', url: '/v1/sync/dead-letters?locationId=store-a' });
    expect(dead.statusCode).toBe(200);
    const items = (dead.body as { items: Array<{ seq: number; code: string; reason: string }> }).items;
    expect(items.map((d) => [d.seq, d.code])).toEqual([
      [1, 'unknown_sku'],
      [2, 'wrong_location'],
      [3, 'malformed'],
    ]);
    expect(items[2]!.reason).toBe('lines.0.qty: Too small: expected number to be >0');

    // A store manager's list is its own location's by default; another store's is refused.
    const b = await till('store-b', 'till-b1');
    await push(b.socket, [b.ops.sale('NOPE-9', 1)]);
    const asManager = async (url: string) =>
      hub.request({ method: 'GET', url, token: await hub.token('store_manager', 'store-a') });
    const own = await asManager('/v1/sync/dead-letters');
    expect(own.statusCode).toBe(200);
    expect((own.body as { items: Array<{ seq: number }> }).items.map((d) => d.seq)).toEqual([1, 2, 3]);
    expect((await asManager('/v1/sync/dead-letters?locationId=store-b')).statusCode).toBe(403);
    const all = await hub.request({ method: 'GET', url: '/v1/sync/dead-letters' });
    expect((all.body as { items: unknown[] }).items).toHaveLength(4);
  });

  it('detects a reused seq carrying a different op (a till whose data was wiped)', async () => {
    const t = await till('store-a');
    await push(t.socket, [t.ops.sale('LIP-1', 1)]);
    const fresh = opMaker(t.device.id, 'store-a').sale('LIP-1', 5);
    const ack = await push(t.socket, [fresh]);
    expect(ack.ok && ack.value.results[0]).toMatchObject({ status: 'rejected', code: 'seq_conflict' });
    expect(await onHand('store-a', 'LIP-1')).toBe(9);
  });

  it('pushes committed stock to every till of the location, and only that location', async () => {
    const a1 = await till('store-a');
    const a2 = await till('store-a');
    const b1 = await till('store-b');
    await push(a1.socket, [a1.ops.sale('LIP-1', 3)]);
    await eventually(() => a2.stock.length === 1);
    expect(a1.stock).toEqual([]);
    expect(a2.stock[0]).toMatchObject({
      fromCursor: '2',
      cursor: '3',
      rows: [{ locationId: 'store-a', sku: 'LIP-1', onHand: 7, version: 2 }],
    });
    // REST writes push too.
    const patched = await hub.request({
      method: 'POST',
      url: '/v1/locations/store-a/receipts',
      payload: { lines: [{ sku: 'LIP-2', qty: 6 }] },
    });
    expect(patched.statusCode).toBe(201);
    await eventually(() => a2.stock.length === 2);
    expect(a2.stock[1]!.rows[0]).toMatchObject({ sku: 'LIP-2', onHand: 10 });
    expect(b1.stock).toEqual([]);
  });

  it('lets a till that was away pull what it missed, and agrees on the checksum', async () => {
    const a1 = await till('store-a');
    await push(a1.socket, [a1.ops.sale('LIP-1', 1), a1.ops.count('LIP-2', 9)]);
    const page = await pull(a1.socket, '2');
    expect(page.ok && page.value).toMatchObject({ cursor: '4', more: false });
    expect(page.ok && page.value.rows.map((r) => [r.sku, r.onHand])).toEqual([
      ['LIP-1', 9],
      ['LIP-2', 9],
    ]);
    const all = await pull(a1.socket, '0');
    const sum = await checksum(a1.socket);
    expect(sum.ok && all.ok && sum.value).toEqual({
      checksum: all.ok ? stockChecksum(all.value.rows) : '',
      rows: 2,
      cursor: '4',
    });
  });

  it('refuses an unknown protocol version, a bad token, a second connection and oversize batches', async () => {
    const device = await enrolDevice(hub, 'store-a', 'till-x');
    await expect(connectRaw(url, { token: device.token, protocolVersion: 99 })).rejects.toMatchObject({
      data: { code: 'protocol_version' },
    });
    await expect(connectRaw(url, authFor('tsd.till-x.wrong-secret'))).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
    await expect(connectRaw(url, authFor(hub.adminToken))).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
    await expect(connectRaw(url, { nope: true }, upgradeHeaders(device.token))).rejects.toMatchObject({
      data: { code: 'malformed' },
    });
    const first = await connectRaw(url, authFor(device.token));
    sockets.push(first.socket);
    await expect(connectRaw(url, authFor(device.token))).rejects.toMatchObject({
      data: { code: 'device_in_use' },
    });

    const ops = opMaker('till-x', 'store-a');
    const tooMany = Array.from({ length: 501 }, () => ops.sale('LIP-1', 1));
    expect(await push(first.socket, tooMany)).toMatchObject({
      ok: false,
      error: { code: 'batch_too_large' },
    });
    expect(await push(first.socket, [{ no: 'seq' }])).toMatchObject({
      ok: false,
      error: { code: 'malformed' },
    });
    // The connection stays usable and nothing was applied.
    expect(await onHand('store-a', 'LIP-1')).toBe(10);
    const ok = await push(first.socket, [opMaker('till-x', 'store-a').sale('LIP-1', 1)]);
    expect(ok.ok && ok.value.lastAckedSeq).toBe(1);
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
  });

  it('records an offline oversell as applied with an open conflict', async () => {
    const a1 = await till('store-a');
    const a2 = await till('store-a');
    await push(a1.socket, [a1.ops.sale('LIP-2', 3)]);
    await push(a2.socket, [a2.ops.sale('LIP-2', 3)]);
    expect(await onHand('store-a', 'LIP-2')).toBe(-2);
    const { rows } = await hub.database.db.query<{ kind: string; sku: string }>(
      'SELECT kind, sku FROM conflicts',
    );
    expect(rows).toEqual([{ kind: 'oversell', sku: 'LIP-2' }]);
  });

  it('applies a reordered batch in seq order: the early op waits for the gap to fill', async () => {
    const t = await till('store-a');
    const [s1, s2] = [t.ops.sale('LIP-1', 1), t.ops.sale('LIP-1', 2)];
    const ack = await push(t.socket, [s2!, s1!]);
    expect(ack.ok && ack.value.results.map((r) => (r.status === 'rejected' ? r.code : r.status))).toEqual([
      'seq_gap',
      'applied',
    ]);
    expect(ack.ok && ack.value.lastAckedSeq).toBe(1);
    const again = await push(t.socket, [s1!, s2!]);
    expect(again.ok && again.value.results.map((r) => r.status)).toEqual(['duplicate', 'applied']);
    expect(await onHand('store-a', 'LIP-1')).toBe(7);
    expect(await movementCount()).toBe(3 + 2);
  });

  it('after a lost ack, hello tells the till what landed and the resend is absorbed as duplicates', async () => {
    const t = await till('store-a', 'till-lost');
    const batch = [t.ops.sale('LIP-1', 1), t.ops.sale('LIP-1', 1)];
    // Push and drop the connection before reading the ack.
    t.socket.emit('push', { ops: batch } as never, () => undefined);
    await eventually(async () => (await onHand('store-a', 'LIP-1')) === 8);
    t.socket.close();
    const back = await connectRaw(url, authFor(t.device.token));
    sockets.push(back.socket);
    expect(back.hello.lastAckedSeq).toBe(2);
    const resend = await push(back.socket, batch);
    expect(resend.ok && resend.value.results.map((r) => r.status)).toEqual(['duplicate', 'duplicate']);
    expect(await onHand('store-a', 'LIP-1')).toBe(8);
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
  });

  it('records a till-to-till transfer, and opens a conflict (not a failure) for a receipt that does not match', async () => {
    const a = await till('store-a');
    const b = await till('store-b');
    const out = a.ops.other({
      type: 'transfer_out',
      transferId: 'tr-1',
      toLocationId: 'store-b',
      lines: [{ sku: 'LIP-1', qty: 4 }],
    });
    expect((await push(a.socket, [out])).ok).toBe(true);
    const transfer = await hub.request({ method: 'GET', url: '/v1/transfers/tr-1' });
    expect(transfer.body).toMatchObject({
      status: 'in_transit',
      fromLocationId: 'store-a',
      toLocationId: 'store-b',
    });

    const inOp = b.ops.other({
      type: 'transfer_in',
      transferId: 'tr-1',
      fromLocationId: 'store-a',
      lines: [{ sku: 'LIP-1', qty: 4 }],
    });
    const tooMuch = b.ops.other({
      type: 'transfer_in',
      transferId: 'tr-1',
      fromLocationId: 'store-a',
      lines: [{ sku: 'LIP-1', qty: 1 }],
    });
    const ack = await push(b.socket, [inOp, tooMuch]);
    expect(ack.ok && ack.value.results.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect((await hub.request({ method: 'GET', url: '/v1/transfers/tr-1' })).body).toMatchObject({
      status: 'received',
    });
    // Both receipts moved stock (goods physically arrived); the extra unit is flagged.
    expect(await onHand('store-a', 'LIP-1')).toBe(6);
    expect(await onHand('store-b', 'LIP-1')).toBe(12);
    const { rows } = await hub.database.db.query<{ kind: string; location_id: string }>(
      'SELECT kind, location_id FROM conflicts',
    );
    expect(rows).toEqual([{ kind: 'transfer_mismatch', location_id: 'store-b' }]);
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
  });
});
