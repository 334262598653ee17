import type { Hlc, HybridClock, TillOp } from '@tillsync/sync-protocol';
import type { Queryable } from '../db/database.js';
import { openConflict } from '../ledger/conflicts.js';

/*
 * Bounding the clock stamps tills send. A count's stamp decides which changes it absorbs, so a
 * till whose clock ran 30 days ahead would have its count absorb every other writer's change on
 * that row for 30 days. Nothing can happen in the future: an op stamped further ahead of the
 * hub's time than its clock accepts (`maxForwardDriftMs`, TILLSYNC_MAX_CLOCK_AHEAD_SECONDS) is
 * restamped with the hub's clock as it is applied, and a `clock_skew` conflict keeps the original.
 *
 * Every accepted stamp is also received by the hub's clock (bounded, so it is never dragged more
 * than that ahead), so hub-made changes after a till's op order after it, and a restamped op of a
 * batch still orders after the till's earlier ones: a till's ops keep their order.
 */

export interface Restamped {
  opId: string;
  seq: number;
  originalHlc: Hlc;
  hlc: Hlc;
  aheadMs: number;
}

/** The ops with every stamp too far ahead replaced by the hub clock's, in order; no I/O. */
export function boundStamps(
  ops: readonly TillOp[],
  clock: HybridClock,
): { ops: TillOp[]; restamped: Restamped[] } {
  const restamped: Restamped[] = [];
  const bounded = ops.map((op) => {
    const aheadMs = clock.aheadBy(op.hlc);
    if (aheadMs <= clock.maxForwardDriftMs) {
      clock.receive(op.hlc);
      return op;
    }
    const hlc = clock.tick();
    restamped.push({ opId: op.opId, seq: op.seq, originalHlc: op.hlc, hlc, aheadMs });
    return { ...op, hlc };
  });
  return { ops: bounded, restamped };
}

/** Bound a device's ops before the ledger applies them; a batch that needed it opens one conflict. */
export async function boundTillClocks(
  tx: Queryable,
  clock: HybridClock,
  device: { deviceId: string; locationId: string },
  ops: readonly TillOp[],
): Promise<readonly TillOp[]> {
  const bounded = boundStamps(ops, clock);
  if (bounded.restamped.length === 0) return ops;
  await openConflict(tx, {
    locationId: device.locationId,
    kind: 'clock_skew',
    opId: bounded.restamped[0]!.opId,
    details: { deviceId: device.deviceId, maxAheadMs: clock.maxForwardDriftMs, ops: bounded.restamped },
  });
  return bounded.ops;
}
