import type { Database, Queryable } from '../../db/database.js';
import { decodeCursor, pageOf } from '../../http/pagination.js';
import { type Alert, AlertType, type HealthThresholds } from '../../schemas/health.js';
import { emitEvent } from '../events.js';
import { formatDuration, plural } from './evaluate.js';

/*
 * Alerts are events (table `events`, delivered to webhooks like any other): till.offline,
 * till.online and till.lagging are raised here by the sync-alerts job; conflict.opened and stock.low
 * by database triggers (migrations/006_health.sql, 019), so no code path can open a conflict or
 * lower stock without raising them; webhook.disabled by webhook delivery (webhooks/subscriptions.ts). Each till alert is raised once per episode: the UPDATE … WHERE
 * <flag> IS NULL claims it under a row lock, so two hub instances never raise it twice.
 */

interface TillEpisode {
  device_id: string;
  location_id: string;
  name: string;
  offline_since: Date | null;
  connected_at: Date | null;
  outbox_depth: number | null;
  oldest_unsynced_age_ms: number | null;
}

/** When a till went quiet: its disconnection, or for a "connected" but silent one, when last heard. */
const OFFLINE_SINCE = `CASE WHEN s.connected THEN greatest(s.last_heartbeat_at, s.connected_at)
  ELSE s.disconnected_at END`;
const returning = (offlineSince: string) => `RETURNING s.device_id, d.location_id, d.name,
  ${offlineSince} AS offline_since, s.connected_at, s.outbox_depth,
  s.oldest_unsynced_age_ms::int AS oldest_unsynced_age_ms`;

/** One round of the sync-alerts job: returns how many alerts it raised. */
export async function raiseTillAlerts(db: Database, t: HealthThresholds): Promise<number> {
  return db.transaction(async (tx) => {
    // Offline: disconnected, or "connected" but silent (a hub that died never recorded the end).
    const offline = await tx.query<TillEpisode>(
      `UPDATE device_status s SET offline_alerted_at = now() FROM devices d
       WHERE d.id = s.device_id AND d.revoked_at IS NULL AND s.offline_alerted_at IS NULL
         AND ${OFFLINE_SINCE} <= now() - make_interval(secs => $1::double precision / 1000)
       ${returning(OFFLINE_SINCE)}`,
      [t.offlineAlertMs],
    );
    for (const e of offline.rows) {
      await emitEvent(tx, 'till.offline', episode(e), e.location_id);
    }
    const back = await tx.query<TillEpisode>(
      `UPDATE device_status s SET offline_alerted_at = NULL FROM devices d
       WHERE d.id = s.device_id AND s.connected AND s.offline_alerted_at IS NOT NULL
         AND greatest(s.last_heartbeat_at, s.connected_at) > s.offline_alerted_at
       ${returning('s.disconnected_at')}`,
    );
    for (const e of back.rows) {
      await emitEvent(tx, 'till.online', episode(e), e.location_id);
    }
    const lagging = await tx.query<TillEpisode>(
      `UPDATE device_status s SET lag_alerted_at = now() FROM devices d
       WHERE d.id = s.device_id AND d.revoked_at IS NULL AND s.connected AND s.lag_alerted_at IS NULL
         AND s.outbox_depth > 0 AND s.oldest_unsynced_age_ms >= $1
       ${returning('s.disconnected_at')}`,
      [t.lagAlertMs],
    );
    for (const e of lagging.rows) {
      await emitEvent(tx, 'till.lagging', episode(e), e.location_id);
    }
    // Caught up: the next lag episode may alert again.
    await tx.query(
      `UPDATE device_status SET lag_alerted_at = NULL
       WHERE lag_alerted_at IS NOT NULL AND (coalesce(outbox_depth, 0) = 0 OR oldest_unsynced_age_ms < $1)`,
      [t.lagAlertMs],
    );
    return offline.rows.length + back.rows.length + lagging.rows.length;
  });
}

