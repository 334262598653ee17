import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CashierApi,
  CashierApiError,
  createCashierService,
  httpCashierApi,
  startUiServer,
  type TillState,
  type UiServer,
  watchTillState,
} from '../src/index.js';
import { type CashierTill, cashierTill } from './helpers/cashier-till.js';

/*
 * Browser mode: the loopback server in front of a real till. A page (or anything else on the
 * machine) gets nothing from /api without the session secret, and nothing at all under another
 * host name; with it, the JSON API sells, returns and streams the till's state.
 */

describe('the cashier UI server', () => {
  let t: CashierTill;
  let server: UiServer;
  let uiDir: string;
  let client: CashierApi;

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${server.origin}${path}`, { headers });
  const authed = (path: string, init: RequestInit = {}) =>
    fetch(`${server.origin}${path}`, {
      ...init,
      headers: { 'x-till-secret': server.secret, 'content-type': 'application/json', ...init.headers },
    });

  beforeEach(async () => {
    t = cashierTill({ reservedLipRed: 8 });
    uiDir = mkdtempSync(join(tmpdir(), 'till-ui-'));
    writeFileSync(
      join(uiDir, 'index.html'),
      '<!doctype html><title>Till</title><script src="app.js"></script>',
    );
    writeFileSync(join(uiDir, 'app.js'), 'console.log("till")');
    const api = createCashierService(t.till.cashier, t.agent);
    server = await startUiServer(api, {
      staticDir: uiDir,
      watch: (listener) => watchTillState(t.till.cashier, t.agent, api, listener, 50),
    });
    client = httpCashierApi(server.origin, server.secret);
  });
  afterEach(async () => {
    await server.close();
    t.close();
    rmSync(uiDir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 only and hands out the secret in the start URL fragment', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/#secret=${server.secret}`);
    expect(Buffer.from(server.secret, 'base64url')).toHaveLength(32);
    // 127.0.0.2 is loopback too: a server bound to every address would answer there.
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(server.port, '127.0.0.2');
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('serves the UI without the secret, with security headers', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Till</title>');
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'self'/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect((await get('/app.js')).headers.get('content-type')).toMatch(/javascript/);
    expect((await get('/../../etc/passwd')).status).toBe(404);
  });

  it('answers /api only with the right secret: 401 without it or with a wrong one', async () => {
    const none = await get('/api/state');
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: 'unauthorized' });
    expect((await get('/api/state', { 'x-till-secret': 'guess' })).status).toBe(401);
    expect((await get('/api/state', { 'x-till-secret': `${server.secret}x` })).status).toBe(401);
    // The query form is for the event stream only (EventSource cannot send headers).
    expect((await get(`/api/state?secret=${server.secret}`)).status).toBe(401);
    expect((await get('/api/events')).status).toBe(401);
    expect((await get('/%61pi/state')).status).toBe(401);
    expect((await get('/api/nothing')).status).toBe(401);

    const ok = await get('/api/state', { 'x-till-secret': server.secret });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(await ok.json()).toMatchObject({ deviceId: 'paris-1', locationId: 'paris', outboxDepth: 0 });
  });

  it('refuses a request naming another host (DNS rebinding), even with the secret', async () => {
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: server.port,
            path: '/api/state',
            headers: { host, 'x-till-secret': server.secret },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect(await status(`evil.example:${server.port}`)).toBe(403);
    expect(await status('127.0.0.1')).toBe(403);
    expect(await status(`127.0.0.1:${server.port + 1}`)).toBe(403);
    expect(await status(`localhost:${server.port}`)).toBe(200);
    expect(await status(`127.0.0.1:${server.port}`)).toBe(200);
  });

  it('refuses a cross-origin call carrying the secret', async () => {
    const res = await authed('/api/state', { headers: { origin: 'http://evil.example' } });
    expect(res.status).toBe(403);
  });

  it('sells, takes a return and reports the state through the JSON API (the shared HTTP client)', async () => {
    const sale = await client.sell({ lines: [{ ref: 'MASCARA', qty: 2 }], payment: 'card' });
    expect(sale).toMatchObject({ kind: 'sale', totalMinor: 4400, payments: [{ method: 'card' }] });
    const back = await client.returnItems({
      originalReceiptId: sale.receiptId,
      lines: [{ ref: 'MASCARA', qty: 1 }],
      refund: 'card',
    });
    expect(back).toMatchObject({ kind: 'return', totalMinor: 2200, originalReceiptId: sale.receiptId });
    expect(await client.receipt(sale.receiptId)).toEqual(sale);
    expect(await client.receipt('paris-1-999999')).toBeNull();
    expect((await client.product('3600000000017'))?.sku).toBe('LIP-RED');
    expect(await client.product('NOPE')).toBeNull();
    expect((await client.search('lip')).map((p) => p.sku)).toEqual(['LIP-RED']);
    expect((await client.stock('MASCARA')).here.onHand).toBe(4);
    expect(await client.count([{ ref: 'MASCARA', counted: 6 }])).toEqual({ seq: 3 });
    expect(await client.state()).toMatchObject({ outboxDepth: 3, syncState: 'stopped', online: false });
    expect(t.till.cashier.stock('MASCARA')?.onHand).toBe(6);

    const created = await authed('/api/sales', {
      method: 'POST',
      body: JSON.stringify({ lines: [{ ref: 'MASCARA', qty: 1 }], payment: 'cash' }),
    });
    expect(created.status).toBe(201);
  });

  it('hands over a pickup order', async () => {
    t.till.replica.applyReservations({
      snapshot: false,
      changes: [{ orderId: 'ord/7', sku: 'LIP-RED', qty: 2, status: 'held', expiresAt: null }],
    });
    expect(await client.pickupOrders()).toHaveLength(1);
    expect(await client.pickup('ord/7')).toEqual({ seq: 1 });
    expect(await client.pickupOrders()).toEqual([]);
  });

  it('maps errors to statuses and CashierError bodies, and a refused sale writes nothing', async () => {
    const post = async (path: string, body: string) => {
      const res = await authed(path, { method: 'POST', body });
      return { status: res.status, body: (await res.json()) as { code: string; message: string } };
    };
    const sale = (lines: unknown) => JSON.stringify({ lines, payment: 'cash' });

    expect(await post('/api/sales', sale([{ ref: 'LIP-RED', qty: 1.5 }]))).toEqual({
      status: 400,
      body: expect.objectContaining({
        code: 'invalid_input',
        message: 'lines.0.qty: quantity must be a whole number',
      }),
    });
    expect(await post('/api/sales', sale([{ ref: 'NOPE', qty: 1 }]))).toMatchObject({
      status: 404,
      body: { code: 'unknown_product' },
    });
    expect(await post('/api/sales', sale([{ ref: 'LIP-RED', qty: 3 }]))).toMatchObject({
      status: 409,
      body: { code: 'reserved_stock', details: { lines: [{ sku: 'LIP-RED', available: 2, reserved: 8 }] } },
    });
    expect(await post('/api/sales', '{"lines": [')).toMatchObject({
      status: 400,
      body: { code: 'invalid_input' },
    });
    expect(await post('/api/counts', JSON.stringify({}))).toMatchObject({
      status: 400,
      body: { code: 'invalid_input' },
    });
    expect((await authed('/api/stock/NOPE')).status).toBe(404);
    expect((await authed('/api/receipts/nope')).status).toBe(404);

    // The client throws the same CashierError.
    const thrown = await client
      .sell({ lines: [{ ref: 'LIP-RED', qty: 3 }], payment: 'cash' })
      .catch((e) => e);
    expect(thrown).toBeInstanceOf(CashierApiError);
    expect(thrown).toMatchObject({ code: 'reserved_stock' });
    await expect(httpCashierApi(server.origin, 'wrong').state()).rejects.toMatchObject({
      code: 'unauthorized',
    });

    expect(t.till.cashier.status().outboxDepth).toBe(0);
    expect(t.till.cashier.stock('LIP-RED')?.onHand).toBe(10);
  });

  it('streams the state with Server-Sent Events: the current one at once, then each change', async () => {
    const res = await get(`/api/events?secret=${encodeURIComponent(server.secret)}`, {});
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    const nextState = async (): Promise<TillState> => {
      for (;;) {
        const end = buffered.indexOf('\n\n');
        if (end >= 0) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = /^event: state\ndata: (.*)$/m.exec(event);
          if (data?.[1]) return JSON.parse(data[1]) as TillState;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffered += value;
      }
    };
    expect((await nextState()).outboxDepth).toBe(0);
    await client.sell({ lines: [{ ref: 'MASCARA', qty: 1 }], payment: 'cash' });
    expect((await nextState()).outboxDepth).toBe(1);
    await reader.cancel();
  });
});
