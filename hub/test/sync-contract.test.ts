import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import {
  asyncApiDocument,
  CLIENT_EVENT_NAMES,
  HUB_EVENT_NAMES,
  type ProtocolError,
  REQUEST_EVENTS,
  type RequestEvent,
  upgradeHeaders,
} from '@tillsync/sync-protocol';
import { io } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { revokeDevice } from '../src/services/devices.js';
import { GATE_VERDICT_MS, handshakePrincipal, upgradeGate } from '../src/sync/socket-limits.js';
import { type SocketHub, startSocketHub } from './helpers/socket-hub.js';
import { authFor, connectRaw, enrolDevice, eventually, pull, push } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

/*
 * The sync protocol as published (docs/protocol.md, the AsyncAPI document) against the running hub:
 * the events it listens to and sends are the documented ones, a request sent without an
 * acknowledgement callback is answered with an `error` event, and a connection's token is looked
 * up once (at the upgrade gate), not again in the handshake.
 */

/** Message names of the AsyncAPI document generated from the protocol's schemas. */
function documentedEvents(): Set<string> {
  const doc = asyncApiDocument() as { channels: { sync: { messages: Record<string, { name: string }> } } };
  return new Set(Object.values(doc.channels.sync.messages).map((m) => m.name));
}

describe(`the published sync contract on ${testDbKind()}`, () => {
  let hub: SocketHub;

  beforeEach(async () => {
    hub = await startSocketHub({
      locations: [{ id: 'store-a' }],
      products: [{ sku: 'LIP-1' }],
      stock: [{ locationId: 'store-a', sku: 'LIP-1', onHand: 10 }],
    });
  });
  afterEach(() => hub.close());

  it('listens to exactly the documented till events and sends only documented ones', async () => {
    const documented = documentedEvents();
    // Every event from the first on (connectRaw resolves at hello, after which the snapshot comes).
    const device = await enrolDevice(hub, 'store-a');
    const received: string[] = [];
    const a = io(hub.url, {
      path: '/sync',
      auth: authFor(device.token),
      extraHeaders: upgradeHeaders(device.token),
      transports: ['websocket'],
      reconnection: false,
    });
    a.onAny((event: string) => received.push(event));
    await eventually(() => received.includes('reservations'));
    const b = await hub.till('store-a');
    const [server] = await hub.app.io.in(`device:${device.id}`).fetchSockets();
    const local = hub.app.io.of('/').sockets.get(server!.id)!;
    // Less Socket.IO's own: the hub's disconnect handler and the no-op `error` listener it adds.
    const listened = local.eventNames().filter((e) => e !== 'disconnect' && e !== 'error');
    expect([...listened].sort()).toEqual([...CLIENT_EVENT_NAMES].sort());
    for (const event of listened) expect(documented, String(event)).toContain(event);

    // Make the hub send the rest: b's push (stock to a), a push without a callback (error).
    try {
      expect(await push(b.socket, [b.ops.sale('LIP-1', 1)])).toMatchObject({ ok: true });
      a.emit('push', { ops: [] });
      await eventually(() => received.includes('stock') && received.includes('error'));
    } finally {
      a.close();
    }
    expect([...new Set(received)].sort()).toEqual([...HUB_EVENT_NAMES].sort());
    for (const event of received) expect(documented, event).toContain(event);
  });

  it('answers a request sent without an acknowledgement callback with an ack_required error, doing nothing', async () => {
    const a = await hub.till('store-a');
    const errors: ProtocolError[] = [];
    a.socket.on('error', (e) => errors.push(e));
    const sale = a.ops.sale('LIP-1', 2);
    for (const event of Object.keys(REQUEST_EVENTS) as RequestEvent[]) {
      const payload = { push: { ops: [sale] }, pull: { since: '0' }, checksum: {} }[event];
      (a.socket.emit as (e: string, p: unknown) => void)(event, payload);
      await eventually(() => errors.length > 0);
      expect(errors.splice(0)).toEqual([
        {
          code: 'ack_required',
          message: `${event} must be emitted with an acknowledgement callback (its reply is the callback's argument); nothing was done`,
          details: { event },
        },
      ]);
    }
    // The push was not applied: the same op with a callback is applied now, not a duplicate.
    expect(await push(a.socket, [sale])).toMatchObject({
      ok: true,
      value: { lastAckedSeq: 1, results: [{ seq: 1, status: 'applied' }] },
    });
    expect(await pull(a.socket, '0')).toMatchObject({ ok: true, value: { rows: [{ onHand: 8 }] } });
  });

  it("checks a till's token once per connection (at the upgrade), not again in the handshake", async () => {
    const device = await enrolDevice(hub, 'store-a');
    const lookups = () =>
      query.mock.calls.filter(([sql]) =>
        String(sql).includes('FROM devices WHERE id = $1 AND revoked_at IS NULL'),
      ).length;
    const query = vi.spyOn(hub.app.db, 'query');
    try {
      const a = await connectRaw(hub.url, authFor(device.token));
      expect(a.hello.deviceId).toBe(device.id);
      expect(lookups()).toBe(1);
      a.socket.close();
      // Each new connection is checked anew.
      const again = await connectRaw(hub.url, authFor(device.token));
      expect(lookups()).toBe(2);
      again.socket.close();
    } finally {
      query.mockRestore();
    }
  });

  it('checks the token again for a handshake long after its upgrade, or with another token', async () => {
    const device = await enrolDevice(hub, 'store-a');
    const other = await enrolDevice(hub, 'store-a');
    const req = new IncomingMessage(new Socket());
    req.headers.authorization = `Bearer ${device.token}`;
    req.url = '/sync/?EIO=4&transport=websocket';
    const accepted = await new Promise((resolve) => upgradeGate(hub.app.db)(req, (_, ok) => resolve(ok)));
    expect(accepted).toBe(true);
    const query = vi.spyOn(hub.app.db, 'query');
    try {
      const at = Date.now();
      expect(await handshakePrincipal(hub.app.db, req, device.token, at)).toMatchObject({ id: device.id });
      expect(query).not.toHaveBeenCalled();
      // Later than GATE_VERDICT_MS: looked up afresh (a revocation in between would count).
      await revokeDevice(hub.app.db, device.id);
      expect(await handshakePrincipal(hub.app.db, req, device.token, at + GATE_VERDICT_MS + 1)).toBeNull();
      expect(await handshakePrincipal(hub.app.db, req, other.token, at)).toMatchObject({ id: other.id });
      expect(query.mock.calls.length).toBeGreaterThanOrEqual(2);
    } finally {
      query.mockRestore();
    }
  });
});
