import type { TillOp } from '@tillsync/sync-protocol';
import type { Queryable } from '../db/database.js';
import { AppError } from '../errors.js';
import { recordTransferIn, recordTransferOut } from '../services/transfers.js';

/**
 * Keep the transfers table in step with tills' transfer ops. The stock already moved through the
 * ledger: goods that left or arrived are a physical fact, so a mismatch (an unknown transfer, more
 * received than shipped, a reused transfer id) is opened as a conflict for people to resolve and
 * never fails the batch. Each record is tried under a savepoint so a refusal leaves the rest intact.
 */
export async function recordTillTransfers(tx: Queryable, ops: readonly TillOp[]): Promise<void> {
  for (const op of ops) {
    if (op.type !== 'transfer_out' && op.type !== 'transfer_in') continue;
    await tx.query('SAVEPOINT till_transfer');
    try {
      if (op.type === 'transfer_out') {
        await recordTransferOut(tx, {
          id: op.transferId,
          fromLocationId: op.locationId,
          toLocationId: op.toLocationId,
          reference: null,
          lines: op.lines,
        });
      } else {
        await recordTransferIn(tx, op.transferId, op.lines);
      }
      await tx.query('RELEASE SAVEPOINT till_transfer');
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      await tx.query('ROLLBACK TO SAVEPOINT till_transfer');
      await tx.query(
        `INSERT INTO conflicts (location_id, kind, op_id, details) VALUES ($1, 'transfer_mismatch', $2, $3)`,
        [
          op.locationId,
          op.opId,
          JSON.stringify({ transferId: op.transferId, code: err.code, message: err.message }),
        ],
      );
    }
  }
}
