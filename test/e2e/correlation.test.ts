import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTillApp, type TillApp } from '@tillsync/pos-client';
import type { TillOp } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseMetrics } from '../../hub/test/helpers/metrics.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { type EnrolledTillApp, enrolTillApp } from './helpers/till-app.js';
import { FAST } from './helpers/tills.js';

type LogLine = Record<string, unknown> & { msg?: string };

/**
 * One op followed from a real till (its till.log), through the hub's log, to the hub's ledger; and
 * the hub's metrics moving as the till connects, sells and leaves.
 */
describe(`correlation ids and metrics with a real till on ${testDbKind()}`, () => {
  let hub: TestHubServer;
  let dirs: EnrolledTillApp;
  let app: TillApp | null = null;
  const hubLog: LogLine[] = [];

  beforeEach(async () => {
    hubLog.length = 0;
    hub = await TestHubServer.start({
      logStream: {
        write(chunk: string) {
          for (const line of chunk.split('\n')) if (line) hubLog.push(JSON.parse(line) as LogLine);
        },
      },
    });
    await hub.seed({
      locations: [{ id: 'paris' }],
      products: [{ sku: 'LIP-RED', priceMinor: 1500 }],
      stock: [{ locationId: 'paris', sku: 'LIP-RED', onHand: 10 }],
    });
    dirs = await enrolTillApp(hub, 'paris', 'paris-1');
  });
  afterEach(async () => {
    await app?.close();
    app = null;
    await hub.close();
    dirs.remove();
  });

  const tillLog = (): LogLine[] =>
    readFileSync(join(dirs.dataDir, 'till.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogLine);

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${hub.url}${path}`, { headers: { authorization: `Bearer ${hub.adminToken}`, ...headers } });

  const scrape = async () => parseMetrics(await (await get('/metrics')).text());

  it("follows a sale's op id from the till's log to the hub's log and ledger", async () => {
    app = await startTillApp({ dataDir: dirs.dataDir, staticDir: dirs.staticDir, syncOptions: FAST });
    await app.agent.drained();
    const before = await scrape();
    expect(before.value('tillsync_sync_connections')).toBe(1);

    const recorded = new Promise<TillOp>((resolve) => app?.till.replica.once('op', resolve));
    const receipt = app.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 2 }], paymentMethod: 'card' });
    const { opId } = await recorded;
    await app.agent.drained();

    // The till: recorded, pushed, acknowledged as applied, all under the op id.
    const till = tillLog();
    expect(till.find((l) => l.msg === 'op recorded' && l.opId === opId)).toMatchObject({
      device: 'paris-1',
      type: 'sale',
      receiptId: receipt.receiptId,
      level: 30,
    });
    expect(till.find((l) => l.msg === 'batch pushed' && (l.opIds as string[]).includes(opId))).toBeDefined();
    expect(till.find((l) => l.msg === 'batch acked' && (l.applied as string[]).includes(opId))).toBeDefined();

    // The hub: the batch that carried it.
    const batch = hubLog.find(
      (l) => l.msg === 'push batch applied' && (l.opIds as string[] | undefined)?.includes(opId),
    );
    expect(batch).toMatchObject({ device: 'paris-1', location: 'paris', applied: 1, level: 30 });
    expect(batch?.batchId).toEqual(expect.any(String));
    expect(batch?.seqFrom).toBeLessThanOrEqual(batch?.seqTo as number);

    // The ledger, asked with a correlation id of our own.
    const res = await get(`/v1/movements?opId=${opId}`, { 'x-request-id': 'abc-123' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    const { items } = (await res.json()) as { items: Array<{ opId: string; reference: string }> };
    expect(items).toEqual([expect.objectContaining({ opId, reference: receipt.receiptId, reason: 'sale' })]);
    expect(hubLog.filter((l) => l.reqId === 'abc-123').map((l) => l.msg)).toEqual([
      'incoming request',
      'request completed',
    ]);

    const after = await scrape();
    const applied = (m: typeof after) => m.value('tillsync_sync_ops_total', { result: 'applied' }) ?? 0;
    expect(applied(after)).toBe(applied(before) + 1);
    expect(
      after.value('tillsync_http_request_duration_seconds_count', {
        route: '/v1/movements',
        status_code: '200',
      }),
    ).toBe(1);

    await app.close();
    app = null;
    await expect.poll(async () => (await scrape()).value('tillsync_sync_connections')).toBe(0);
  });

  it('gives a request with an unusable x-request-id a generated one, in the reply and the log', async () => {
    const res = await get('/v1/locations', { 'x-request-id': 'not ok: {"forged":true}' });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(hubLog.filter((l) => l.reqId === id).length).toBeGreaterThanOrEqual(2);
  });
});
