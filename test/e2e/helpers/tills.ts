import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrolTill, SyncAgent, type SyncAgentOptions, Till } from '@tillsync/pos-client';
import { effectsOf, type StockRow, stockChecksum, type TillOp } from '@tillsync/sync-protocol';
import { expect } from 'vitest';
import type { Queryable } from '../../../hub/src/db/database.js';
import { locationRows } from '../../../hub/src/ledger/stock-feed.js';

/** A hub a till can enrol at: where it listens, and how to get a till an enrolment code. */
export interface EnrollingHub {
  url: string;
  enrolmentCode(locationId: string, id?: string): Promise<string>;
}

/** Where a hub's rows can be read (its database). */
export interface HubRows {
  db: Queryable;
}

/** Fast timings for tests: quick reconnects, frequent drift checks. */
export const FAST: SyncAgentOptions = {
  backoff: { baseMs: 50, maxMs: 400 },
  heartbeatMs: 500,
  checksumMs: 60_000,
  requestTimeoutMs: 3_000,
};

export interface TestTill {
  id: string;
  dir: string;
  till: Till;
  agent: SyncAgent;
  /** Close the till process's database (as if the process ended), keeping its data directory. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** A real till: SQLite file in a temp dir, enrolled at the hub, syncing over a real socket. */
export async function startTill(
  hub: EnrollingHub,
  locationId: string,
  id: string,
  options: SyncAgentOptions = FAST,
  /** Where the till reaches the hub (a fault proxy in front of it, say). */
  hubUrl = hub.url,
): Promise<TestTill> {
  const dir = mkdtempSync(join(tmpdir(), `till-${id}-`));
  const till = await enrolTill({
    dataDir: dir,
    hubUrl,
    enrolmentCode: await hub.enrolmentCode(locationId, id),
  });
  const t: TestTill = {
    id,
    dir,
    till,
    agent: new SyncAgent(till.replica, options),
    async restart() {
      await t.agent.stop();
      t.till.close();
      t.till = Till.open({ dataDir: dir });
      t.agent = new SyncAgent(t.till.replica, options);
      t.agent.start();
    },
    async close() {
      await t.agent.stop();
      t.till.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  t.agent.start();
  await t.agent.drained();
  return t;
}

/**
 * Invariant 2: once quiet, a till's view of its location equals the hub's rows. "Quiet" includes
 * the hub's pushes of other tills' changes still on the wire, so compare until equal (or time out).
 */
export async function expectConverged(
  hub: HubRows,
  t: Pick<TestTill, 'till' | 'agent'>,
  timeoutMs = 5_000,
): Promise<void> {
  await t.agent.drained();
  const locationId = t.till.replica.enrolment!.locationId;
  const byKey = (a: StockRow, b: StockRow) => a.sku.localeCompare(b.sku);
  const views = async () => ({
    till: t.till.cashier.allStock().sort(byKey),
    hub: (await locationRows(hub.db, locationId)).sort(byKey),
  });
  const deadline = Date.now() + timeoutMs;
  let seen = await views();
  while (JSON.stringify(seen.till) !== JSON.stringify(seen.hub) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    seen = await views();
  }
  expect(seen.till).toEqual(seen.hub);
  expect(t.till.replica.baseChecksum()).toBe(stockChecksum(seen.hub));
}

/** Invariant 1: every op is in the hub's ledger exactly once: one movement per effect, no more. */
export async function expectLedgerOnce(hub: HubRows, ops: readonly TillOp[]): Promise<void> {
  const { rows } = await hub.db.query<{ op_id: string; n: number }>(
    'SELECT op_id::text AS op_id, count(*)::int AS n FROM movements WHERE op_id = ANY($1::uuid[]) GROUP BY op_id',
    [ops.map((o) => o.opId)],
  );
  const counted = new Map(rows.map((r) => [r.op_id, r.n]));
  for (const op of ops)
    expect({ op: op.opId, movements: counted.get(op.opId) }).toEqual({
      op: op.opId,
      movements: effectsOf(op).length,
    });
}
