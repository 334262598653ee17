import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { seedCatalog } from './helpers/fixtures.js';
import { authFor, connectRaw, enrolDevice, eventually, type RawTill } from './helpers/sync-client.js';
import { testDbKind } from './helpers/test-db.js';

interface DeviceItem {
  id: string;
  connected: boolean;
  enrolled: boolean;
  revoked: boolean;
  outboxDepth: number | null;
}

describe(`enrolling and managing tills on ${testDbKind()}`, () => {
  let hub: TestHub;
  let url: string;
  const sockets: RawTill[] = [];
  beforeEach(async () => {
    hub = await buildTestHub();
    url = await hub.listen();
    await seedCatalog(hub.database.db, { locations: [{ id: 'store-a' }, { id: 'store-b' }], products: [] });
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await hub.close();
  });

  const devices = async (token?: string, query = '') =>
    hub.request({ method: 'GET', url: `/v1/devices${query}`, ...(token ? { token } : {}) });

  it('exchanges a one-time code for a token, once, and lists the till with its live status', async () => {
    const created = await hub.request({
      method: 'POST',
      url: '/v1/devices',
      payload: { locationId: 'store-a', name: 'Front till', id: 'a-1' },
    });
    expect(created.statusCode).toBe(201);
    const { enrolmentCode } = created.body as { enrolmentCode: string };
    expect(enrolmentCode).toMatch(/^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
    // Codes are typed by people: case and dashes do not matter.
    const typed = enrolmentCode.toLowerCase().replace('-', ' ');
    const enrolled = await hub.request({
      method: 'POST',
      url: '/v1/devices/enrol',
      payload: { enrolmentCode: typed },
      token: null,
    });
    expect(enrolled.statusCode).toBe(200);
    expect(enrolled.body).toMatchObject({
      deviceId: 'a-1',
      locationId: 'store-a',
      token: expect.stringMatching(/^tsd\.a-1\./),
    });
    const again = await hub.request({
      method: 'POST',
      url: '/v1/devices/enrol',
      payload: { enrolmentCode },
      token: null,
    });
    expect(again.statusCode).toBe(401);

    const conn = await connectRaw(url, authFor((enrolled.body as { token: string }).token));
    sockets.push(conn.socket);
    conn.socket.emit('heartbeat', { outboxDepth: 3, oldestUnsyncedAgeMs: 1200, clockOffsetMs: -40 });
    await eventually(
      async () => ((await devices()).body as { items: DeviceItem[] }).items[0]?.outboxDepth === 3,
    );
    expect((await devices()).body).toMatchObject({
      items: [
        { id: 'a-1', connected: true, enrolled: true, revoked: false, outboxDepth: 3, clockOffsetMs: -40 },
      ],
      nextCursor: null,
    });
  });

  it('revokes a till: its connection closes and its token stops working', async () => {
    const device = await enrolDevice(hub, 'store-a', 'a-2');
    const conn = await connectRaw(url, authFor(device.token));
    sockets.push(conn.socket);
    const closed = new Promise((resolve) => conn.socket.once('disconnect', resolve));
    expect((await hub.request({ method: 'DELETE', url: '/v1/devices/a-2' })).statusCode).toBe(204);
    await closed;
    await expect(connectRaw(url, authFor(device.token))).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
    expect((await devices()).body).toMatchObject({ items: [{ id: 'a-2', revoked: true }] });
  });

  it('lets a store manager enrol and see only its own store’s tills', async () => {
    const manager = await hub.token('store_manager', 'store-a');
    await enrolDevice(hub, 'store-b', 'b-1');
    const own = await hub.request({
      method: 'POST',
      url: '/v1/devices',
      payload: { locationId: 'store-a', name: 'Till' },
      token: manager,
    });
    expect(own.statusCode).toBe(201);
    const other = await hub.request({
      method: 'POST',
      url: '/v1/devices',
      payload: { locationId: 'store-b', name: 'Till' },
      token: manager,
    });
    expect(other.statusCode).toBe(403);
    const listed = (await devices(manager)).body as { items: DeviceItem[] };
    expect(listed.items.map((d) => d.id)).toEqual([(own.body as { deviceId: string }).deviceId]);
    expect((await devices(manager, '?locationId=store-b')).statusCode).toBe(403);
    expect((await hub.request({ method: 'DELETE', url: '/v1/devices/b-1', token: manager })).statusCode).toBe(
      403,
    );
  });

  it('issues a fresh code for a rebuilt till, and answers bad requests clearly', async () => {
    await enrolDevice(hub, 'store-a', 'a-3');
    const renewed = await hub.request({ method: 'POST', url: '/v1/devices/a-3/enrolment-code' });
    expect(renewed.statusCode).toBe(200);
    const code = (renewed.body as { enrolmentCode: string }).enrolmentCode;
    const enrolled = await hub.request({
      method: 'POST',
      url: '/v1/devices/enrol',
      payload: { enrolmentCode: code },
      token: null,
    });
    expect(enrolled.body).toMatchObject({ deviceId: 'a-3' });

    expect((await hub.request({ method: 'POST', url: '/v1/devices/nope/enrolment-code' })).statusCode).toBe(
      404,
    );
    const dup = await hub.request({
      method: 'POST',
      url: '/v1/devices',
      payload: { locationId: 'store-a', name: 'x', id: 'a-3' },
    });
    expect(dup.statusCode).toBe(409);
    const unknown = await hub.request({
      method: 'POST',
      url: '/v1/devices',
      payload: { locationId: 'nowhere', name: 'x' },
    });
    expect(unknown.statusCode).toBe(404);
    const bad = await hub.request({
      method: 'POST',
      url: '/v1/devices',
      payload: { locationId: 'store-a', name: '', extra: 1 },
    });
    expect(bad.statusCode).toBe(400);
    expect(
      (await hub.request({ method: 'GET', url: '/v1/devices', token: await hub.token('channel') }))
        .statusCode,
    ).toBe(403);
  });
});
