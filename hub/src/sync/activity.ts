import { parseHlc, type TillOp } from '@tillsync/sync-protocol';
import type { PushingDevice } from './push.js';

/*
 * One push batch counted into the till's per-minute activity row (table sync_activity, read by
 * HQ health and the dashboard's charts): one upsert per batch, in the batch's transaction.
 * `rejected` counts new refusals only (a resent refusal is answered again, not counted again).
 * Sync lag of an op = now − its HLC wall time (the till's clock, corrected by the hub's offset).
 */

export interface SyncActivityBatch {
  applied: readonly TillOp[];
  duplicates: number;
  rejected: number;
}

/**
 * The upsert, as a statement whose 8 values are parameters $first…$first+7 (in the order of
 * `syncActivityValues`): the push path runs it inside a statement of its own (one round trip).
 * Nothing is written for a batch that counted nothing.
 */
export function syncActivityUpsert(first: number): string {
  const p = (i: number) => `$${first + i}`;
  return `INSERT INTO sync_activity AS a (device_id, minute, location_id, applied, duplicates, rejected, lag_sum_ms, lag_max_ms)
     SELECT ${p(0)}::text, date_trunc('minute', to_timestamp(${p(1)}::double precision / 1000)), ${p(2)}::text,
       ${p(3)}::int, ${p(4)}::int, ${p(5)}::int, ${p(6)}::bigint, ${p(7)}::bigint
     WHERE ${p(3)}::int + ${p(4)}::int + ${p(5)}::int > 0
     ON CONFLICT (device_id, minute) DO UPDATE SET
       applied = a.applied + excluded.applied, duplicates = a.duplicates + excluded.duplicates,
       rejected = a.rejected + excluded.rejected, lag_sum_ms = a.lag_sum_ms + excluded.lag_sum_ms,
       lag_max_ms = greatest(a.lag_max_ms, excluded.lag_max_ms)`;
}

/** The upsert's parameters for one batch. */
export function syncActivityValues(
  device: PushingDevice,
  batch: SyncActivityBatch,
  now = Date.now(),
): unknown[] {
  const { applied: appliedOps, duplicates, rejected } = batch;
  let lagSum = 0;
  let lagMax = 0;
  for (const op of appliedOps) {
    const lag = Math.max(0, now - parseHlc(op.hlc).wall);
    lagSum += lag;
    if (lag > lagMax) lagMax = lag;
  }
  return [device.deviceId, now, device.locationId, appliedOps.length, duplicates, rejected, lagSum, lagMax];
}
