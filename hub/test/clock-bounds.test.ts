import { encodeHlc, HybridClock, newOpId, parseHlc, type TillOp } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { boundStamps } from '../src/sync/clock-bounds.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { authFor, connectRaw, enrolDevice, push, type RawTill } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

const DAY = 86_400_000;
const T0 = 1_764_000_000_000;

const count = (seq: number, hlc: string, counted: number): TillOp => ({
  type: 'count',
  opId: newOpId(),
  seq,
  hlc,
  locationId: 'paris',
  lines: [{ sku: 'LIP-RED', counted }],
});
const at = (wall: number, node = 'paris-1') => encodeHlc({ wall, counter: 0, node });

describe('boundStamps (no database)', () => {
  it('restamps only ops further ahead than the hub clock accepts, keeping the till’s order', () => {
    const hub = new HybridClock('hub', { now: () => T0, maxForwardDriftMs: 60_000 });
    const ops = [count(1, at(T0 - DAY), 1), count(2, at(T0 + 30_000), 2), count(3, at(T0 + 30 * DAY), 3)];
    const { ops: bounded, restamped } = boundStamps(ops, hub);
    expect(bounded.slice(0, 2)).toEqual(ops.slice(0, 2)); // old (offline) and slightly ahead: as sent
    expect(parseHlc(bounded[2]!.hlc)).toMatchObject({ wall: T0 + 30_000, node: 'hub' });
    expect(bounded[2]!.hlc > bounded[1]!.hlc).toBe(true);
    expect(restamped).toEqual([
      { opId: ops[2]!.opId, seq: 3, originalHlc: ops[2]!.hlc, hlc: bounded[2]!.hlc, aheadMs: 30 * DAY },
    ]);
    // The hub's clock took the stamp within bounds, not the one 30 days ahead.
    expect(parseHlc(hub.tick()).wall).toBe(T0 + 30_000);
  });
});

describe(`a till stamping ahead of the hub, on ${testDbKind()}`, () => {
  let hub: TestHub;
  let url: string;
  const sockets: RawTill[] = [];
  const onHand = async () =>
    (
      await hub.database.db.query<{ on_hand: number }>(
        "SELECT on_hand FROM stock WHERE location_id = 'paris' AND sku = 'LIP-RED'",
      )
    ).rows[0]?.on_hand;

  beforeEach(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'paris' }],
      products: [{ sku: 'LIP-RED' }],
      stock: [{ locationId: 'paris', sku: 'LIP-RED', onHand: 90 }],
    });
    url = await hub.listen();
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await hub.close();
  });

  it('a count stamped 30 days ahead absorbs nothing made after it: a receipt of +10 lands (110)', async () => {
    const device = await enrolDevice(hub, 'paris', 'paris-1');
    const { socket } = await connectRaw(url, authFor(device.token));
    sockets.push(socket);
    const ahead = at(Date.now() + 30 * DAY);
    const op = count(1, ahead, 100);
    const ack = await push(socket, [op]);
    expect(ack).toMatchObject({ ok: true, value: { lastAckedSeq: 1, results: [{ status: 'applied' }] } });
    expect(await onHand()).toBe(100);

    const receipt = await hub.request({
      method: 'POST',
      url: '/v1/locations/paris/receipts',
      payload: { lines: [{ sku: 'LIP-RED', qty: 10 }] },
    });
    expect(receipt.statusCode).toBe(201);
    expect(await onHand()).toBe(110);

    // The ledger holds the count at hub time; the conflict keeps what the till sent.
    const { rows } = await hub.database.db.query<{ reason: string; outcome: string; hlc: string }>(
      "SELECT reason, outcome, hlc FROM movements WHERE sku = 'LIP-RED' ORDER BY id",
    );
    expect(rows.map((r) => [r.reason, r.outcome])).toEqual([
      ['receive', 'applied'],
      ['count', 'applied'],
      ['receive', 'applied'],
    ]);
    for (const r of rows) expect(parseHlc(r.hlc).wall).toBeLessThan(Date.now() + 60_000);
    const conflicts = await hub.request({ method: 'GET', url: '/v1/conflicts?kind=clock_skew' });
    expect(conflicts.statusCode).toBe(200);
    const items = (conflicts.body as { items: Array<Record<string, unknown>> }).items;
    expect(items).toEqual([
      expect.objectContaining({
        kind: 'clock_skew',
        locationId: 'paris',
        opId: op.opId,
        status: 'open',
        details: {
          deviceId: 'paris-1',
          maxAheadMs: 60_000,
          ops: [
            {
              opId: op.opId,
              seq: 1,
              originalHlc: ahead,
              hlc: rows[1]!.hlc,
              aheadMs: expect.any(Number),
            },
          ],
        },
      }),
    ]);
    // Nor is the hub's own clock dragged ahead: the next till is greeted with hub time.
    const next = await connectRaw(url, authFor((await enrolDevice(hub, 'paris', 'paris-2')).token));
    sockets.push(next.socket);
    expect(parseHlc(next.hello.serverHlc).wall).toBeLessThan(Date.now() + 60_000);
    expect(await ledgerMismatches(hub.database.db)).toEqual([]);
  });

  it('a till’s ops keep their order when some are restamped: a count after a sale includes it', async () => {
    const device = await enrolDevice(hub, 'paris', 'paris-1');
    const { socket } = await connectRaw(url, authFor(device.token));
    sockets.push(socket);
    // A sale 50 s ahead (within bounds: kept), then the count made after it, from 30 days ahead.
    const sale = {
      type: 'sale',
      opId: newOpId(),
      seq: 1,
      hlc: at(Date.now() + 50_000),
      locationId: 'paris',
      receiptId: 'r-1',
      lines: [{ sku: 'LIP-RED', qty: 3, unitPriceMinor: 1000 }],
      payments: [{ method: 'card', amountMinor: 3000 }],
    };
    const ack = await push(socket, [sale, count(2, at(Date.now() + 30 * DAY), 100)]);
    expect(ack).toMatchObject({ ok: true, value: { lastAckedSeq: 2 } });
    // Restamped before the sale, the count would have the sale land on top: 97.
    expect(await onHand()).toBe(100);
  });
});
