import { DeviceId, LocationId } from '@tillsync/sync-protocol';
import { z } from 'zod';

/** ok < degraded < critical; a location or the brand takes the worst of what it contains. */
export const HealthStatus = z.enum(['ok', 'degraded', 'critical']).meta({ id: 'HealthStatus' });
export type HealthStatus = z.infer<typeof HealthStatus>;

/** Activity of the last hour (from the per-minute sync_activity rollup). */
const LastHour = z.object({
  applied: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.number().int(),
  /** Worst sync lag of an op applied in the last hour (hub apply time − till op time). */
  maxLagMs: z.number().int().nullable(),
});

export const DeviceHealth = z
  .object({
    deviceId: DeviceId,
    locationId: LocationId,
    name: z.string(),
    status: HealthStatus,
    /** Why the status is not ok, in words HQ can act on (empty when ok). */
    reasons: z.array(z.string()),
    online: z.boolean(),
    lastSeenAt: z.string().nullable(),
    /** Since when it has been offline (null when online). */
    offlineSince: z.string().nullable(),
    /** From the last heartbeat (as of lastHeartbeatAt; frozen while offline). */
    outboxDepth: z.number().int().nullable(),
    oldestUnsyncedAgeMs: z.number().int().nullable(),
    clockOffsetMs: z.number().int().nullable(),
    lastHeartbeatAt: z.string().nullable(),
    appVersion: z.string().nullable(),
    protocolVersion: z.number().int().nullable(),
    lastAckedSeq: z.number().int(),
    lastHour: LastHour,
    openDeadLetters: z.number().int(),
  })
  .meta({ id: 'DeviceHealth' });
export type DeviceHealth = z.infer<typeof DeviceHealth>;

export const ConflictCounts = z.object({
  oversell: z.number().int(),
  broken_reservation: z.number().int(),
  transfer_mismatch: z.number().int(),
  pickup_mismatch: z.number().int(),
  total: z.number().int(),
});

export const LocationHealth = z
  .object({
    locationId: LocationId,
    name: z.string(),
    kind: z.string(),
    status: HealthStatus,
    reasons: z.array(z.string()),
    devices: z.object({ total: z.number().int(), online: z.number().int() }),
    /** Sum of the tills' last reported outbox depths. */
    outboxDepth: z.number().int(),
    oldestUnsyncedAgeMs: z.number().int().nullable(),
    lastHour: LastHour,
    openConflicts: ConflictCounts,
    openDeadLetters: z.number().int(),
    /** SKUs at or below their reorder point here. */
    lowStockSkus: z.number().int(),
  })
  .meta({ id: 'LocationHealth' });
export type LocationHealth = z.infer<typeof LocationHealth>;

export const HealthThresholds = z
  .object({
    heartbeatStaleMs: z.number().int(),
    lagDegradedMs: z.number().int(),
    lagCriticalMs: z.number().int(),
    offlineCriticalMs: z.number().int(),
    clockSkewMs: z.number().int(),
    offlineAlertMs: z.number().int(),
    lagAlertMs: z.number().int(),
  })
  .meta({ id: 'HealthThresholds' });
export type HealthThresholds = z.infer<typeof HealthThresholds>;

export const SyncHealth = z
  .object({
    generatedAt: z.string(),
    summary: z.object({
      status: HealthStatus,
      reasons: z.array(z.string()),
      devices: z.object({
        total: z.number().int(),
        online: z.number().int(),
        ok: z.number().int(),
        degraded: z.number().int(),
        critical: z.number().int(),
      }),
      locations: z.object({
        total: z.number().int(),
        ok: z.number().int(),
        degraded: z.number().int(),
        critical: z.number().int(),
      }),
      outboxDepth: z.number().int(),
      oldestUnsyncedAgeMs: z.number().int().nullable(),
      lastHour: LastHour,
      openConflicts: z.number().int(),
      openDeadLetters: z.number().int(),
      lowStockSkus: z.number().int(),
    }),
    thresholds: HealthThresholds,
    locations: z.array(LocationHealth),
    devices: z.array(DeviceHealth),
  })
  .meta({ id: 'SyncHealth' });
export type SyncHealth = z.infer<typeof SyncHealth>;

/** One minute of sync activity (zero-filled). */
export const ActivityPoint = z.object({
  minute: z.string(),
  applied: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.number().int(),
  avgLagMs: z.number().int().nullable(),
  maxLagMs: z.number().int().nullable(),
});
export const SyncActivity = z
  .object({
    from: z.string(),
    to: z.string(),
    locationId: LocationId.nullable(),
    points: z.array(ActivityPoint),
  })
  .meta({ id: 'SyncActivity' });
export type SyncActivity = z.infer<typeof SyncActivity>;

export const AlertType = z.enum([
  'till.offline',
  'till.online',
  'till.lagging',
  'conflict.opened',
  'stock.low',
  'sync.incident',
  'webhook.disabled',
]);
export type AlertType = z.infer<typeof AlertType>;

export const Alert = z
  .object({
    id: z.number().int(),
    eventId: z.string(),
    type: AlertType,
    locationId: LocationId.nullable(),
    /** One line for humans ("till paris-1 offline for 6 min, 14 ops waiting"). */
    message: z.string(),
    payload: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
  })
  .meta({ id: 'Alert' });
export type Alert = z.infer<typeof Alert>;

/** What the /hq Socket.IO namespace pushes to dashboards on every change (and every few seconds). */
export interface HqUpdate {
  health: SyncHealth;
  /** Newest first, at most 50. */
  alerts: Alert[];
}
