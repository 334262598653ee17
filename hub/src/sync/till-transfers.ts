import type { StockOp, TillOp } from '@tillsync/sync-protocol';
import type { Queryable } from '../db/database.js';
import { openConflict } from '../ledger/conflicts.js';
import type { Transfer } from '../schemas/transfers.js';
import { findTransfer, mergeLines, recordTransferIn, recordTransferOut } from '../services/transfers.js';

/*
 * A till's transfer ops, checked against the transfer record before any stock moves. The till's
 * own shelf is a physical fact; what the op claims about the transfer (its id, destination,
 * lines) and about another location (incoming raised there) is applied only as far as it holds:
 *
 *   transfer_out, new id      → ships min(claimed, on_hand at the till's store) per SKU; the
 *                               transfer record and the destination's incoming get that, no more
 *   transfer_out, known id    → nothing moves (the shipment is recorded already); a conflict
 *                               unless it is the same shipment (source, destination, lines)
 *   transfer_in, outstanding  → received against the transfer (incoming down, on_hand up)
 *   transfer_in, the rest     → a plain receipt at the till's store (units are on its shelf) and
 *     (unknown transfer, another store's, more than outstanding) a conflict; the transfer record
 *                               and every other location stay as they were
 *
 * Each mismatch opens one 'transfer_mismatch' conflict at the till's location.
 */

type TransferOutOp = Extract<TillOp, { type: 'transfer_out' }>;
type TransferInOp = Extract<TillOp, { type: 'transfer_in' }>;
export type TillTransferOp = TransferOutOp | TransferInOp;

interface Line {
  sku: string;
  qty: number;
}

export interface TransferMismatch {
  code: string;
  message: string;
  lines?: Array<{ sku: string; qty: number; applied: number }>;
}

/** What a till's transfer op becomes: ledger ops (with the type it was sent as), a record, a conflict. */
export interface TransferPlan {
  ops: StockOp[];
  /** Lines to write to the transfer record: shipped (out) or received (in). */
  record: Line[];
  mismatch: TransferMismatch | null;
}

const positive = (lines: readonly Line[]): Line[] => lines.filter((l) => l.qty > 0);

function sameLines(a: readonly Line[], b: readonly Line[]): boolean {
  const qty = new Map(a.map((l) => [l.sku, l.qty]));
  return a.length === b.length && b.every((l) => qty.get(l.sku) === l.qty);
}

/** The decision for a transfer_out, without I/O. `onHand`: the till's store, before the op. */
export function decideTransferOut(
  op: TransferOutOp,
  existing: Transfer | null,
  onHand: ReadonlyMap<string, number>,
): TransferPlan {
  const lines = mergeLines(op.lines);
  if (existing) {
    const same =
      existing.fromLocationId === op.locationId &&
      existing.toLocationId === op.toLocationId &&
      sameLines(existing.lines, lines);
    return {
      ops: [],
      record: [],
      mismatch: same
        ? null
        : {
            code: 'already_exists',
            message: `transfer ${JSON.stringify(op.transferId)} already exists from ${existing.fromLocationId} to ${existing.toLocationId} with other lines or locations; nothing moved`,
            lines: lines.map((l) => ({ ...l, applied: 0 })),
          },
    };
  }
  const shipped = lines.map((l) => ({
    sku: l.sku,
    qty: Math.min(l.qty, Math.max(0, onHand.get(l.sku) ?? 0)),
  }));
  const sent = positive(shipped);
  const short = lines.some((l, i) => shipped[i]!.qty < l.qty);
  return {
    ops: sent.length > 0 ? [{ ...op, lines: sent }] : [],
    record: sent,
    mismatch: short
      ? {
          code: 'more_than_on_hand',
          message: `transfer ${JSON.stringify(op.transferId)} claims more than ${op.locationId} had on hand; shipped what it had`,
          lines: lines.map((l, i) => ({ ...l, applied: shipped[i]!.qty })),
        }
      : null,
  };
}

/** The decision for a transfer_in, without I/O. `transfer`: the record, as locked. */
export function decideTransferIn(op: TransferInOp, transfer: Transfer | null): TransferPlan {
  const lines = mergeLines(op.lines);
  const id = JSON.stringify(op.transferId);
  const header: TransferMismatch | null = !transfer
    ? { code: 'not_found', message: `transfer ${id} is not known at the hub` }
    : transfer.toLocationId !== op.locationId
      ? { code: 'wrong_destination', message: `transfer ${id} goes to ${transfer.toLocationId}, not here` }
      : transfer.fromLocationId !== op.fromLocationId
        ? { code: 'wrong_source', message: `transfer ${id} comes from ${transfer.fromLocationId}` }
        : null;
  const outstanding = new Map(
    header === null && transfer ? transfer.lines.map((l) => [l.sku, l.qty - l.receivedQty]) : [],
  );
  const matched = lines.map((l) => ({ sku: l.sku, qty: Math.min(l.qty, outstanding.get(l.sku) ?? 0) }));
  const extra = positive(lines.map((l, i) => ({ sku: l.sku, qty: l.qty - matched[i]!.qty })));
  const received = positive(matched);
  const ops: StockOp[] = [];
  if (received.length > 0) ops.push({ ...op, lines: received });
  if (extra.length > 0) {
    const { seq: _, fromLocationId: __, transferId, ...base } = op;
    ops.push({ ...base, type: 'receive', reference: transferId, lines: extra });
  }
  const mismatch =
    header ??
    (extra.length > 0
      ? transfer?.status === 'received'
        ? { code: 'already_received', message: `transfer ${id} is already fully received` }
        : { code: 'over_receipt', message: `receiving more than is outstanding on transfer ${id}` }
      : null);
  return {
    ops,
    record: received,
    mismatch: mismatch && {
      ...mismatch,
      lines: lines.map((l, i) => ({ ...l, applied: matched[i]!.qty })),
    },
  };
}

/** Lock what a till's transfer op is checked against and decide. */
export async function checkTillTransfer(tx: Queryable, op: TillTransferOp): Promise<TransferPlan> {
  const transfer = await findTransfer(tx, op.transferId, true);
  if (op.type === 'transfer_in') return decideTransferIn(op, transfer);
  const { rows } = await tx.query<{ sku: string; on_hand: number }>(
    'SELECT sku, on_hand FROM stock WHERE location_id = $1 AND sku = ANY($2::text[]) ORDER BY sku FOR UPDATE',
    [op.locationId, op.lines.map((l) => l.sku)],
  );
  return decideTransferOut(op, transfer, new Map(rows.map((r) => [r.sku, r.on_hand])));
}

/** Write the transfer record and the conflict a checked op's plan calls for. */
export async function recordTillTransfer(
  tx: Queryable,
  op: TillTransferOp,
  plan: TransferPlan,
): Promise<void> {
  if (plan.record.length > 0) {
    if (op.type === 'transfer_out') {
      await recordTransferOut(tx, {
        id: op.transferId,
        fromLocationId: op.locationId,
        toLocationId: op.toLocationId,
        reference: null,
        lines: plan.record,
      });
    } else {
      await recordTransferIn(tx, op.transferId, plan.record);
    }
  }
  if (plan.mismatch) {
    await openConflict(tx, {
      locationId: op.locationId,
      kind: 'transfer_mismatch',
      sku: op.lines[0]?.sku ?? null,
      opId: op.opId,
      details: { transferId: op.transferId, opType: op.type, ...plan.mismatch },
    });
  }
}
