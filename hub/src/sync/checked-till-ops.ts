import type { StockOp, TillOp } from '@tillsync/sync-protocol';
import type { Queryable } from '../db/database.js';
import type { AppliedBatch, ApplyOptions, LedgerOp } from '../ledger/apply.js';
import type { ReservationChangeAt } from '../ledger/reservation-feed.js';
import { checkTillPickup, recordTillPickup } from '../services/orders/index.js';
import { checkTillTransfer, recordTillTransfer } from './till-transfers.js';

/*
 * Tills' accepted ops through the ledger, in order (a push group's, device after device, each in
 * seq order). Transfers and pickups make claims beyond
 * the till's own shelf (a transfer record, another location's incoming, an order's hold), so each
 * is checked first and applied as far as it holds (till-transfers.ts, services/orders/till.ts).
 * Plain ops go in runs, one ledger call per run; a transfer_out ends the run before it, since its
 * check reads the on_hand the ops before it leave.
 */

type Apply = (ops: LedgerOp[], options?: ApplyOptions) => Promise<AppliedBatch>;

export async function applyCheckedTillOps(
  tx: Queryable,
  apply: Apply,
  entries: ReadonlyArray<{ deviceId: string; op: TillOp }>,
  options?: ApplyOptions,
): Promise<ReservationChangeAt[]> {
  const changes: ReservationChangeAt[] = [];
  let run: LedgerOp[] = [];
  let deviceId = '';
  const add = (sent: TillOp, applied: readonly StockOp[]) => {
    for (const op of applied) {
      run.push({
        op,
        actor: `device:${deviceId}`,
        deviceId,
        reference: referenceOf(sent),
        ...(op.type === sent.type ? {} : { sentAs: sent.type }),
      });
    }
  };
  const flush = async () => {
    if (run.length > 0) await apply(run, options);
    run = [];
  };
  for (const entry of entries) {
    const { op } = entry;
    deviceId = entry.deviceId;
    if (op.type === 'transfer_out' || op.type === 'transfer_in') {
      if (op.type === 'transfer_out') await flush();
      const plan = await checkTillTransfer(tx, op);
      add(op, plan.ops);
      await recordTillTransfer(tx, op, plan);
    } else if (op.type === 'pickup') {
      const pickup = { ...op, deviceId };
      const check = await checkTillPickup(tx, pickup);
      const base = { opId: op.opId, hlc: op.hlc, locationId: op.locationId };
      add(op, [
        ...(check.held.length > 0 ? [{ ...op, lines: check.held }] : []),
        // Handed over but not this order's to take here: off the shelf, not off reserved.
        ...(check.unheld.length > 0
          ? [{ ...base, type: 'adjust' as const, reason: 'shrink' as const, lines: check.unheld }]
          : []),
      ]);
      changes.push(...(await recordTillPickup(tx, pickup, check)));
    } else {
      add(op, [op]);
    }
  }
  await flush();
  return changes;
}

function referenceOf(op: TillOp): string | null {
  switch (op.type) {
    case 'sale':
    case 'return':
      return op.receiptId;
    case 'transfer_out':
    case 'transfer_in':
      return op.transferId;
    case 'pickup':
      return op.orderId;
    case 'receive':
      return op.reference ?? null;
    default:
      return null;
  }
}
