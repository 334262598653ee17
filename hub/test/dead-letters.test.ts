import type { TillOpInput } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ledgerMismatches } from './helpers/fixtures.js';
import { type SocketHub, startSocketHub } from './helpers/socket-hub.js';
import { eventually, push, type RawTill } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

interface DeadLetterBody {
  id: number;
  seq: number;
  opId: string | null;
  code: string;
  status: 'open' | 'retried' | 'dismissed';
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolution: string | null;
}

describe(`dead letter retry and dismiss on ${testDbKind()}`, () => {
  let hub: SocketHub;

  beforeEach(async () => {
    hub = await startSocketHub({
      locations: [{ id: 'store-a' }, { id: 'store-b' }],
      products: [{ sku: 'LIP-1' }],
      stock: [{ locationId: 'store-a', sku: 'LIP-1', onHand: 10 }],
    });
  });
  afterEach(() => hub.close());

  /** Push ops and expect each answered with these statuses or reject codes. */
  async function pushExpecting(socket: RawTill, ops: TillOpInput[], outcomes: string[]): Promise<void> {
    const ack = await push(socket, ops);
    if (!ack.ok) throw new Error(JSON.stringify(ack));
    expect(ack.value.results.map((r) => (r.status === 'rejected' ? r.code : r.status))).toEqual(outcomes);
  }

  async function deadLetters(locationId = 'store-a'): Promise<DeadLetterBody[]> {
    const res = await hub.request({ method: 'GET', url: `/v1/sync/dead-letters?locationId=${locationId}` });
    expect(res.statusCode).toBe(200);
    return (res.body as { items: DeadLetterBody[] }).items;
  }

  const retry = (id: number, token?: string) =>
    hub.request({ method: 'POST', url: `/v1/sync/dead-letters/${id}/retry`, token });
  const dismiss = (id: number, payload: unknown, token?: string) =>
    hub.request({
      method: 'POST',
      url: `/v1/sync/dead-letters/${id}/dismiss`,
      payload: payload as object,
      token,
    });

  const onHand = async (locationId: string, sku: string) =>
    (
      await hub.database.db.query<{ on_hand: number }>(
        'SELECT on_hand FROM stock WHERE location_id = $1 AND sku = $2',
        [locationId, sku],
      )
    ).rows[0]?.on_hand;
  const ledgerEntries = async (opId: string) =>
    (
      await hub.database.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM movements WHERE op_id = $1',
        [opId],
      )
    ).rows[0]!.n;

  it('applies a sale of a SKU created since, once, and the tills of the store get the stock', async () => {
    const t = await hub.till('store-a');
    const other = await hub.till('store-a');
    const sale = t.ops.sale('NEW-1', 2);
    await pushExpecting(t.socket, [sale], ['unknown_sku']);
    const [letter] = await deadLetters();
    expect(letter).toMatchObject({ seq: 1, opId: sale.opId, code: 'unknown_sku', status: 'open' });

    // Nothing changed yet: still refused, with the current reason, and still open.
    const early = await retry(letter!.id);
    expect(early.statusCode).toBe(409);
    expect(early.body).toMatchObject({
      code: 'still_rejected',
      details: { code: 'unknown_sku', reason: 'unknown SKU NEW-1' },
    });
    expect((await deadLetters())[0]).toMatchObject({ status: 'open', resolvedAt: null });

    const created = await hub.request({
      method: 'POST',
      url: '/v1/products',
      payload: { sku: 'NEW-1', name: 'New lipstick', priceMinor: 1900 },
    });
    expect(created.statusCode).toBe(201);
    const received = await hub.request({
      method: 'POST',
      url: '/v1/locations/store-a/receipts',
      payload: { lines: [{ sku: 'NEW-1', qty: 5 }] },
    });
    expect(received.statusCode).toBe(201);
    const manager = await hub.token('store_manager', 'store-a');

    const res = await retry(letter!.id, manager);
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({
      id: letter!.id,
      status: 'retried',
      resolvedBy: `token:${manager.split('.')[1]}`,
      resolution: null,
    });
    expect(await onHand('store-a', 'NEW-1')).toBe(3);
    expect(await ledgerEntries(sale.opId)).toBe(1);
    const { rows: movement } = await hub.database.db.query<{ device_id: string; reference: string }>(
      'SELECT device_id, reference FROM movements WHERE op_id = $1',
      [sale.opId],
    );
    expect(movement).toEqual([
      { device_id: t.device.id, reference: sale.type === 'sale' ? sale.receiptId : '' },
    ]);
    // Both tills of the store hear of the row (the retry is nobody's push, so nobody is skipped).
    for (const x of [t, other]) {
      await eventually(() =>
        x.stock.some((p) => p.rows.some((r) => r.sku === 'NEW-1' && r.onHand === 3 && r.version === 2)),
      );
    }

    // Exactly once: a second retry, and the till resending that seq, change nothing.
    const twice = await retry(letter!.id);
    expect(twice.statusCode).toBe(409);
    expect(twice.body).toMatchObject({ code: 'already_resolved', details: { status: 'retried' } });
    await pushExpecting(t.socket, [sale], ['duplicate']);
    expect(await onHand('store-a', 'NEW-1')).toBe(3);
    expect(await ledgerEntries(sale.opId)).toBe(1);
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
    expect((await deadLetters())[0]).toMatchObject({
      status: 'retried',
      resolvedBy: `token:${manager.split('.')[1]}`,
    });
  });

  it('applies it once when two retries race', async () => {
    const t = await hub.till('store-a');
    const sale = t.ops.sale('NEW-2', 1);
    await pushExpecting(t.socket, [sale], ['unknown_sku']);
    await hub.database.db.query(`INSERT INTO products (sku, name, price_minor) VALUES ('NEW-2', 'New', 100)`);
    const [letter] = await deadLetters();

    const results = await Promise.all([retry(letter!.id), retry(letter!.id), retry(letter!.id)]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409, 409]);
    expect(await ledgerEntries(sale.opId)).toBe(1);
    expect(await onHand('store-a', 'NEW-2')).toBe(-1);
  });

  it('applies a transfer to a location created since (unknown_location), transfer record included', async () => {
    const t = await hub.till('store-a');
    const out = t.ops.other({
      type: 'transfer_out',
      transferId: 'tr-9',
      toLocationId: 'store-new',
      lines: [{ sku: 'LIP-1', qty: 4 }],
    });
    await pushExpecting(t.socket, [out], ['unknown_location']);
    const [letter] = await deadLetters();
    const created = await hub.request({
      method: 'POST',
      url: '/v1/locations',
      payload: { id: 'store-new', name: 'New store', kind: 'store' },
    });
    expect(created.statusCode).toBe(201);

    expect((await retry(letter!.id)).statusCode).toBe(200);
    expect(await onHand('store-a', 'LIP-1')).toBe(6);
    const transfer = await hub.request({ method: 'GET', url: '/v1/transfers/tr-9' });
    expect(transfer.body).toMatchObject({
      fromLocationId: 'store-a',
      toLocationId: 'store-new',
      status: 'in_transit',
    });
  });

  it('never applies what cannot pass: a reused op id, another store, a malformed op', async () => {
    const t = await hub.till('store-a');
    const first = t.ops.sale('LIP-1', 1);
    const reused = t.ops.sale('LIP-1', 5, { opId: first.opId });
    const elsewhere = t.ops.sale('LIP-1', 1, { locationId: 'store-b' });
    const malformed = t.ops.sale('LIP-1', 1, { lines: [{ sku: 'LIP-1', qty: 0, unitPriceMinor: 1 }] });
    await pushExpecting(
      t.socket,
      [first, reused, elsewhere, malformed],
      ['applied', 'op_id_reused', 'wrong_location', 'malformed'],
    );
    const letters = await deadLetters();
    expect(letters.map((d) => d.code)).toEqual(['op_id_reused', 'wrong_location', 'malformed']);

    for (const letter of letters) {
      const res = await retry(letter.id);
      expect(res.statusCode, letter.code).toBe(409);
      expect(res.body).toMatchObject({ code: 'still_rejected', details: { code: letter.code } });
    }
    expect(await ledgerEntries(first.opId)).toBe(1);
    expect(await onHand('store-a', 'LIP-1')).toBe(9);
    expect((await deadLetters()).map((d) => d.status)).toEqual(['open', 'open', 'open']);

    // A used id is refused as such before anything else (a later batch, another store's stock too).
    await pushExpecting(
      t.socket,
      [t.ops.sale('LIP-1', 1, { opId: first.opId, locationId: 'store-b' })],
      ['op_id_reused'],
    );
  });

  it('keeps an op id for the op that holds it: the retried first use applies, its reuse never', async () => {
    const t = await hub.till('store-a');
    const first = t.ops.sale('NEW-3', 1);
    const reused = t.ops.sale('LIP-1', 2, { opId: first.opId });
    const reusedElsewhere = t.ops.sale('LIP-1', 2, { opId: first.opId, locationId: 'store-b' });
    await pushExpecting(
      t.socket,
      [first, reused, reusedElsewhere],
      ['unknown_sku', 'op_id_reused', 'op_id_reused'],
    );
    await hub.database.db.query(`INSERT INTO products (sku, name, price_minor) VALUES ('NEW-3', 'New', 100)`);
    const [firstLetter, reusedLetter] = await deadLetters();

    const blocked = await retry(reusedLetter!.id);
    expect(blocked.statusCode).toBe(409);
    expect(blocked.body).toMatchObject({ code: 'still_rejected', details: { code: 'op_id_reused' } });
    expect((await retry(firstLetter!.id)).statusCode).toBe(200);
    expect((await retry(reusedLetter!.id)).body).toMatchObject({ code: 'still_rejected' });
    expect(await ledgerEntries(first.opId)).toBe(1);
    expect(await onHand('store-a', 'LIP-1')).toBe(10);
  });

  it('dismisses with a reason, once; a dismissed dead letter is never retried', async () => {
    const t = await hub.till('store-a');
    await pushExpecting(
      t.socket,
      [t.ops.sale('GONE-1', 1), t.ops.sale('GONE-2', 1)],
      ['unknown_sku', 'unknown_sku'],
    );
    const [a, b] = await deadLetters();
    const manager = await hub.token('store_manager', 'store-a');

    for (const bad of [{}, { reason: '' }, { reason: 'x'.repeat(501) }]) {
      expect((await dismiss(a!.id, bad, manager)).statusCode, JSON.stringify(bad)).toBe(400);
    }
    const res = await dismiss(a!.id, { reason: 'test product, never sold' }, manager);
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatchObject({
      status: 'dismissed',
      resolvedBy: `token:${manager.split('.')[1]}`,
      resolution: 'test product, never sold',
    });
    expect((await dismiss(a!.id, { reason: 'again' }, manager)).body).toMatchObject({
      code: 'already_resolved',
    });
    await hub.database.db.query(
      `INSERT INTO products (sku, name, price_minor) VALUES ('GONE-1', 'Back', 100)`,
    );
    const retried = await retry(a!.id, manager);
    expect(retried.statusCode).toBe(409);
    expect(retried.body).toMatchObject({ code: 'already_resolved', details: { status: 'dismissed' } });
    expect(await onHand('store-a', 'GONE-1')).toBeUndefined();

    const listed = await hub.request({
      method: 'GET',
      url: '/v1/sync/dead-letters?locationId=store-a&status=open',
    });
    expect((listed.body as { items: DeadLetterBody[] }).items.map((d) => d.id)).toEqual([b!.id]);
    expect((await dismiss(999_999, { reason: 'x' })).statusCode).toBe(404);
    expect((await retry(999_999)).statusCode).toBe(404);
  });

  it('lets only admin and the store manager of that location settle a dead letter (hq reads only)', async () => {
    const t = await hub.till('store-a');
    await pushExpecting(t.socket, [t.ops.sale('NOPE-1', 1)], ['unknown_sku']);
    const [letter] = await deadLetters();
    const managerB = await hub.token('store_manager', 'store-b');
    const channel = await hub.token('channel');
    const hq = await hub.token('hq');
    const listed = await hub.request({ method: 'GET', url: '/v1/sync/dead-letters', token: hq });
    expect((listed.body as { items: DeadLetterBody[] }).items.map((d) => d.id)).toEqual([letter!.id]);

    for (const token of [managerB, channel, hq]) {
      const r = await retry(letter!.id, token);
      expect(r.statusCode).toBe(403);
      expect(r.body).toMatchObject({ code: 'forbidden' });
      expect((await dismiss(letter!.id, { reason: 'not mine' }, token)).statusCode).toBe(403);
    }
    expect((await retry(letter!.id, t.device.token)).statusCode).toBe(403);
    expect((await retry(letter!.id, null as unknown as string)).statusCode).toBe(401);
    expect((await deadLetters())[0]).toMatchObject({ status: 'open' });

    const managerA = await hub.token('store_manager', 'store-a');
    expect((await dismiss(letter!.id, { reason: 'duplicate of a paper sale' }, managerA)).statusCode).toBe(
      200,
    );
  });
});
