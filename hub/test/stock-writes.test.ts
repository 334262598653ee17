import { LIMITS } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { enrolDevice } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

interface Row {
  sku: string;
  onHand: number;
  damaged: number;
  available: number;
  version: number;
}
interface WriteResult {
  opId: string;
  rows: Row[];
}

const json = <T>(res: { body: unknown }): T => res.body as T;

describe(`receipts, adjustments and counts over REST on ${testDbKind()}`, () => {
  let hub: TestHub;
  let db: Database;
  beforeEach(async () => {
    hub = await buildTestHub();
    db = hub.database.db;
    await seedCatalog(db, {
      locations: [{ id: 'store-a' }, { id: 'store-b' }],
      products: [{ sku: 'CANDLE-1' }, { sku: 'CANDLE-2' }],
    });
  });
  afterEach(async () => {
    expect(await ledgerMismatches(db)).toEqual([]);
    await hub.close();
  });

  /** Everything a refused write must leave as it was. */
  async function snapshot() {
    const { rows } = await db.query(
      `SELECT (SELECT count(*) FROM movements)::int AS movements,
              (SELECT json_agg(json_build_array(location_id, sku, on_hand, damaged, version)
                 ORDER BY location_id, sku) FROM stock) AS stock`,
    );
    return rows[0];
  }

  const post = (path: string, payload: unknown, token?: string | null) =>
    hub.request({
      method: 'POST',
      url: `/v1/locations/${path}`,
      payload: payload as Record<string, unknown>,
      token,
    });

  const numbers = (res: { body: unknown }) =>
    json<WriteResult>(res).rows.map((r) => [r.sku, r.onHand, r.damaged, r.available, r.version]);

  it('receives a delivery, takes out shrink and damage, then counts the shelf', async () => {
    const receipt = await post('store-a/receipts', {
      reference: 'PO-1001',
      lines: [
        { sku: 'CANDLE-1', qty: 10 },
        { sku: 'CANDLE-2', qty: 4 },
      ],
    });
    expect(receipt.statusCode).toBe(201);
    expect(json<WriteResult>(receipt).opId).toMatch(/^[0-9a-f-]{36}$/);
    expect(numbers(receipt)).toEqual([
      ['CANDLE-1', 10, 0, 10, 1],
      ['CANDLE-2', 4, 0, 4, 1],
    ]);

    // Two candles walked out (shrink); one arrived cracked (damage moves it off the shelf).
    const shrink = await post('store-a/adjustments', {
      reason: 'shrink',
      lines: [{ sku: 'CANDLE-1', qty: 2 }],
    });
    expect(shrink.statusCode).toBe(201);
    expect(numbers(shrink)).toEqual([['CANDLE-1', 8, 0, 8, 2]]);
    const damage = await post('store-a/adjustments', {
      reason: 'damage',
      note: 'cracked glass',
      lines: [{ sku: 'CANDLE-1', qty: 1 }],
    });
    expect(numbers(damage)).toEqual([['CANDLE-1', 7, 1, 7, 3]]);

    // The cycle count finds 6 of CANDLE-1 and all 4 of CANDLE-2.
    const count = await post('store-a/counts', {
      lines: [
        { sku: 'CANDLE-1', counted: 6 },
        { sku: 'CANDLE-2', counted: 4 },
      ],
    });
    expect(count.statusCode).toBe(201);
    expect(numbers(count)).toEqual([
      ['CANDLE-1', 6, 1, 6, 4],
      ['CANDLE-2', 4, 0, 4, 2],
    ]);

    const { rows } = await db.query<{
      sku: string;
      reason: string;
      d_on_hand: number;
      reference: string | null;
    }>(`SELECT sku, reason, d_on_hand, reference FROM movements WHERE location_id = 'store-a' ORDER BY id`);
    expect(rows.map((r) => [r.sku, r.reason, r.d_on_hand, r.reference])).toEqual([
      ['CANDLE-1', 'receive', 10, 'PO-1001'],
      ['CANDLE-2', 'receive', 4, 'PO-1001'],
      ['CANDLE-1', 'adjust_shrink', -2, null],
      ['CANDLE-1', 'adjust_damage', -1, null],
      ['CANDLE-1', 'count', -1, null],
      ['CANDLE-2', 'count', 0, null],
    ]);

    const row = await hub.request({ method: 'GET', url: '/v1/locations/store-a/inventory/CANDLE-1' });
    expect(row.headers.etag).toBe('"4"');
  });

  it('records found units and disposes of damaged ones', async () => {
    await post('store-a/receipts', { lines: [{ sku: 'CANDLE-1', qty: 5 }] });
    await post('store-a/adjustments', { reason: 'damage', lines: [{ sku: 'CANDLE-1', qty: 2 }] });
    const found = await post('store-a/adjustments', {
      reason: 'found',
      lines: [{ sku: 'CANDLE-1', qty: 1 }],
    });
    expect(numbers(found)).toEqual([['CANDLE-1', 4, 2, 4, 3]]);
    const dispose = await post('store-a/adjustments', {
      reason: 'dispose',
      lines: [{ sku: 'CANDLE-1', qty: 2 }],
    });
    expect(numbers(dispose)).toEqual([['CANDLE-1', 4, 0, 4, 4]]);
  });

  it('records shrink beyond what is on hand as a negative row, not a refusal', async () => {
    const res = await post('store-a/adjustments', { reason: 'shrink', lines: [{ sku: 'CANDLE-2', qty: 3 }] });
    expect(res.statusCode).toBe(201);
    expect(numbers(res)).toEqual([['CANDLE-2', -3, 0, -3, 1]]);
  });

  it('writes nothing when a later line names an unknown SKU', async () => {
    await post('store-a/receipts', { lines: [{ sku: 'CANDLE-1', qty: 5 }] });
    const before = await snapshot();
    for (const path of ['store-a/receipts', 'store-a/adjustments']) {
      const res = await post(path, {
        reason: path.endsWith('adjustments') ? 'found' : undefined,
        lines: [
          { sku: 'CANDLE-1', qty: 1 },
          { sku: 'GHOST-9', qty: 1 },
        ],
      });
      expect(res.statusCode, path).toBe(404);
      expect(res.body).toMatchObject({ code: 'not_found', details: { product: 'GHOST-9' } });
    }
    const count = await post('store-a/counts', {
      lines: [
        { sku: 'CANDLE-1', counted: 0 },
        { sku: 'GHOST-9', counted: 1 },
      ],
    });
    expect(count.statusCode).toBe(404);
    expect(await snapshot()).toEqual(before);
  });

  it('answers bad input with 400 naming the field, 404 for unknown places, and writes nothing', async () => {
    await post('store-a/receipts', { lines: [{ sku: 'CANDLE-1', qty: 5 }] });
    const before = await snapshot();
    const line = { sku: 'CANDLE-1', qty: 1 };
    const tooMany = Array.from({ length: LIMITS.maxLinesPerOp + 1 }, () => line);
    const cases: Array<[string, unknown, number, string]> = [
      ['store-a/receipts', { lines: [{ sku: 'CANDLE-1', qty: 0 }] }, 400, 'body.lines.0.qty'],
      ['store-a/receipts', { lines: [{ sku: 'CANDLE-1', qty: -2 }] }, 400, 'body.lines.0.qty'],
      ['store-a/receipts', { lines: [{ sku: 'CANDLE-1', qty: 1.5 }] }, 400, 'body.lines.0.qty'],
      ['store-a/receipts', { lines: [{ sku: 'CANDLE-1', qty: 1_000_001 }] }, 400, 'body.lines.0.qty'],
      ['store-a/receipts', { lines: [{ sku: 'CANDLE-1', qty: '3' }] }, 400, 'body.lines.0.qty'],
      ['store-a/receipts', { lines: [line, { sku: 'CANDLE-2' }] }, 400, 'body.lines.1.qty'],
      ['store-a/receipts', { lines: [{ ...line, price: 3 }] }, 400, 'body.lines.0'],
      ['store-a/receipts', { lines: [line], supplier: 'x' }, 400, 'body'],
      ['store-a/receipts', { lines: [] }, 400, 'body.lines'],
      ['store-a/receipts', { lines: tooMany }, 400, 'body.lines'],
      ['store-a/receipts', { reference: '', lines: [line] }, 400, 'body.reference'],
      ['store-a/receipts', { lines: [{ sku: 'bad sku', qty: 1 }] }, 400, 'body.lines.0.sku'],
      ['store-a/adjustments', { reason: 'stolen', lines: [line] }, 400, 'body.reason'],
      ['store-a/adjustments', { lines: [line] }, 400, 'body.reason'],
      ['store-a/adjustments', { reason: 'shrink', note: 'x'.repeat(201), lines: [line] }, 400, 'body.note'],
      ['store-a/counts', { lines: [{ sku: 'CANDLE-1', counted: -1 }] }, 400, 'body.lines.0.counted'],
      ['store-a/counts', { lines: [{ sku: 'CANDLE-1', qty: 1 }] }, 400, 'body.lines.0'],
      [
        'store-a/counts',
        {
          lines: [
            { sku: 'CANDLE-1', counted: 1 },
            { sku: 'CANDLE-1', counted: 2 },
          ],
        },
        400,
        'body.lines',
      ],
      ['Store A/receipts', { lines: [line] }, 400, 'params.locationId'],
      ['nowhere/receipts', { lines: [line] }, 404, 'location "nowhere" does not exist'],
      ['nowhere/adjustments', { reason: 'found', lines: [line] }, 404, 'location "nowhere" does not exist'],
      [
        'nowhere/counts',
        { lines: [{ sku: 'CANDLE-1', counted: 1 }] },
        404,
        'location "nowhere" does not exist',
      ],
    ];
    for (const [path, payload, status, text] of cases) {
      const res = await post(path, payload);
      const label = `${path} ${JSON.stringify(payload).slice(0, 120)}`;
      expect(res.statusCode, label).toBe(status);
      expect(json<{ message: string }>(res).message, label).toContain(text);
    }
    const notJson = await hub.request({
      method: 'POST',
      url: '/v1/locations/store-a/receipts',
      payload: '{"lines": [',
      headers: { 'content-type': 'application/json' },
    });
    expect(notJson.statusCode).toBe(400);
    expect(await snapshot()).toEqual(before);
  });

  it('lets admins write anywhere and store managers only at their own location', async () => {
    const manager = await hub.token('store_manager', 'store-a');
    const own = await post('store-a/receipts', { lines: [{ sku: 'CANDLE-1', qty: 3 }] }, manager);
    expect(own.statusCode).toBe(201);
    const actor = await db.query<{ actor: string }>('SELECT actor FROM movements');
    expect(actor.rows[0]?.actor).toMatch(/^token:[0-9a-f]+$/);

    const before = await snapshot();
    const device = await enrolDevice(hub, 'store-a');
    const refused: Array<[string | null, number]> = [
      [await hub.token('store_manager', 'store-b'), 403],
      [await hub.token('hq'), 403],
      [await hub.token('channel'), 403],
      [device.token, 403],
      [null, 401],
      ['tsk.abc.def', 401],
    ];
    for (const [token, status] of refused) {
      for (const [path, payload] of [
        ['store-a/receipts', { lines: [{ sku: 'CANDLE-1', qty: 1 }] }],
        ['store-a/adjustments', { reason: 'shrink', lines: [{ sku: 'CANDLE-1', qty: 1 }] }],
        ['store-a/counts', { lines: [{ sku: 'CANDLE-1', counted: 0 }] }],
      ] as const) {
        const res = await post(path, payload, token);
        expect(res.statusCode, `${path} ${token}`).toBe(status);
        expect(res.body).toMatchObject({ code: status === 401 ? 'unauthorized' : 'forbidden' });
      }
    }
    expect(await snapshot()).toEqual(before);

    const elsewhere = await post('store-b/counts', { lines: [{ sku: 'CANDLE-2', counted: 9 }] });
    expect(elsewhere.statusCode).toBe(201);
    expect(numbers(elsewhere)).toEqual([['CANDLE-2', 9, 0, 9, 1]]);
  });
});
