import { httpCashierApi, startTillApp, type TillApp } from '@tillsync/pos-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ledgerMismatches } from '../../hub/test/helpers/fixtures.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { type EnrolledTillApp, enrolTillApp } from './helpers/till-app.js';
import { FAST } from './helpers/tills.js';

describe(`the till app in browser mode against a real hub on ${testDbKind()}`, () => {
  let hub: TestHubServer;
  let dirs: EnrolledTillApp;
  let app: TillApp | null = null;

  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }, { id: 'lyon' }],
      products: [{ sku: 'LIP-RED', priceMinor: 1500, barcode: '3600000000017' }],
      stock: [
        { locationId: 'paris', sku: 'LIP-RED', onHand: 10 },
        { locationId: 'lyon', sku: 'LIP-RED', onHand: 8 },
      ],
    });
    dirs = await enrolTillApp(hub, 'paris', 'paris-1');
  });
  afterEach(async () => {
    await app?.close();
    app = null;
    await hub.close();
    dirs.remove();
  });

  it('starts on a secret URL, sells through the JSON API and the sale reaches the hub', async () => {
    app = await startTillApp({ dataDir: dirs.dataDir, staticDir: dirs.staticDir, syncOptions: FAST });
    const url = new URL(app.url);
    expect(url.hostname).toBe('127.0.0.1');
    const secret = new URLSearchParams(url.hash.slice(1)).get('secret') ?? '';
    expect(secret).toHaveLength(43);
    expect((await fetch(`${url.origin}/`)).status).toBe(200);
    expect((await fetch(`${url.origin}/api/state`)).status).toBe(401);

    const api = httpCashierApi(url.origin, secret);
    await app.agent.drained();
    expect(await api.state()).toMatchObject({ deviceId: 'paris-1', online: true, syncState: 'live' });
    const lookup = await api.stock('LIP-RED');
    expect(lookup).toMatchObject({
      here: { onHand: 10 },
      elsewhere: [{ locationId: 'lyon', onHand: 8 }],
      stale: false,
    });

    await api.sell({ lines: [{ ref: '3600000000017', qty: 3 }], payment: 'card' });
    await app.agent.drained();
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(7);
    expect(await api.state()).toMatchObject({ outboxDepth: 0, online: true });
    expect(await ledgerMismatches(hub.db)).toEqual([]);
  });
});
