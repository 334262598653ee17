import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HybridClock, newOpId } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ledgerMismatches } from '../../hub/test/helpers/fixtures.js';
import { authFor, connectRaw, push } from '../../hub/test/helpers/sync-client.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { expectConverged, startTill, type TestTill } from './helpers/tills.js';

/** Several hub instances on one Postgres schema, as behind a load balancer. */
describe(`scale-out: several hubs on one database (${testDbKind()})`, () => {
  const hubs: TestHubServer[] = [];
  const tills: TestTill[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  let a: TestHubServer;

  beforeEach(async () => {
    a = await TestHubServer.start();
    hubs.push(a);
    await a.seed({
      locations: [{ id: 'paris' }, { id: 'lyon' }],
      products: [{ sku: 'CANDLE', priceMinor: 3200 }],
      stock: [
        { locationId: 'paris', sku: 'CANDLE', onHand: 5 },
        { locationId: 'lyon', sku: 'CANDLE', onHand: 4 },
      ],
    });
  });
  afterEach(async () => {
    for (const t of tills.splice(0)) await t.close();
    for (const c of cleanups.splice(0)) await c();
    // Peers first: the first hub owns the schema.
    for (const h of hubs.splice(0).reverse()) await h.close();
  });

  async function till(hub: TestHubServer, locationId: string, id: string) {
    const t = await startTill(hub, locationId, id);
    tills.push(t);
    return t;
  }

  /** A second instance, once both know of each other (broadcasts reach only known instances). */
  async function peerOf(hub: TestHubServer): Promise<TestHubServer> {
    const peer = await hub.peer();
    hubs.push(peer);
    const instances = (h: TestHubServer) => h.app!.io.of('/').adapter.serverCount();
    await expect.poll(() => instances(hub)).toBe(2);
    await expect.poll(() => instances(peer)).toBe(2);
    return peer;
  }

  function post(hub: TestHubServer, path: string, body: unknown, key?: string) {
    return fetch(`${hub.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${hub.adminToken}`,
        'content-type': 'application/json',
        ...(key ? { 'idempotency-key': key } : {}),
      },
      body: JSON.stringify(body),
    });
  }

  const pickup = (hub: TestHubServer, key: string, qty: number) =>
    post(
      hub,
      '/v1/orders',
      {
        channel: 'web',
        customerRef: key,
        lines: [{ sku: 'CANDLE', qty }],
        fulfilment: { type: 'pickup', pickupLocationId: 'paris' },
      },
      key,
    );

  (testDbKind() === 'pglite' ? it : () => undefined)(
    'a hub on PGlite is single-instance: no cluster, no peers',
    async () => {
      expect(await a.app!.io.of('/').adapter.serverCount()).toBe(1);
      await expect(a.peer()).rejects.toThrow(/single-instance/);
    },
  );

  /** A bare protocol client of a new device at `locationId`, connected through `hub`. */
  async function rawTill(hub: TestHubServer, locationId: string, id: string) {
    const res = await post(hub, '/v1/devices/enrol', {
      enrolmentCode: await hub.enrolmentCode(locationId, id),
    });
    const { token } = (await res.json()) as { token: string };
    const raw = await connectRaw(hub.url, authFor(token));
    cleanups.push(async () => void raw.socket.close());
    return { ...raw, token };
  }

  (testDbKind() === 'postgres' ? it : () => undefined)(
    "a sale through hub A reaches hub B's tills of the store once each, and hub B's orders see it",
    async () => {
      const b = await peerOf(a);
      const seller = await till(a, 'paris', 'paris-a');
      const watcher = await till(b, 'paris', 'paris-b');
      const parisA = await rawTill(a, 'paris', 'raw-paris-a');
      const parisB = await rawTill(b, 'paris', 'raw-paris-b');
      const lyonB = await rawTill(b, 'lyon', 'raw-lyon-b');
      const pushes = () => [parisA.stock.length, parisB.stock.length, lyonB.stock.length];

      seller.till.cashier.sell({ lines: [{ ref: 'CANDLE', qty: 2 }] });
      await seller.agent.drained();
      await expect.poll(() => watcher.till.cashier.stock('CANDLE')?.onHand).toBe(3);
      await expect.poll(pushes).toEqual([1, 1, 0]);

      // A push through hub A: every till of the store hears of it once, wherever it is connected,
      // except the pushing one (its ack has the rows).
      const clock = new HybridClock('raw-paris-a');
      const sale = {
        type: 'sale',
        opId: newOpId(),
        seq: 1,
        hlc: clock.tick(),
        locationId: 'paris',
        receiptId: 'r-raw-1',
        lines: [{ sku: 'CANDLE', qty: 1, unitPriceMinor: 3200 }],
        payments: [{ method: 'card', amountMinor: 3200 }],
      };
      expect(await push(parisA.socket, [sale])).toMatchObject({ ok: true });
      await expect.poll(() => seller.till.cashier.stock('CANDLE')?.onHand).toBe(2);
      await expect.poll(() => watcher.till.cashier.stock('CANDLE')?.onHand).toBe(2);
      await expect.poll(pushes).toEqual([1, 2, 0]);
      await expectConverged(b, watcher);
      await expectConverged(a, seller);

      // Hub B's REST API sells from the same stock: 2 left, 3 are refused, 2 are reserved.
      const refused = await pickup(b, 'too-many', 3);
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { code: string }).code).toBe('insufficient_stock');
      expect((await pickup(b, 'fits', 2)).status).toBe(201);
      // The reservation made through hub B reaches the till on hub A.
      await expect.poll(() => seller.till.cashier.stock('CANDLE')?.reserved).toBe(2);
      expect(pushes()).toEqual([2, 3, 0]);
      expect(await ledgerMismatches(a.db)).toEqual([]);
    },
  );

  (testDbKind() === 'postgres' ? it : () => undefined)(
    'a till connected to hub A is refused a second connection through hub B',
    async () => {
      const b = await peerOf(a);
      const first = await rawTill(a, 'paris', 'paris-1');
      const device = first.hello.deviceId;
      await expect(connectRaw(b.url, authFor(first.token))).rejects.toMatchObject({
        data: { code: 'device_in_use' },
      });
      // Revoking through hub B cuts the connection held by hub A.
      const res = await fetch(`${b.url}/v1/devices/${device}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${b.adminToken}` },
      });
      expect(res.status).toBe(204);
      await expect.poll(() => first.socket.connected).toBe(false);
    },
  );

  (testDbKind() === 'postgres' ? it : () => undefined)(
    'background jobs running on both hubs do each piece of work once',
    async () => {
      const b = await peerOf(a);
      const t = await till(b, 'paris', 'paris-b');
      const received: string[] = [];
      const server = createServer(async (req, res) => {
        let text = '';
        for await (const chunk of req) text += chunk;
        received.push((JSON.parse(text) as { id: string }).id);
        res.writeHead(200).end('ok');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      );
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
      expect((await post(a, '/v1/webhooks', { url, events: ['order.*'] })).status).toBe(201);

      for (let i = 0; i < 4; i++) expect((await pickup(i % 2 ? a : b, `order-${i}`, 1)).status).toBe(201);
      await expect.poll(() => t.till.cashier.stock('CANDLE')?.reserved).toBe(4);

      // Reservation expiry on both instances at the same moment (orders-expiry.test.ts checks the
      // ledger side): each order is released once, and the till on hub B sees the releases.
      await a.db.query("UPDATE orders SET expires_at = now() - interval '1 second'");
      const released = await Promise.all([
        a.app!.jobs.runNow('reservation-expiry'),
        b.app!.jobs.runNow('reservation-expiry'),
      ]);
      expect(released[0] + released[1]).toBe(4);
      await expect.poll(() => t.till.cashier.stock('CANDLE')?.reserved).toBe(0);

      // Webhook delivery runs on its timer on both hubs: 4 created + 4 canceled, each sent once.
      const { rows } = await a.db.query<{ id: string }>(
        "SELECT event_id::text AS id FROM events WHERE type LIKE 'order.%'",
      );
      expect(rows).toHaveLength(8);
      await expect.poll(() => received.length).toBeGreaterThanOrEqual(8);
      await Promise.all([a.app!.jobs.runNow('webhook-delivery'), b.app!.jobs.runNow('webhook-delivery')]);
      expect([...received].sort()).toEqual(rows.map((r) => r.id).sort());
    },
  );
});
