import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrolTill, SyncAgent, Till, TillDamagedError } from '@tillsync/pos-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ledgerMismatches } from '../../hub/test/helpers/fixtures.js';
import { authFor, connectRaw, push } from '../../hub/test/helpers/sync-client.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { runTillCli } from '../../pos-client/src/cli/main.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { expectConverged, FAST, startTill, type TestTill } from './helpers/tills.js';

/*
 * Finding 8 end to end: a till's disk damages a page in the middle of its outbox while it holds
 * sales the hub never got (one of them pushed, its ack lost). The till refuses to open; the store
 * enrols a fresh data directory for the same device, `till recover --from` salvages the damaged
 * outbox into it, and every readable op reaches the hub's ledger exactly once.
 */
describe(`salvaging a damaged till database (${testDbKind()})`, () => {
  let hub: TestHubServer;
  let old: TestTill;
  let newDir: string;
  let replacement: { till: Till; agent: SyncAgent } | null = null;

  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }],
      products: [{ sku: 'LIP' }],
      stock: [{ locationId: 'paris', sku: 'LIP', onHand: 1000 }],
    });
    old = await startTill(hub, 'paris', 'till-1');
    newDir = mkdtempSync(join(tmpdir(), 'till-salvaged-'));
  });
  afterEach(async () => {
    await replacement?.agent.stop();
    replacement?.till.close();
    replacement = null;
    rmSync(newDir, { recursive: true, force: true });
    rmSync(old.dir, { recursive: true, force: true });
    await hub.close();
  });

  const movementsByOp = async () =>
    (
      await hub.db.query<{ op_id: string; n: number }>(
        "SELECT op_id::text AS op_id, count(*)::int AS n FROM movements WHERE sku = 'LIP' AND reason = 'sale' GROUP BY op_id",
      )
    ).rows;

  it('reads the outbox out of the damaged file into a new till; the hub applies each op once', {
    timeout: 90_000,
  }, async () => {
    const synced: string[] = [];
    old.till.replica.once('op', (op) => synced.push(op.opId));
    old.till.cashier.sell({ lines: [{ ref: 'LIP', qty: 1 }] });
    await old.agent.drained();
    await old.agent.stop();
    // Offline: 60 sales. The first reaches the hub but its ack is lost.
    for (let i = 0; i < 60; i++) old.till.cashier.sell({ lines: [{ ref: 'LIP', qty: 1 }] });
    const outbox = old.till.replica.pendingBatch(1_000);
    const raw = await connectRaw(hub.url, authFor(old.till.replica.enrolment!.token));
    expect((await push(raw.socket, [outbox[0]!.op])).ok).toBe(true);
    raw.socket.close();

    // Damage the third of the outbox's leaf pages (in seq order, from SQLite's dbstat).
    const pageSize = old.till.db.pragma('page_size', { simple: true }) as number;
    const leaves = old.till.db
      .prepare("SELECT pageno, ncell FROM dbstat WHERE name = 'outbox' AND pagetype = 'leaf' ORDER BY path")
      .all() as Array<{ pageno: number; ncell: number }>;
    expect(leaves.length).toBeGreaterThan(3);
    const before = leaves[0]!.ncell + leaves[1]!.ncell;
    const lost = outbox.slice(before, before + leaves[2]!.ncell);
    old.till.close();
    const fd = openSync(join(old.dir, 'till.sqlite'), 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (leaves[2]!.pageno - 1) * pageSize);
    closeSync(fd);
    expect(() => Till.open({ dataDir: old.dir })).toThrow(TillDamagedError);

    const renewed = await fetch(`${hub.url}/v1/devices/till-1/enrolment-code`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    const { enrolmentCode } = (await renewed.json()) as { enrolmentCode: string };
    (await enrolTill({ dataDir: newDir, hubUrl: hub.url, enrolmentCode })).close();

    const out: string[] = [];
    const code = await runTillCli(
      ['--data', newDir, 'recover', '--from', old.dir],
      { out: (l) => out.push(l), err: (l) => out.push(l) },
      {},
    );
    expect(code).toBe(0);
    expect(out).toContain(
      `salvaged ${60 - lost.length} unsynced op(s) from ${old.dir}; run \`till sync\` to send them`,
    );
    expect(out).toContain(
      `LOST: unsynced op(s) with seq ${lost[0]!.seq}-${lost.at(-1)!.seq} were on damaged pages and could not be read`,
    );

    const till = Till.open({ dataDir: newDir });
    const agent = new SyncAgent(till.replica, FAST);
    replacement = { till, agent };
    agent.start();
    await agent.drained();
    await expectConverged(hub, replacement);

    // Every op the old till made reached the ledger once, but those on the damaged page.
    const lostIds = new Set(lost.map((e) => e.opId));
    const rows = await movementsByOp();
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    expect(rows.map((r) => r.op_id).sort()).toEqual(
      [...synced, ...outbox.filter((e) => !lostIds.has(e.opId)).map((e) => e.opId)].sort(),
    );
    expect(await hub.onHand('paris', 'LIP')).toBe(1000 - 1 - (60 - lost.length));
    expect(await ledgerMismatches(hub.db)).toEqual([]);
    expect(till.cashier.status()).toMatchObject({ outboxDepth: 0, rejected: [] });

    // A second recover finds the damaged file already salvaged: nothing is sent twice.
    await agent.stop();
    till.close();
    replacement = null;
    out.length = 0;
    expect(
      await runTillCli(
        ['--data', newDir, 'recover', '--from', old.dir],
        { out: (l) => out.push(l), err: (l) => out.push(l) },
        {},
      ),
    ).toBe(2);
    expect(out.join('\n')).toMatch(/already salvaged/);
  });
});
