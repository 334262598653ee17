import { LIMITS } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { FAST, startTill, type TestTill } from './helpers/tills.js';

/*
 * reliability.md, "4b · Big backlogs": a till offline long enough to hold 500 sales of 500 lines
 * (about 12 MiB of ops, more than any one message may carry) drains them all once the hub is back,
 * in batches bounded by ops, lines and bytes.
 */

const SALES = 500;
const SKUS = Array.from({ length: LIMITS.maxLinesPerOp }, (_, i) => `SKU-${String(i).padStart(3, '0')}`);

describe(`a big offline backlog on ${testDbKind()}`, () => {
  let hub: TestHubServer;
  let till: TestTill | null = null;

  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }],
      products: SKUS.map((sku) => ({ sku, priceMinor: 100 })),
      stock: SKUS.map((sku) => ({ locationId: 'paris', sku, onHand: 10_000 })),
    });
  });
  afterEach(async () => {
    await till?.close();
    await hub.close();
  });

  it(`drains ${SALES} sales of ${LIMITS.maxLinesPerOp} lines made offline`, {
    timeout: 600_000,
  }, async () => {
    till = await startTill(hub, 'paris', 'paris-1', { ...FAST, requestTimeoutMs: 60_000 });
    await hub.stop();
    for (let i = 0; i < SALES; i++) till.till.cashier.sell({ lines: SKUS.map((ref) => ({ ref, qty: 1 })) });
    const backlog = till.till.replica.pendingBatch(SALES).map((e) => e.op);
    expect(backlog).toHaveLength(SALES);
    // More than one message may carry, so it must go in several batches.
    expect(Buffer.byteLength(JSON.stringify({ ops: backlog }))).toBeGreaterThan(8 * 1024 * 1024);

    const started = Date.now();
    await hub.resume();
    await till.agent.drained(560_000);
    const seconds = (Date.now() - started) / 1000;
    console.info(`${testDbKind()}: ${SALES} sales × ${SKUS.length} lines drained in ${seconds.toFixed(1)} s`);

    const { rows } = await hub.db.query<{ last_acked_seq: number; lines: number }>(
      `SELECT d.last_acked_seq, (SELECT count(*)::int FROM movements m WHERE m.device_id = d.id) AS lines
         FROM devices d WHERE d.id = 'paris-1'`,
    );
    expect(rows[0]).toEqual({ last_acked_seq: SALES, lines: SALES * SKUS.length });
    expect(await hub.onHand('paris', 'SKU-000')).toBe(10_000 - SALES);
    expect(till.till.cashier.stock('SKU-499')?.onHand).toBe(10_000 - SALES);
  });
});
