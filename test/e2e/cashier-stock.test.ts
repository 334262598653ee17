import { type CashierApi, createCashierService } from '@tillsync/pos-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { startTill, type TestTill } from './helpers/tills.js';

describe(`cashier stock lookup against a real hub on ${testDbKind()}`, () => {
  let hub: TestHubServer;
  let paris: TestTill;
  let api: CashierApi;

  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }, { id: 'lyon' }, { id: 'lille' }],
      products: [
        { sku: 'LIP-RED', priceMinor: 1500, barcode: '3600000000017' },
        { sku: 'MASCARA', priceMinor: 2200 },
      ],
      stock: [
        { locationId: 'paris', sku: 'LIP-RED', onHand: 10 },
        { locationId: 'lyon', sku: 'LIP-RED', onHand: 8 },
        { locationId: 'lille', sku: 'LIP-RED', onHand: 3 },
        { locationId: 'lyon', sku: 'MASCARA', onHand: 4 },
      ],
    });
    paris = await startTill(hub, 'paris', 'paris-1');
    api = createCashierService(paris.till.cashier, paris.agent);
  });
  afterEach(async () => {
    await paris.close();
    await hub.close();
  });

  it('shows the other stores live while online, the last answer (stale) while the hub is down', async () => {
    const live = await api.stock('3600000000017');
    expect(live.here).toMatchObject({ locationId: 'paris', sku: 'LIP-RED', onHand: 10 });
    expect(live.elsewhere).toEqual([
      { locationId: 'lille', onHand: 3, reserved: 0, available: 3 },
      { locationId: 'lyon', onHand: 8, reserved: 0, available: 8 },
    ]);
    expect(live.stale).toBe(false);
    expect((await api.state()).online).toBe(true);

    await hub.stop();
    await paris.agent.stop();
    // The till still sells offline; the lookup shows its own view and the cached answer.
    await api.sell({ lines: [{ ref: 'LIP-RED', qty: 2 }], payment: 'cash' });
    const offline = await api.stock('LIP-RED');
    expect(offline.here.onHand).toBe(8);
    expect(offline).toMatchObject({ elsewhere: live.elsewhere, stale: true });

    // Never asked while online: nothing to show for the other stores.
    expect(await api.stock('MASCARA')).toMatchObject({ here: { onHand: 0 }, elsewhere: null, stale: false });
    expect(await api.state()).toMatchObject({ online: false, outboxDepth: 1 });
  });

  it('does not wait for the hub while the sync agent already knows it is down', async () => {
    await hub.stop();
    const deadline = Date.now() + 5_000;
    while (paris.agent.state !== 'waiting' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(paris.agent.state).toBe('waiting');
    const started = Date.now();
    expect(await api.stock('LIP-RED')).toMatchObject({ elsewhere: null, stale: false });
    expect(Date.now() - started).toBeLessThan(500);
  });
});