function episode(e: TillEpisode): Record<string, unknown> {
  return {
    deviceId: e.device_id,
    deviceName: e.name,
    locationId: e.location_id,
    offlineSince: e.offline_since?.toISOString() ?? null,
    connectedAt: e.connected_at?.toISOString() ?? null,
    outboxDepth: e.outbox_depth,
    oldestUnsyncedAgeMs: e.oldest_unsynced_age_ms,
  };
}

export interface AlertFilter {
  locationId?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** Alerts newest first (keyset on id, served by the events_alerts partial index). */
export async function listAlerts(db: Queryable, f: AlertFilter) {
  const before = f.cursor ? Number(decodeCursor(f.cursor, 1)[0]) : null;
  const { rows } = await db.query<{
    id: number;
    event_id: string;
    type: AlertType;
    location_id: string | null;
    payload: Record<string, unknown>;
    created_at: Date;
  }>(
    `SELECT id::int AS id, event_id, type, location_id, payload, created_at FROM events
     WHERE type IN (${AlertType.options.map((t) => `'${t}'`).join(', ')})
       AND ($1::text IS NULL OR location_id = $1) AND ($2::bigint IS NULL OR id < $2)
     ORDER BY id DESC LIMIT $3`,
    [f.locationId ?? null, before, f.limit + 1],
  );
  return pageOf(
    rows,
    f.limit,
    (r) => [r.id],
    (r): Alert => ({
      id: r.id,
      eventId: r.event_id,
      type: r.type,
      locationId: r.location_id,
      message: alertMessage(r.type, r.payload, r.created_at.getTime()),
      payload: r.payload,
      createdAt: r.created_at.toISOString(),
    }),
  );
}

/** One line for humans, from the event's payload. */
export function alertMessage(type: AlertType, p: Record<string, unknown>, at: number): string {
  const str = (k: string) => (typeof p[k] === 'string' ? (p[k] as string) : '');
  const num = (k: string) => (typeof p[k] === 'number' ? (p[k] as number) : null);
  const till = `Till ${str('deviceName') || str('deviceId')} (${str('locationId')})`;
  const waiting = num('outboxDepth') ? `, ${plural(num('outboxDepth') ?? 0, 'op')} waiting` : '';
  switch (type) {
    case 'till.offline': {
      const since = Date.parse(str('offlineSince'));
      return `${till} offline${Number.isNaN(since) ? '' : ` for ${formatDuration(at - since)}`}${waiting}`;
    }
    case 'till.online': {
      const since = Date.parse(str('offlineSince'));
      const back = Date.parse(str('connectedAt'));
      const gap = Number.isNaN(since) || Number.isNaN(back) ? '' : ` after ${formatDuration(back - since)}`;
      return `${till} back online${gap}`;
    }
    case 'till.lagging':
      return `${till} lagging: oldest unsynced op ${formatDuration(num('oldestUnsyncedAgeMs') ?? 0)} old${waiting}`;
    case 'conflict.opened': {
      const sku = str('sku') ? ` on ${str('sku')}` : '';
      const details = (p.details ?? {}) as Record<string, unknown>;
      const after = typeof details.onHandAfter === 'number' ? ` (on hand now ${details.onHandAfter})` : '';
      return `${str('kind').replaceAll('_', ' ')} at ${str('locationId')}${sku}${after}`;
    }
    case 'stock.low':
      return `${str('sku')} low at ${str('locationId')}: ${num('available')} available, reorder point ${num('reorderPoint')}`;
    case 'sync.incident': {
      const lost = num('opsLost')
        ? `, ${plural(num('opsLost') ?? 0, 'op')} lost (seqs ${num('lostFrom')}–${num('lostTo')})`
        : ', nothing lost';
      return `Till ${str('deviceId')} (${str('locationId')}) was ahead of the hub (restored from an older backup?): hub at seq ${num('hubSeq')}, till at ${num('tillSeq')}; ${plural(num('opsResent') ?? 0, 'op')} re-sent${lost}`;
    }
    case 'webhook.disabled':
      return `Webhook ${str('url')} disabled: ${str('disabledReason')}`;
  }
}
