import type { Queryable } from '../../db/database.js';
import type { SyncActivity } from '../../schemas/health.js';

/** Ops/minute and sync lag per minute over the last `hours`, zero-filled, for the dashboard's charts. */
export async function syncActivity(
  db: Queryable,
  hours: number,
  locationId: string | null = null,
): Promise<SyncActivity> {
  const { rows } = await db.query<{
    minute: Date;
    applied: number;
    duplicates: number;
    rejected: number;
    avg_lag_ms: number | null;
    max_lag_ms: number | null;
  }>(
    `WITH minutes AS (
       SELECT generate_series(date_trunc('minute', now()) - make_interval(hours => $1::int) + interval '1 minute',
                              date_trunc('minute', now()), interval '1 minute') AS minute
     ), activity AS (
       SELECT minute, sum(applied) AS applied, sum(duplicates) AS duplicates, sum(rejected) AS rejected,
              sum(lag_sum_ms) AS lag_sum, max(lag_max_ms) FILTER (WHERE applied > 0) AS lag_max
       FROM sync_activity
       WHERE minute > now() - make_interval(hours => $1::int) - interval '1 minute'
         AND ($2::text IS NULL OR location_id = $2)
       GROUP BY minute
     )
     SELECT m.minute, coalesce(a.applied, 0)::int AS applied, coalesce(a.duplicates, 0)::int AS duplicates,
       coalesce(a.rejected, 0)::int AS rejected,
       CASE WHEN a.applied > 0 THEN round(a.lag_sum / a.applied)::int END AS avg_lag_ms,
       a.lag_max::int AS max_lag_ms
     FROM minutes m LEFT JOIN activity a ON a.minute = m.minute
     ORDER BY m.minute`,
    [hours, locationId],
  );
  const points = rows.map((r) => ({
    minute: r.minute.toISOString(),
    applied: r.applied,
    duplicates: r.duplicates,
    rejected: r.rejected,
    avgLagMs: r.avg_lag_ms,
    maxLagMs: r.max_lag_ms,
  }));
  return {
    from: points[0]?.minute ?? new Date().toISOString(),
    to: points[points.length - 1]?.minute ?? new Date().toISOString(),
    locationId,
    points,
  };
}

/** Activity rows older than this are dropped by the sync-alerts job. */
export const ACTIVITY_RETENTION_DAYS = 7;

export async function pruneActivity(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM sync_activity WHERE minute < now() - make_interval(days => $1::int)`,
    [ACTIVITY_RETENTION_DAYS],
  );
  return rowCount;
}
