import { connect, type Socket } from 'node:net';
import { LIMITS, PROTOCOL_VERSION, type ProtocolError, upgradeHeaders } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SOCKET_BUDGETS } from '../src/sync/socket-limits.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { type SocketHub, startSocketHub } from './helpers/socket-hub.js';
import { checksum, connectRaw, eventually, pull, push } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

/*
 * What a hostile or broken caller can cost the hub (reliability.md, "7 · Denial of service"): the
 * socket's token is checked before anything is read from it, a till's timed requests have a budget
 * per connection, a batch's lines are capped, slow requests time out, made-up tokens share their
 * IP's rate limit.
 */

describe(`sync and HTTP limits on ${testDbKind()}`, () => {
  let hub: SocketHub;

  beforeEach(async () => {
    hub = await startSocketHub({
      locations: [{ id: 'store-a' }],
      products: [{ sku: 'LIP-1' }],
      stock: [{ locationId: 'store-a', sku: 'LIP-1', onHand: 100_000 }],
    });
  });
  afterEach(() => hub.close());

  it('refuses a 7 MB handshake without a known token before reading it', async () => {
    const opened: Socket[] = [];
    hub.app.server.on('connection', (s: Socket) => opened.push(s));
    const big = { token: 'x'.repeat(7_000_000), protocolVersion: PROTOCOL_VERSION };
    for (const headers of [{}, upgradeHeaders('tsd.nobody.made-up-secret')]) {
      await expect(connectRaw(hub.url, big, headers)).rejects.toMatchObject({
        data: { code: 'unauthorized' },
      });
    }
    expect(opened).toHaveLength(2);
    // Only the two upgrade requests' headers were read, never the 7 MB.
    expect(opened.reduce((n, s) => n + s.bytesRead, 0)).toBeLessThan(16 * 1024);
  });

  it('answers a flood of checksum, pull and heartbeat from one socket with rate_limited; another till is unaffected', async () => {
    const a = await hub.till('store-a');
    const b = await hub.till('store-a');
    const errors: ProtocolError[] = [];
    a.socket.on('error', (e) => errors.push(e));
    const started = Date.now();
    const [sums, pulls] = await Promise.all([
      Promise.all(Array.from({ length: 200 }, () => checksum(a.socket))),
      Promise.all(Array.from({ length: 400 }, () => pull(a.socket, '0'))),
    ]);
    for (let i = 0; i < 200; i++)
      a.socket.emit('heartbeat', { outboxDepth: 0, oldestUnsyncedAgeMs: null, clockOffsetMs: 0 });
    await eventually(() => errors.length > 0);
    const seconds = (Date.now() - started) / 1000;
    /** Answers within the budget: at most its burst plus what refilled while the flood ran. */
    const allowed = (kind: keyof typeof SOCKET_BUDGETS) =>
      SOCKET_BUDGETS[kind].burst + Math.ceil(SOCKET_BUDGETS[kind].perSecond * seconds) + 1;
    for (const [kind, replies] of [
      ['checksum', sums],
      ['pull', pulls],
    ] as const) {
      expect(replies.filter((r) => r.ok).length).toBeLessThanOrEqual(allowed(kind));
      const refused = replies.filter((r) => !r.ok);
      expect(refused.length).toBeGreaterThanOrEqual(replies.length - allowed(kind));
      expect(refused[0]).toMatchObject({
        ok: false,
        error: { code: 'rate_limited', details: { retryAfterMs: expect.any(Number) } },
      });
    }
    await eventually(() => errors.length >= 200 - allowed('heartbeat'));
    expect(errors[0]).toMatchObject({ code: 'rate_limited', message: /too many heartbeat requests/ });

    // The other till's budget is its own.
    expect(await checksum(b.socket)).toMatchObject({ ok: true });
    expect(await pull(b.socket, '0')).toMatchObject({ ok: true });
  });

  it(`refuses a batch of more than ${LIMITS.maxLinesPerBatch} lines with batch_too_large, applying none of it`, async () => {
    const a = await hub.till('store-a');
    const lines = Array.from({ length: LIMITS.maxLinesPerOp }, () => ({
      sku: 'LIP-1',
      qty: 1,
      unitPriceMinor: 1000,
    }));
    const count = Math.floor(LIMITS.maxLinesPerBatch / LIMITS.maxLinesPerOp) + 1;
    const ops = Array.from({ length: count }, () => a.ops.sale('LIP-1', 1, { lines, payments: [] }));
    const total = count * LIMITS.maxLinesPerOp;
    expect(await push(a.socket, ops)).toEqual({
      ok: false,
      error: {
        code: 'batch_too_large',
        message: `this batch carries ${total} lines; a batch holds at most ${LIMITS.maxLinesPerBatch} lines in all: send fewer ops per batch`,
        details: { lines: total, maxLinesPerBatch: LIMITS.maxLinesPerBatch },
      },
    });
    const { rows } = await hub.database.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM movements WHERE device_id = $1',
      [a.device.id],
    );
    expect(rows[0]!.n).toBe(0);
    // One op fewer fits, and is applied.
    expect(await push(a.socket, ops.slice(0, count - 1))).toMatchObject({
      ok: true,
      value: { lastAckedSeq: count - 1 },
    });
  });
});

describe(`HTTP limits on ${testDbKind()}`, () => {
  let hub: TestHub | null = null;
  afterEach(async () => {
    await hub?.close();
    hub = null;
  });

  it('closes a request whose body trickles in slower than the request timeout', {
    timeout: 90_000,
  }, async () => {
    hub = await buildTestHub({
      http: { requestTimeoutMs: 1_000, connectionTimeoutMs: 120_000, keepAliveTimeoutMs: 72_000 },
    });
    const { hostname, port } = new URL(await hub.listen());
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString();
    });
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
    await new Promise((resolve) => socket.once('connect', resolve));
    const started = Date.now();
    socket.write(
      `POST /v1/locations HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${hub.adminToken}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n{',
    );
    // One byte every 100 ms: the body would take 1,000 s to arrive.
    const drip = setInterval(() => socket.writable && socket.write(' '), 100);
    try {
      const at = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
      expect(at, 'the trickling connection was still open after 15 s').not.toBeNull();
      expect(at! - started).toBeLessThan(10_000);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  });

  it('rate limits made-up bearer tokens by IP, and a verified token by its own budget', async () => {
    hub = await buildTestHub({ rateLimitPerMinute: 5 });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await hub.request({
        method: 'GET',
        url: '/v1/locations',
        token: `tsk.fake${i}.secret${i}`,
      });
      statuses.push(res.statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    // Same IP, but a token the hub knows: its own budget.
    expect((await hub.request({ method: 'GET', url: '/v1/locations' })).statusCode).toBe(200);
  });
});
