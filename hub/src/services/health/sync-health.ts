import type { Queryable } from '../../db/database.js';
import type {
  DeviceHealth,
  HealthStatus,
  HealthThresholds,
  LocationHealth,
  SyncHealth,
} from '../../schemas/health.js';
import { compareStatus, evaluateTill, plural, worst } from './evaluate.js';

/** Sync health of the brand (or one location): three aggregate queries, then the rules of evaluate.ts. */

interface DeviceRecord {
  id: string;
  location_id: string;
  name: string;
  enrolled_at: Date;
  last_seen_at: Date | null;
  last_acked_seq: number;
  connected: boolean | null;
  connected_at: Date | null;
  disconnected_at: Date | null;
  outbox_depth: number | null;
  oldest_unsynced_age_ms: number | null;
  clock_offset_ms: number | null;
  app_version: string | null;
  protocol_version: number | null;
  last_heartbeat_at: Date | null;
  applied: number;
  duplicates: number;
  rejected: number;
  lag_max_ms: number | null;
  open_dead_letters: number;
}

interface LocationRecord {
  id: string;
  name: string;
  kind: string;
  low_stock: number;
  oversell: number;
  broken_reservation: number;
  transfer_mismatch: number;
  pickup_mismatch: number;
  open_conflicts: number;
}

export async function syncHealth(
  db: Queryable,
  thresholds: HealthThresholds,
  locationId: string | null = null,
): Promise<SyncHealth> {
  const devices = await db.query<DeviceRecord>(
    `SELECT d.id, d.location_id, d.name, d.enrolled_at, d.last_seen_at, d.last_acked_seq::int AS last_acked_seq,
       s.connected, s.connected_at, s.disconnected_at, s.outbox_depth,
       s.oldest_unsynced_age_ms::int AS oldest_unsynced_age_ms, s.clock_offset_ms, s.app_version,
       s.protocol_version, s.last_heartbeat_at,
       coalesce(a.applied, 0)::int AS applied, coalesce(a.duplicates, 0)::int AS duplicates,
       coalesce(a.rejected, 0)::int AS rejected, a.lag_max_ms::int AS lag_max_ms,
       coalesce(dl.n, 0)::int AS open_dead_letters
     FROM devices d
     LEFT JOIN device_status s ON s.device_id = d.id
     LEFT JOIN (
       SELECT device_id, sum(applied) AS applied, sum(duplicates) AS duplicates, sum(rejected) AS rejected,
              max(lag_max_ms) FILTER (WHERE applied > 0) AS lag_max_ms
       FROM sync_activity WHERE minute >= now() - interval '1 hour' GROUP BY device_id
     ) a ON a.device_id = d.id
     LEFT JOIN (
       SELECT device_id, count(*) AS n FROM dead_letters WHERE status = 'open' GROUP BY device_id
     ) dl ON dl.device_id = d.id
     WHERE d.enrolled_at IS NOT NULL AND d.revoked_at IS NULL AND ($1::text IS NULL OR d.location_id = $1)
     ORDER BY d.location_id, d.id`,
    [locationId],
  );
  const locations = await db.query<LocationRecord>(
    `SELECT l.id, l.name, l.kind, coalesce(low.n, 0)::int AS low_stock,
       coalesce(c.oversell, 0)::int AS oversell, coalesce(c.broken_reservation, 0)::int AS broken_reservation,
       coalesce(c.transfer_mismatch, 0)::int AS transfer_mismatch,
       coalesce(c.pickup_mismatch, 0)::int AS pickup_mismatch, coalesce(c.total, 0)::int AS open_conflicts
     FROM locations l
     LEFT JOIN (
       SELECT location_id, count(*) AS n FROM stock
       WHERE reorder_point > 0 AND on_hand - reserved <= reorder_point GROUP BY location_id
     ) low ON low.location_id = l.id
     LEFT JOIN (
       SELECT location_id, count(*) AS total,
         count(*) FILTER (WHERE kind = 'oversell') AS oversell,
         count(*) FILTER (WHERE kind = 'broken_reservation') AS broken_reservation,
         count(*) FILTER (WHERE kind = 'transfer_mismatch') AS transfer_mismatch,
         count(*) FILTER (WHERE kind = 'pickup_mismatch') AS pickup_mismatch
       FROM conflicts WHERE status = 'open' GROUP BY location_id
     ) c ON c.location_id = l.id
     WHERE l.active AND ($1::text IS NULL OR l.id = $1)
     ORDER BY l.id`,
    [locationId],
  );
  const now = Date.now();
  return assemble(
    devices.rows.map((r) => deviceHealth(r, thresholds, now)),
    locations.rows,
    thresholds,
    now,
  );
}

