import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrolTill, SyncAgent, Till, type TillOptions } from '@tillsync/pos-client';
import { parseHlc } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ledgerMismatches } from '../../hub/test/helpers/fixtures.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { expectConverged, FAST } from './helpers/tills.js';

/*
 * Issue 8, finding 3: a real till whose wall clock is set while it runs (or while it is off), a
 * real hub, and a manager writing over REST. Real time passes; only the till's wall clock is moved
 * (`skew`), its monotonic clock is the process's.
 */

const DAY = 86_400_000;

describe(`till clock jumps against a hub on ${testDbKind()}`, () => {
  let hub: TestHubServer;
  let dir: string;
  let skew: number;
  let till: Till;
  let agent: SyncAgent;
  const clocks: Pick<TillOptions, 'now' | 'monotonic'> = {
    now: () => Date.now() + skew,
    monotonic: () => performance.now(),
  };

  const rest = async (path: string, body: unknown) => {
    const res = await fetch(`${hub.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(201);
  };
  const hubOffset = async () =>
    (
      await hub.db.query<{ clock_offset_ms: number | null }>(
        "SELECT clock_offset_ms FROM device_status WHERE device_id = 'paris-1'",
      )
    ).rows[0]?.clock_offset_ms;

  beforeEach(async () => {
    skew = 0;
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }],
      products: [{ sku: 'LIP-RED' }],
      stock: [{ locationId: 'paris', sku: 'LIP-RED', onHand: 100 }],
    });
    dir = mkdtempSync(join(tmpdir(), 'till-clock-'));
    till = await enrolTill({
      dataDir: dir,
      hubUrl: hub.url,
      enrolmentCode: await hub.enrolmentCode('paris', 'paris-1'),
      ...clocks,
    });
    agent = new SyncAgent(till.replica, FAST);
    agent.start();
    await agent.drained();
  });
  afterEach(async () => {
    await agent.stop();
    till.close();
    rmSync(dir, { recursive: true, force: true });
    await hub.close();
  });

  it('−1 day while it runs: a sale after a manager’s count lands on top of it (94, not 99)', async () => {
    await rest('/v1/locations/paris/counts', { lines: [{ sku: 'LIP-RED', counted: 99 }] });
    skew = -DAY;
    till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 5 }] });
    await agent.drained();
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(94);
    await expectConverged(hub, { till, agent });
    expect(till.cashier.status().clockJump).toMatchObject({ byMs: expect.closeTo(-DAY, -4) });
    // The till's heartbeat tells the hub how far off its clock is, for the health rules.
    await expect.poll(hubOffset).toBeLessThan(-DAY + 60_000);
    expect(await ledgerMismatches(hub.db)).toEqual([]);
  });

  it('+30 days while it runs: its count does not absorb a receipt made after it (110, not 100)', async () => {
    skew = 30 * DAY;
    const count = till.cashier.count([{ ref: 'LIP-RED', counted: 100 }]);
    expect(parseHlc(count.hlc).wall).toBeLessThan(Date.now() + 60_000);
    await agent.drained();
    await rest('/v1/locations/paris/receipts', { lines: [{ sku: 'LIP-RED', qty: 10 }] });
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(110);
    await expectConverged(hub, { till, agent });
    await expect.poll(hubOffset).toBeGreaterThan(30 * DAY - 60_000);
  });

  it('+30 days while off, counting before it reconnects: the hub restamps the count and opens a conflict', async () => {
    await agent.stop();
    till.close();
    skew = 30 * DAY;
    till = Till.open({ dataDir: dir, ...clocks });
    const count = till.cashier.count([{ ref: 'LIP-RED', counted: 100 }]);
    expect(parseHlc(count.hlc).wall).toBeGreaterThan(Date.now() + 29 * DAY); // it cannot know yet
    agent = new SyncAgent(till.replica, FAST);
    agent.start();
    await agent.drained();
    await rest('/v1/locations/paris/receipts', { lines: [{ sku: 'LIP-RED', qty: 10 }] });
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(110);
    const { rows } = await hub.db.query<{ kind: string; op_id: string }>(
      "SELECT kind, op_id::text AS op_id FROM conflicts WHERE status = 'open'",
    );
    expect(rows).toEqual([{ kind: 'clock_skew', op_id: count.opId }]);
    // Having seen the hub's time, the till stamps by it again.
    const sale = till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    const op = till.replica
      .pendingBatch(10)
      .find((e) => e.op.type === 'sale' && e.op.receiptId === sale.receiptId);
    expect(parseHlc(op!.op.hlc).wall).toBeLessThan(Date.now() + 60_000);
    await agent.drained();
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(109);
    await expectConverged(hub, { till, agent });
  });
});
