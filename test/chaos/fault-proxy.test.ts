import type { TillOp } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ledgerMismatches } from '../../hub/test/helpers/fixtures.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { TestHubServer } from '../e2e/helpers/test-hub-server.js';
import { expectConverged, expectLedgerOnce, FAST, startTill, type TestTill } from '../e2e/helpers/tills.js';
import { FaultProxy } from './fault-proxy.js';

/** The fault proxy's faults, each seen by a real till syncing through it to a real hub. */
describe(`fault proxy on ${testDbKind()}: a real till through injected network faults`, () => {
  let hub: TestHubServer;
  let proxy: FaultProxy;
  let t: TestTill;

  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }],
      products: [{ sku: 'LIP-RED', priceMinor: 1500 }],
      stock: [{ locationId: 'paris', sku: 'LIP-RED', onHand: 100 }],
    });
    proxy = new FaultProxy({ host: '127.0.0.1', port: hub.port });
    await proxy.start();
    t = await startTill(hub, 'paris', 'paris-1', { ...FAST, requestTimeoutMs: 1_000 }, proxy.url);
  });
  afterEach(async () => {
    await t.close();
    await proxy.stop();
    await hub.close();
  });

  const sell = (qty: number): TillOp => {
    t.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty }] });
    return t.till.replica.pendingBatch(1000).at(-1)!.op;
  };

  it('dropReplies: the hub applies, the till never hears, resends after the cut; the ledger has it once', async () => {
    proxy.setMode('dropReplies');
    const op = sell(2);
    // The hub applied it (the request went through)…
    await expect.poll(() => hub.onHand('paris', 'LIP-RED')).toBe(98);
    // …but the till still holds it, unacknowledged.
    expect(t.till.cashier.status().outboxDepth).toBe(1);
    proxy.setMode('pass');
    await t.agent.drained();
    await expectConverged(hub, t);
    await expectLedgerOnce(hub, [op]);
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(98);
    expect(proxy.counts.modeChanges.dropReplies).toBe(1);
  });

  it('blackhole: nothing moves while it lasts; held bytes arrive when the link comes back', async () => {
    proxy.setMode('blackhole');
    const op = sell(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(100);
    proxy.setMode('pass');
    await t.agent.drained();
    await expectLedgerOnce(hub, [op]);
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(99);
  });

  it('cut + refuse: a partition keeps the till offline and selling; it drains when the link heals', async () => {
    proxy.setMode('refuse');
    expect(proxy.cut()).toBeGreaterThan(0);
    await expect.poll(() => t.agent.state).toBe('waiting');
    const ops = [sell(1), sell(2), sell(3)];
    expect(t.till.cashier.status().outboxDepth).toBe(3);
    await expect.poll(() => proxy.counts.refused).toBeGreaterThan(0);
    proxy.setMode('pass');
    await t.agent.drained();
    await expectConverged(hub, t);
    await expectLedgerOnce(hub, ops);
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(94);
    expect(await ledgerMismatches(hub.db)).toEqual([]);
  });

  it('delay: every chunk late, none out of order', async () => {
    proxy.delayMs = 40;
    const qtys = Array.from({ length: 20 }, (_, i) => (i % 3) + 1);
    const ops = qtys.map(sell);
    await t.agent.drained();
    await expectConverged(hub, t);
    await expectLedgerOnce(hub, ops);
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(100 - qtys.reduce((a, b) => a + b, 0));
  });
});
