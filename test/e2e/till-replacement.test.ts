import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrolTill, SyncAgent, Till } from '@tillsync/pos-client';
import type { TillOp } from '@tillsync/sync-protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ledgerMismatches } from '../../hub/test/helpers/fixtures.js';
import { authFor, connectRaw, push } from '../../hub/test/helpers/sync-client.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { runTillCli } from '../../pos-client/src/cli/main.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { expectConverged, FAST, startTill, type TestTill } from './helpers/tills.js';

/*
 * A till machine dies with sales the hub never got; a new machine is enrolled as the same till and
 * rings on; later the old disk is recovered and its ops are handed over by `till recover`.
 */
describe(`replacing a dead till and recovering its disk (${testDbKind()})`, () => {
  let hub: TestHubServer;
  let old: TestTill;
  let newDir: string;
  let replacement: { till: Till; agent: SyncAgent } | null = null;
  let out: string[];

  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }],
      products: [{ sku: 'LIP' }],
      stock: [{ locationId: 'paris', sku: 'LIP', onHand: 20 }],
    });
    old = await startTill(hub, 'paris', 'till-1');
    newDir = mkdtempSync(join(tmpdir(), 'till-replacement-'));
    out = [];
  });
  afterEach(async () => {
    await replacement?.agent.stop();
    replacement?.till.close();
    replacement = null;
    rmSync(newDir, { recursive: true, force: true });
    rmSync(old.dir, { recursive: true, force: true });
    await hub.close();
  });

  const lipMovements = async () =>
    (await hub.db.query<{ n: number }>("SELECT count(*)::int AS n FROM movements WHERE sku = 'LIP'")).rows[0]
      ?.n;

  async function startReplacement(): Promise<{ till: Till; agent: SyncAgent }> {
    const till = Till.open({ dataDir: newDir });
    const agent = new SyncAgent(till.replica, FAST);
    agent.start();
    await agent.drained();
    replacement = { till, agent };
    return replacement;
  }

  async function stopReplacement(): Promise<void> {
    await replacement?.agent.stop();
    replacement?.till.close();
    replacement = null;
  }

  const recover = () =>
    runTillCli(
      ['--data', newDir, 'recover', '--from', old.dir],
      { out: (l) => out.push(l), err: (l) => out.push(l) },
      {},
    );

  // Three tills come and go on PGlite: more than the default 30 s on a busy machine.
  it('re-enrols under the same id, rebuilds from the hub, and takes the old ops exactly once', {
    timeout: 90_000,
  }, async () => {
    old.till.cashier.sell({ lines: [{ ref: 'LIP', qty: 1 }] });
    await old.agent.drained();

    // Offline: two more sales. The first reaches the hub but its ack is lost; the second never leaves.
    await old.agent.stop();
    old.till.cashier.sell({ lines: [{ ref: 'LIP', qty: 2 }] });
    old.till.cashier.sell({ lines: [{ ref: 'LIP', qty: 3 }] });
    const [lostAck] = old.till.replica.pendingBatch(1);
    const raw = await connectRaw(hub.url, authFor(old.till.replica.enrolment!.token));
    expect((await push(raw.socket, [lostAck!.op])).ok).toBe(true);
    raw.socket.close();
    old.till.close(); // the machine dies with seqs 2 and 3 in its outbox
    expect(await hub.onHand('paris', 'LIP')).toBe(17);

    const renewed = await fetch(`${hub.url}/v1/devices/till-1/enrolment-code`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    expect(renewed.status).toBe(200);
    const { enrolmentCode } = (await renewed.json()) as { enrolmentCode: string };
    const fresh = await enrolTill({ dataDir: newDir, hubUrl: hub.url, enrolmentCode });
    // The enrolment numbers the new till past every seq the hub has seen from till-1, so it may
    // sell before its first sync: seq 3 (the old disk's seq 3 is another sale).
    expect(fresh.cashier.status().nextSeq).toBe(3);
    fresh.cashier.sell({ lines: [{ ref: 'LIP', qty: 4 }] });
    fresh.close();

    let t = await startReplacement();
    await expectConverged(hub, t);
    expect(t.till.cashier.stock('LIP')?.onHand).toBe(13);
    expect(await hub.onHand('paris', 'LIP')).toBe(13);
    await stopReplacement();

    expect(await recover()).toBe(0);
    expect(out.pop()).toBe(`recovered 2 unsynced op(s) from ${old.dir}; run \`till sync\` to send them`);
    t = await startReplacement();
    await expectConverged(hub, t);
    // The ack-lost sale counted once (a duplicate now), the never-sent one applied: 13 - 3.
    expect(await hub.onHand('paris', 'LIP')).toBe(10);
    expect(await lipMovements()).toBe(5); // receive + sales of 1, 2, 4, 3
    expect(await ledgerMismatches(hub.db)).toEqual([]);
    const { rows } = await hub.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM applied_ops WHERE device_id = 'till-1'",
    );
    expect(rows[0]?.n).toBe(5); // seqs 1-3, then the two recovered ops as seqs 4 and 5
    expect(t.till.cashier.status()).toMatchObject({ lastAckedSeq: 5, outboxDepth: 0, rejected: [] });

    // The same disk recovered again has nothing left to give.
    await stopReplacement();
    expect(await recover()).toBe(0);
    expect(out.pop()).toBe(`recovered 0 unsynced op(s) from ${old.dir}`);
    t = await startReplacement();
    await expectConverged(hub, t);
    expect(await hub.onHand('paris', 'LIP')).toBe(10);
    expect(await lipMovements()).toBe(5);
    expect(t.till.cashier.status().nextSeq).toBe(6);
  });

  it('answers an applied op resent under a new seq as a duplicate only when it is the same op', async () => {
    const ops: TillOp[] = [];
    old.till.replica.on('op', (op) => ops.push(op));
    old.till.cashier.sell({ lines: [{ ref: 'LIP', qty: 1 }] });
    await old.agent.drained();
    await old.agent.stop();
    old.till.cashier.sell({ lines: [{ ref: 'LIP', qty: 1 }] }); // only for a later, valid clock stamp
    const [applied, later] = ops;
    const raw = await connectRaw(hub.url, authFor(old.till.replica.enrolment!.token));
    try {
      const changed = await push(raw.socket, [{ ...applied!, seq: 2, hlc: later!.hlc }]);
      expect(changed).toMatchObject({
        ok: true,
        value: { lastAckedSeq: 2, results: [{ seq: 2, status: 'rejected', code: 'op_id_reused' }] },
      });
      const same = await push(raw.socket, [{ ...applied!, seq: 3 }]);
      expect(same).toMatchObject({
        ok: true,
        value: { lastAckedSeq: 3, results: [{ seq: 3, status: 'duplicate' }] },
      });
      // The new seq is remembered: sent once more, it is still the same duplicate.
      const again = await push(raw.socket, [{ ...applied!, seq: 3 }]);
      expect(again).toMatchObject({ ok: true, value: { results: [{ seq: 3, status: 'duplicate' }] } });
    } finally {
      raw.socket.close();
    }
    expect(await hub.onHand('paris', 'LIP')).toBe(19);
    expect(await lipMovements()).toBe(2);
    expect(await ledgerMismatches(hub.db)).toEqual([]);
  });

  it("refuses another till's disk", async () => {
    const other = await startTill(hub, 'paris', 'till-2');
    const otherDir = other.dir;
    await other.agent.stop();
    other.till.close();
    (
      await enrolTill({
        dataDir: newDir,
        hubUrl: hub.url,
        enrolmentCode: await hub.enrolmentCode('paris', 'till-3'),
      })
    ).close();
    try {
      const code = await runTillCli(
        ['--data', newDir, 'recover', '--from', otherDir],
        { out: (l) => out.push(l), err: (l) => out.push(l) },
        {},
      );
      expect(code).toBe(2);
      expect(out.pop()).toMatch(/belongs to till till-2 at paris; this till is till-3 at paris/);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});
