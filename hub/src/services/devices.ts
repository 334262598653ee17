import { randomBytes, randomInt } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import { ConflictError, NotFoundError, PG, pgErrorCode, UnauthorizedError } from '../errors.js';
import { decodeCursor, pageOf } from '../http/pagination.js';
import { formatDeviceToken, hashSecret, newSecret } from './tokens.js';

/*
 * Till enrolment: an admin (or the store's manager) creates a device and gets a one-time
 * enrolment code to type into the new till; the till exchanges it for its device token. Codes
 * expire, work once, and are stored hashed like tokens.
 *
 * The one module that writes `devices`: the sync paths (acks, liveness, a restore's re-base) call
 * the functions at the end of this file.
 */

const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32: no I, L, O, U
const CODE_TTL_MS = 24 * 3_600_000;

export interface DeviceRecord {
  id: string;
  location_id: string;
  name: string;
  enrolled_at: Date | null;
  last_acked_seq: number;
  last_seen_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
}

export const DEVICE_COLUMNS =
  'id, location_id, name, enrolled_at, last_acked_seq, last_seen_at, revoked_at, created_at';

export function newEnrolmentCode(): string {
  const chars = Array.from({ length: 10 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

/** Codes are typed by people: ignore case, spaces and dashes. */
function normalizeCode(code: string): string {
  const c = code.toUpperCase().replace(/[\s-]/g, '');
  return `${c.slice(0, 5)}-${c.slice(5)}`;
}

export async function createDevice(
  db: Queryable,
  input: { locationId: string; name: string; id?: string | undefined },
): Promise<{ device: DeviceRecord; enrolmentCode: string; expiresAt: Date }> {
  const id = input.id ?? `till-${randomBytes(4).toString('hex')}`;
  const enrolmentCode = newEnrolmentCode();
  const expiresAt = new Date(Date.now() + CODE_TTL_MS);
  try {
    const { rows } = await db.query<DeviceRecord>(
      `INSERT INTO devices (id, location_id, name, enrolment_code_hash, enrolment_expires_at)
       VALUES ($1, $2, $3, $4, $5) RETURNING ${DEVICE_COLUMNS}`,
      [id, input.locationId, input.name, hashSecret(enrolmentCode), expiresAt],
    );
    return { device: rows[0]!, enrolmentCode, expiresAt };
  } catch (err) {
    if (pgErrorCode(err) === PG.uniqueViolation)
      throw new ConflictError('already_exists', `device ${id} exists`);
    if (pgErrorCode(err) === PG.foreignKeyViolation) throw new NotFoundError('location', input.locationId);
    throw err;
  }
}

/** A fresh one-time code for an existing device (a rebuilt till); the current token keeps working until used. */
export async function renewEnrolmentCode(
  db: Queryable,
  deviceId: string,
): Promise<{ code: string; expiresAt: Date }> {
  const code = newEnrolmentCode();
  const expiresAt = new Date(Date.now() + CODE_TTL_MS);
  const { rowCount } = await db.query(
    `UPDATE devices SET enrolment_code_hash = $2, enrolment_expires_at = $3
     WHERE id = $1 AND revoked_at IS NULL`,
    [deviceId, hashSecret(code), expiresAt],
  );
  if (rowCount === 0) throw new NotFoundError('device', deviceId);
  return { code, expiresAt };
}

/** Exchange a one-time code for the device token. The code is consumed; any earlier token stops working. */
export async function enrol(
  db: Queryable,
  code: string,
): Promise<{ deviceId: string; locationId: string; name: string; token: string; lastAckedSeq: number }> {
  const secret = newSecret();
  const { rows } = await db.query<{ id: string; location_id: string; name: string; last_acked_seq: number }>(
    `UPDATE devices SET token_hash = $2, enrolled_at = now(), enrolment_code_hash = NULL, enrolment_expires_at = NULL
     WHERE enrolment_code_hash = $1 AND enrolment_expires_at > now() AND revoked_at IS NULL
     RETURNING id, location_id, name, last_acked_seq::int AS last_acked_seq`,
    [hashSecret(normalizeCode(code)), hashSecret(secret)],
  );
  const row = rows[0];
  if (!row) throw new UnauthorizedError('unknown, expired or already used enrolment code');
  return {
    deviceId: row.id,
    locationId: row.location_id,
    name: row.name,
    token: formatDeviceToken(row.id, secret),
    // A replacement till enrolled under an existing device id numbers its ops after what landed.
    lastAckedSeq: row.last_acked_seq,
  };
}

export async function revokeDevice(db: Queryable, deviceId: string): Promise<void> {
  const { rowCount } = await db.query(
    'UPDATE devices SET revoked_at = now(), token_hash = NULL, enrolment_code_hash = NULL WHERE id = $1',
    [deviceId],
  );
  if (rowCount === 0) throw new NotFoundError('device', deviceId);
}

export async function findDevice(db: Queryable, deviceId: string): Promise<DeviceRecord | null> {
  const { rows } = await db.query<DeviceRecord>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`, [
    deviceId,
  ]);
  return rows[0] ?? null;
}

/** A device with what HQ needs to see of its sync: the REST view. */
interface DeviceRow {
  id: string;
  location_id: string;
  name: string;
  enrolled_at: Date | null;
  revoked_at: Date | null;
  last_acked_seq: number;
  last_seen_at: Date | null;
  connected: boolean | null;
  outbox_depth: number | null;
  oldest_unsynced_age_ms: number | null;
  clock_offset_ms: number | null;
  app_version: string | null;
  last_heartbeat_at: Date | null;
}

const toDevice = (r: DeviceRow) => ({
  id: r.id,
  locationId: r.location_id,
  name: r.name,
  enrolled: r.enrolled_at !== null,
  revoked: r.revoked_at !== null,
  lastAckedSeq: r.last_acked_seq,
  lastSeenAt: r.last_seen_at?.toISOString() ?? null,
  connected: r.connected ?? false,
  outboxDepth: r.outbox_depth,
  oldestUnsyncedAgeMs: r.oldest_unsynced_age_ms,
  clockOffsetMs: r.clock_offset_ms,
  appVersion: r.app_version,
  lastHeartbeatAt: r.last_heartbeat_at?.toISOString() ?? null,
});

export async function listDevices(
  db: Queryable,
  f: { locationId?: string | null | undefined; limit: number; cursor?: string | undefined },
) {
  const after = f.cursor ? String(decodeCursor(f.cursor, 1)[0]) : '';
  const { rows } = await db.query<DeviceRow>(
    `SELECT d.id, d.location_id, d.name, d.enrolled_at, d.revoked_at, d.last_acked_seq, d.last_seen_at,
            s.connected, s.outbox_depth, s.oldest_unsynced_age_ms, s.clock_offset_ms, s.app_version,
            s.last_heartbeat_at
     FROM devices d LEFT JOIN device_status s ON s.device_id = d.id
     WHERE ($1::text IS NULL OR d.location_id = $1) AND d.id > $2
     ORDER BY d.id LIMIT $3`,
    [f.locationId ?? null, after, f.limit + 1],
  );
  return pageOf(rows, f.limit, (r) => [r.id], toDevice);
}

/** The till was heard from (connect, heartbeat). */
export async function markDeviceSeen(db: Queryable, deviceId: string): Promise<void> {
  await db.query('UPDATE devices SET last_seen_at = now() WHERE id = $1', [deviceId]);
}

/**
 * The statement a push group's bookkeeping ends with (answers and acks in one round trip): each
 * device's acked seq, named parameters `$ackDevices`, `$ackSeqs` (values: `ackDevicesValues`).
 */
export const ACK_DEVICES = `UPDATE devices d SET last_acked_seq = a.seq, last_seen_at = now()
     FROM unnest($ackDevices::text[], $ackSeqs::bigint[]) AS a (id, seq) WHERE d.id = a.id`;

export function ackDevicesValues(
  acks: ReadonlyArray<{ deviceId: string; seq: number }>,
): Record<string, unknown> {
  return { ackDevices: acks.map((a) => a.deviceId), ackSeqs: acks.map((a) => a.seq) };
}

/** The device's acked seq; `lock` holds its row (FOR UPDATE) until the transaction ends. */
export async function readAckedSeq(db: Queryable, deviceId: string, lock: boolean): Promise<number> {
  const { rows } = await db.query<{ last_acked_seq: number }>(
    `SELECT last_acked_seq FROM devices WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
    [deviceId],
  );
  return rows[0]?.last_acked_seq ?? 0;
}

/**
 * Lock the devices' rows, in id order (the first locks a push group takes: then stock rows, then
 * cursors, so lock order stays global), and read their acked seqs (0 for an unknown device).
 */
export async function lockDevices(db: Queryable, deviceIds: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ id: string; last_acked_seq: number }>(
    'SELECT id, last_acked_seq FROM devices WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
    [[...deviceIds].sort()],
  );
  const acked = new Map(deviceIds.map((id) => [id, 0]));
  for (const r of rows) acked.set(r.id, r.last_acked_seq);
  return acked;
}

/** Move the device's acked seq past ops lost in a restore (sync/restore-recovery.ts decides). */
export async function rebaseAckedSeq(tx: Queryable, deviceId: string, seq: number): Promise<void> {
  await tx.query('UPDATE devices SET last_acked_seq = $2 WHERE id = $1', [deviceId, seq]);
}
