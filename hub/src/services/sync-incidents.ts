import type { Queryable } from '../db/database.js';
import { decodeCursor, pageOf } from '../http/pagination.js';
import type { SyncIncident } from '../schemas/devices.js';

/*
 * Tills found ahead of the hub (sync/restore-recovery.ts records them), as HQ and store managers
 * read them. Progress is read from the device's acked seq, so pushes need not touch incidents.
 */

export interface SyncIncidentFilter {
  locationId?: string | undefined;
  deviceId?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

interface IncidentRecord {
  id: number;
  location_id: string;
  device_id: string;
  hub_seq: number;
  till_seq: number;
  resend_from: number;
  lost_from: number | null;
  lost_to: number | null;
  ops_lost: number;
  device_acked: number;
  detected_at: Date;
}

/** Newest first. */
export async function listSyncIncidents(db: Queryable, f: SyncIncidentFilter) {
  const before = f.cursor ? Number(decodeCursor(f.cursor, 1)[0]) : null;
  const { rows } = await db.query<IncidentRecord>(
    `SELECT i.id::int AS id, i.location_id, i.device_id, i.hub_seq::int AS hub_seq,
       i.till_seq::int AS till_seq, i.resend_from::int AS resend_from, i.lost_from::int AS lost_from,
       i.lost_to::int AS lost_to, i.ops_lost, d.last_acked_seq::int AS device_acked, i.detected_at
     FROM sync_incidents i JOIN devices d ON d.id = i.device_id
     WHERE ($1::text IS NULL OR i.location_id = $1) AND ($2::text IS NULL OR i.device_id = $2)
       AND ($3::bigint IS NULL OR i.id < $3)
     ORDER BY i.id DESC LIMIT $4`,
    [f.locationId ?? null, f.deviceId ?? null, before, f.limit + 1],
  );
  return pageOf(
    rows,
    f.limit,
    (r) => [r.id],
    (r): SyncIncident => ({
      id: r.id,
      locationId: r.location_id,
      deviceId: r.device_id,
      hubSeq: r.hub_seq,
      tillSeq: r.till_seq,
      resendFrom: r.resend_from,
      opsRecovered: Math.max(0, Math.min(r.device_acked, r.till_seq) - r.resend_from + 1),
      opsLost: r.ops_lost,
      lostFrom: r.lost_from,
      lostTo: r.lost_to,
      status: r.device_acked >= r.till_seq ? 'recovered' : 'recovering',
      detectedAt: r.detected_at.toISOString(),
    }),
  );
}
