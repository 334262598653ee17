import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CashierApi,
  CashierApiError,
  createCashierService,
  type TillState,
  watchTillState,
} from '../src/index.js';
import { type CashierTill, cashierTill } from './helpers/cashier-till.js';

/*
 * The CashierApi over a real till (SQLite on a temp dir) whose sync agent never connects: what the
 * cashier UI sees, whichever transport carries it. The hub-backed stock lookup is in
 * test/e2e/cashier-stock.test.ts.
 */

async function failure(promise: Promise<unknown>): Promise<CashierApiError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CashierApiError);
  return err as CashierApiError;
}

describe('the cashier service over a till', () => {
  let t: CashierTill;
  let api: CashierApi;
  const servers: Server[] = [];

  const open = (options: Parameters<typeof cashierTill>[0] = {}) => {
    t = cashierTill(options);
    api = createCashierService(t.till.cashier, t.agent);
  };
  afterEach(() => {
    t.close();
    for (const s of servers.splice(0)) s.close();
  });

  it('reports the till state for the status bar: identity, sync, outbox and pickups', async () => {
    open();
    expect(await api.state()).toEqual({
      deviceId: 'paris-1',
      locationId: 'paris',
      online: false,
      syncState: 'stopped',
      lastError: null,
      outboxDepth: 0,
      oldestUnsyncedAgeMs: null,
      lastSyncAt: null,
      rejected: [],
      pickupOrders: 0,
    });

    await api.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }], payment: 'cash' });
    t.till.replica.applyReservations({
      snapshot: false,
      changes: [{ orderId: 'ord-1', sku: 'MASCARA', qty: 1, status: 'held', expiresAt: null }],
    });
    const state = await api.state();
    expect(state.outboxDepth).toBe(1);
    expect(state.oldestUnsyncedAgeMs).toBeGreaterThanOrEqual(0);
    expect(state.pickupOrders).toBe(1);
  });

  it('sells by barcode with the chosen payment, and the stock here drops at once', async () => {
    open();
    const receipt = await api.sell({ lines: [{ ref: '3600000000017', qty: 2 }], payment: 'card' });
    expect(receipt).toMatchObject({
      kind: 'sale',
      totalMinor: 3000,
      payments: [{ method: 'card', amountMinor: 3000 }],
      lines: [{ sku: 'LIP-RED', qty: 2 }],
    });
    expect(await api.receipt(receipt.receiptId)).toEqual(receipt);

    const lookup = await api.stock('LIP-RED');
    expect(lookup.here).toMatchObject({ locationId: 'paris', sku: 'LIP-RED', onHand: 8 });
    // The hub cannot be asked (its address refuses connections) and was never asked before.
    expect(lookup).toMatchObject({ product: { sku: 'LIP-RED' }, elsewhere: null, stale: false });
  });

  it('takes a return against a receipt at its prices, refunded the chosen way', async () => {
    open();
    const sale = await api.sell({ lines: [{ ref: 'MASCARA', qty: 2 }], payment: 'cash' });
    const back = await api.returnItems({
      originalReceiptId: sale.receiptId,
      lines: [{ ref: 'MASCARA', qty: 1, condition: 'damaged' }],
      refund: 'voucher',
    });
    expect(back).toMatchObject({
      kind: 'return',
      originalReceiptId: sale.receiptId,
      totalMinor: 2200,
      payments: [{ method: 'voucher', amountMinor: 2200 }],
    });
    expect((await api.stock('MASCARA')).here).toMatchObject({ onHand: 3, damaged: 1 });
  });

  it('looks products up by SKU or barcode and searches by name', async () => {
    open();
    expect((await api.product('3600000000017'))?.sku).toBe('LIP-RED');
    expect(await api.product('NOPE')).toBeNull();
    expect((await api.search('masc')).map((p) => p.sku)).toEqual(['MASCARA']);
    expect(await api.receipt('paris-1-999999')).toBeNull();
  });

  it('hands over a pickup order and records a count', async () => {
    open();
    t.till.replica.applyReservations({
      snapshot: false,
      changes: [{ orderId: 'ord-7', sku: 'LIP-RED', qty: 2, status: 'held', expiresAt: null }],
    });
    expect(await api.pickupOrders()).toEqual([
      { orderId: 'ord-7', expiresAt: null, lines: [{ sku: 'LIP-RED', qty: 2 }] },
    ]);
    expect(await api.pickup('ord-7')).toEqual({ seq: 1 });
    expect(await api.pickupOrders()).toEqual([]);
    expect(await api.count([{ ref: 'MASCARA', counted: 4 }])).toEqual({ seq: 2 });
    expect((await api.stock('MASCARA')).here.onHand).toBe(4);
  });

  it('refuses bad input with a clear CashierError, and a refused sale writes nothing', async () => {
    open({ reservedLipRed: 8 });

    const unknown = await failure(api.sell({ lines: [{ ref: 'NOPE', qty: 1 }], payment: 'cash' }));
    expect(unknown).toMatchObject({ code: 'unknown_product', details: { ref: 'NOPE' } });

    const zero = await failure(api.sell({ lines: [{ ref: 'LIP-RED', qty: 0 }], payment: 'cash' }));
    expect(zero.code).toBe('invalid_input');
    expect(zero.message).toBe('lines.0.qty: quantity must be at least 1');

    const empty = await failure(api.sell({ lines: [], payment: 'cash' }));
    expect(empty.message).toBe('lines: add at least one item');

    const payment = await failure(
      api.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }], payment: 'cheque' as 'cash' }),
    );
    expect(payment.message).toMatch(/^payment: /);

    const reserved = await failure(api.sell({ lines: [{ ref: 'LIP-RED', qty: 3 }], payment: 'cash' }));
    expect(reserved.code).toBe('reserved_stock');
    expect(reserved.details).toEqual({
      lines: [{ sku: 'LIP-RED', requested: 3, available: 2, reserved: 8 }],
    });

    expect(await failure(api.stock('NOPE'))).toMatchObject({ code: 'unknown_product' });
    expect(await failure(api.pickup('ord-none'))).toMatchObject({ code: 'invalid_input' });
    expect(await failure(api.count([{ ref: 'MASCARA', counted: -1 }]))).toMatchObject({
      code: 'invalid_input',
    });

    // Nothing of the above reached the outbox or the stock.
    expect((await api.state()).outboxDepth).toBe(0);
    expect((await api.stock('LIP-RED')).here.onHand).toBe(10);

    // With the cashier's override the same sale goes through.
    const sold = await api.sell({
      lines: [{ ref: 'LIP-RED', qty: 3 }],
      payment: 'cash',
      reservedOverride: 'customer in store',
    });
    expect(sold.totalMinor).toBe(4500);
  });

  it('gives up on a hub that does not answer after the stock timeout, showing the till view', async () => {
    const silent = createServer(() => undefined);
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    open({ hubUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` });
    api = createCashierService(t.till.cashier, t.agent, { stockTimeoutMs: 300 });
    const started = Date.now();
    const lookup = await api.stock('MASCARA');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(lookup).toMatchObject({ here: { onHand: 5 }, elsewhere: null, stale: false });
    silent.closeAllConnections();
  });

  it('reports a burst of changes as at most a few throttled states, the last one current', async () => {
    open();
    const seen: TillState[] = [];
    const stop = watchTillState(t.till.cashier, t.agent, api, (s) => seen.push(s), 200);
    for (let i = 0; i < 10; i++) await api.sell({ lines: [{ ref: 'MASCARA', qty: 1 }], payment: 'cash' });
    await new Promise((r) => setTimeout(r, 450));
    stop();
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBeLessThanOrEqual(3);
    expect(seen.at(-1)?.outboxDepth).toBe(10);
  });
});
