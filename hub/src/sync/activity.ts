import { parseHlc, type TillOp } from '@tillsync/sync-protocol';

/*
 * Push batches counted into their tills' per-minute activity rows (table sync_activity, read by
 * HQ health and the dashboard's charts; this module is its one writer): one upsert per settled
 * group, in its transaction, a row per device. `rejected` counts new refusals only (a resent
 * refusal is answered again, not counted again). Sync lag of an op = now − its HLC wall time (the
 * till's clock, corrected by the hub's offset).
 */

export interface SyncActivityBatch {
  deviceId: string;
  locationId: string;
  applied: readonly TillOp[];
  duplicates: number;
  rejected: number;
}

/**
 * The upsert, a statement with named parameters `$activity…` (values: `syncActivityValues`): the
 * push path runs it inside its bookkeeping statement (one round trip). A batch that counted
 * nothing writes nothing.
 */
export const SYNC_ACTIVITY_UPSERT = `INSERT INTO sync_activity AS a (device_id, minute, location_id, applied, duplicates, rejected, lag_sum_ms, lag_max_ms)
     SELECT b.device_id, date_trunc('minute', to_timestamp($activityNow::double precision / 1000)), b.location_id,
       b.applied, b.duplicates, b.rejected, b.lag_sum_ms, b.lag_max_ms
     FROM unnest($activityDevices::text[], $activityLocations::text[], $activityApplied::int[],
       $activityDuplicates::int[], $activityRejected::int[], $activityLagSums::bigint[], $activityLagMaxes::bigint[])
       AS b (device_id, location_id, applied, duplicates, rejected, lag_sum_ms, lag_max_ms)
     WHERE b.applied + b.duplicates + b.rejected > 0
     ON CONFLICT (device_id, minute) DO UPDATE SET
       applied = a.applied + excluded.applied, duplicates = a.duplicates + excluded.duplicates,
       rejected = a.rejected + excluded.rejected, lag_sum_ms = a.lag_sum_ms + excluded.lag_sum_ms,
       lag_max_ms = greatest(a.lag_max_ms, excluded.lag_max_ms)`;

/** The upsert's parameters for batches of distinct devices. */
export function syncActivityValues(
  batches: readonly SyncActivityBatch[],
  now = Date.now(),
): Record<string, unknown> {
  const lag = batches.map((b) => {
    let sum = 0;
    let max = 0;
    for (const op of b.applied) {
      const ms = Math.max(0, now - parseHlc(op.hlc).wall);
      sum += ms;
      if (ms > max) max = ms;
    }
    return { sum, max };
  });
  return {
    activityNow: now,
    activityDevices: batches.map((b) => b.deviceId),
    activityLocations: batches.map((b) => b.locationId),
    activityApplied: batches.map((b) => b.applied.length),
    activityDuplicates: batches.map((b) => b.duplicates),
    activityRejected: batches.map((b) => b.rejected),
    activityLagSums: lag.map((l) => l.sum),
    activityLagMaxes: lag.map((l) => l.max),
  };
}
