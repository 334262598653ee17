import { parseHlc, type TillOp } from '@tillsync/sync-protocol';
import type { Queryable } from '../db/database.js';
import type { PushingDevice } from './push.js';

/**
 * Count one push batch into the till's per-minute activity row (table sync_activity, read by
 * HQ health and the dashboard's charts): one upsert per batch, in the batch's transaction.
 * `rejected` counts new refusals only (a resent refusal is answered again, not counted again).
 * Sync lag of an op = now − its HLC wall time (the till's clock, corrected by the hub's offset).
 */
export async function recordSyncActivity(
  tx: Queryable,
  device: PushingDevice,
  batch: { applied: readonly TillOp[]; duplicates: number; rejected: number },
  now = Date.now(),
): Promise<void> {
  const { applied: appliedOps, duplicates, rejected } = batch;
  let lagSum = 0;
  let lagMax = 0;
  for (const op of appliedOps) {
    const lag = Math.max(0, now - parseHlc(op.hlc).wall);
    lagSum += lag;
    if (lag > lagMax) lagMax = lag;
  }
  if (appliedOps.length + duplicates + rejected === 0) return;
  await tx.query(
    `INSERT INTO sync_activity AS a (device_id, minute, location_id, applied, duplicates, rejected, lag_sum_ms, lag_max_ms)
     VALUES ($1, date_trunc('minute', to_timestamp($2::double precision / 1000)), $3, $4, $5, $6, $7, $8)
     ON CONFLICT (device_id, minute) DO UPDATE SET
       applied = a.applied + excluded.applied, duplicates = a.duplicates + excluded.duplicates,
       rejected = a.rejected + excluded.rejected, lag_sum_ms = a.lag_sum_ms + excluded.lag_sum_ms,
       lag_max_ms = greatest(a.lag_max_ms, excluded.lag_max_ms)`,
    [device.deviceId, now, device.locationId, appliedOps.length, duplicates, rejected, lagSum, lagMax],
  );
}