function deviceHealth(r: DeviceRecord, t: HealthThresholds, now: number): DeviceHealth {
  const beat = r.last_heartbeat_at?.getTime() ?? null;
  // Connected and heard from lately. A hub that died never recorded its tills' disconnection:
  // silence is the truth then, and the till counts as offline since it was last heard from.
  const heardAt = Math.max(beat ?? 0, r.connected_at?.getTime() ?? 0);
  const online = r.connected === true && now - heardAt < t.heartbeatStaleMs;
  const offlineSince = online
    ? null
    : r.connected === true
      ? new Date(heardAt)
      : (r.disconnected_at ?? (r.connected === null ? null : r.enrolled_at));
  // Heartbeats stop while offline, but the till keeps queueing: an op that was waiting then keeps
  // ageing. An offline till that had nothing waiting may have queued since: unknown.
  const oldest =
    r.oldest_unsynced_age_ms !== null && beat !== null && (r.outbox_depth ?? 0) > 0
      ? r.oldest_unsynced_age_ms + Math.max(0, now - beat)
      : online && r.outbox_depth === 0
        ? 0
        : null;
  const verdict = evaluateTill(
    {
      online,
      offlineSince: offlineSince?.getTime() ?? null,
      outboxDepth: r.outbox_depth,
      oldestUnsyncedAgeMs: oldest,
      clockOffsetMs: r.clock_offset_ms,
      openDeadLetters: r.open_dead_letters,
    },
    t,
    now,
  );
  return {
    deviceId: r.id,
    locationId: r.location_id,
    name: r.name,
    ...verdict,
    online,
    lastSeenAt: iso(r.last_seen_at),
    offlineSince: iso(offlineSince),
    outboxDepth: r.outbox_depth,
    oldestUnsyncedAgeMs: oldest,
    clockOffsetMs: r.clock_offset_ms,
    lastHeartbeatAt: iso(r.last_heartbeat_at),
    appVersion: r.app_version,
    protocolVersion: r.protocol_version,
    lastAckedSeq: r.last_acked_seq,
    lastHour: { applied: r.applied, duplicates: r.duplicates, rejected: r.rejected, maxLagMs: r.lag_max_ms },
    openDeadLetters: r.open_dead_letters,
  };
}

function assemble(
  devices: DeviceHealth[],
  locationRows: LocationRecord[],
  thresholds: HealthThresholds,
  now: number,
): SyncHealth {
  const byLocation = new Map<string, DeviceHealth[]>();
  for (const d of devices) byLocation.set(d.locationId, [...(byLocation.get(d.locationId) ?? []), d]);
  const locations = locationRows.map((l) => locationHealth(l, byLocation.get(l.id) ?? []));
  const count = (list: Array<{ status: HealthStatus }>, s: HealthStatus) =>
    list.filter((x) => x.status === s).length;
  const notOk = locations.filter((l) => l.status !== 'ok').sort((a, b) => compareStatus(b.status, a.status));
  const reasons = notOk.slice(0, 5).map((l) => `${l.name}: ${l.reasons[0] ?? l.status}`);
  if (notOk.length > 5) reasons.push(`and ${plural(notOk.length - 5, 'more location')}`);
  return {
    generatedAt: new Date(now).toISOString(),
    summary: {
      status: worst(locations.map((l) => l.status)),
      reasons,
      devices: {
        total: devices.length,
        online: devices.filter((d) => d.online).length,
        ok: count(devices, 'ok'),
        degraded: count(devices, 'degraded'),
        critical: count(devices, 'critical'),
      },
      locations: {
        total: locations.length,
        ok: count(locations, 'ok'),
        degraded: count(locations, 'degraded'),
        critical: count(locations, 'critical'),
      },
      outboxDepth: sum(locations.map((l) => l.outboxDepth)),
      oldestUnsyncedAgeMs: max(locations.map((l) => l.oldestUnsyncedAgeMs)),
      lastHour: sumHours(locations.map((l) => l.lastHour)),
      openConflicts: sum(locations.map((l) => l.openConflicts.total)),
      openDeadLetters: sum(locations.map((l) => l.openDeadLetters)),
      lowStockSkus: sum(locations.map((l) => l.lowStockSkus)),
    },
    thresholds,
    locations,
    devices,
  };
}

function locationHealth(l: LocationRecord, tills: DeviceHealth[]): LocationHealth {
  const reasons = tills
    .filter((d) => d.status !== 'ok')
    .sort((a, b) => compareStatus(b.status, a.status))
    .flatMap((d) => d.reasons.map((r) => `${d.name}: ${r}`));
  const statuses = tills.map((d) => d.status);
  if (l.open_conflicts > 0) {
    statuses.push('degraded');
    const kinds = (['oversell', 'broken_reservation', 'transfer_mismatch', 'pickup_mismatch'] as const)
      .filter((k) => l[k] > 0)
      .map((k) => `${l[k]} ${k.replace('_', ' ')}`);
    reasons.push(`${plural(l.open_conflicts, 'open conflict')} (${kinds.join(', ')})`);
  }
  return {
    locationId: l.id,
    name: l.name,
    kind: l.kind,
    status: worst(statuses),
    reasons,
    devices: { total: tills.length, online: tills.filter((d) => d.online).length },
    outboxDepth: sum(tills.map((d) => d.outboxDepth ?? 0)),
    oldestUnsyncedAgeMs: max(tills.map((d) => d.oldestUnsyncedAgeMs)),
    lastHour: sumHours(tills.map((d) => d.lastHour)),
    openConflicts: {
      oversell: l.oversell,
      broken_reservation: l.broken_reservation,
      transfer_mismatch: l.transfer_mismatch,
      pickup_mismatch: l.pickup_mismatch,
      total: l.open_conflicts,
    },
    openDeadLetters: sum(tills.map((d) => d.openDeadLetters)),
    lowStockSkus: l.low_stock,
  };
}

type Hour = DeviceHealth['lastHour'];
function sumHours(hours: Hour[]): Hour {
  return {
    applied: sum(hours.map((h) => h.applied)),
    duplicates: sum(hours.map((h) => h.duplicates)),
    rejected: sum(hours.map((h) => h.rejected)),
    maxLagMs: max(hours.map((h) => h.maxLagMs)),
  };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
function max(xs: Array<number | null>): number | null {
  const present = xs.filter((x): x is number => x !== null);
  return present.length === 0 ? null : Math.max(...present);
}
const iso = (d: Date | null) => d?.toISOString() ?? null;
