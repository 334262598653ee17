import type { HandshakeAuth, Heartbeat } from '@tillsync/sync-protocol';
import type { Queryable } from '../db/database.js';
import { markDeviceSeen } from '../services/devices.js';

/** What HQ sees of each till: connection state and its last heartbeat. */

export async function recordConnected(
  db: Queryable,
  deviceId: string,
  handshake: HandshakeAuth,
): Promise<void> {
  await db.query(
    `INSERT INTO device_status (device_id, connected, connected_at, app_version, protocol_version)
     VALUES ($1, true, now(), $2, $3)
     ON CONFLICT (device_id) DO UPDATE SET connected = true, connected_at = now(),
       app_version = excluded.app_version, protocol_version = excluded.protocol_version`,
    [deviceId, handshake.appVersion ?? null, handshake.protocolVersion],
  );
  await markDeviceSeen(db, deviceId);
}

export async function recordDisconnected(db: Queryable, deviceId: string): Promise<void> {
  await db.query('UPDATE device_status SET connected = false, disconnected_at = now() WHERE device_id = $1', [
    deviceId,
  ]);
}

export async function recordHeartbeat(db: Queryable, deviceId: string, hb: Heartbeat): Promise<void> {
  await db.query(
    `UPDATE device_status SET outbox_depth = $2, oldest_unsynced_age_ms = $3, clock_offset_ms = $4,
       app_version = COALESCE($5, app_version), last_heartbeat_at = now()
     WHERE device_id = $1`,
    [deviceId, hb.outboxDepth, hb.oldestUnsyncedAgeMs, hb.clockOffsetMs, hb.appVersion ?? null],
  );
  await markDeviceSeen(db, deviceId);
}
