import type { Database, Queryable } from '../db/database.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { decodeCursor, pageOf } from '../http/pagination.js';
import type { DeadLetter } from '../schemas/devices.js';
import { assertCanTriage } from './access.js';
import type { Principal } from './tokens.js';
import { actorOf } from './transfers.js';

/*
 * Till ops the hub refused for good, as the push path records them (`recordDeadLetters`) and HQ
 * and store managers read and settle them: dismissed here, retried in sync/dead-letter-retry.ts.
 * The one module that writes dead_letters.
 */

export type DeadLetterStatus = 'open' | 'retried' | 'dismissed';

export interface DeadLetterFilter {
  locationId?: string | undefined;
  deviceId?: string | undefined;
  status?: DeadLetterStatus | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface DeadLetterRecord {
  id: number;
  location_id: string;
  device_id: string;
  seq: number;
  op_id: string | null;
  op: unknown;
  code: string;
  reason: string;
  status: DeadLetterStatus;
  created_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolution: string | null;
}

const COLUMNS =
  'id, location_id, device_id, seq, op_id, op, code, reason, status, created_at, resolved_at, resolved_by, resolution';

/** A refused till op as the push path records it; `op` is the JSON text as sent (made storable). */
export interface NewDeadLetter {
  locationId: string;
  deviceId: string;
  seq: number;
  opId: string | null;
  op: string;
  code: string;
  reason: string;
}

export async function recordDeadLetters(tx: Queryable, letters: readonly NewDeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  const col = <K extends keyof NewDeadLetter>(k: K) => letters.map((l) => l[k]);
  await tx.query(
    `INSERT INTO dead_letters (location_id, device_id, seq, op_id, op, code, reason)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::text[], $7::text[])`,
    [col('locationId'), col('deviceId'), col('seq'), col('opId'), col('op'), col('code'), col('reason')],
  );
}

export async function listDeadLetters(db: Queryable, f: DeadLetterFilter) {
  const after = f.cursor ? Number(decodeCursor(f.cursor, 1)[0]) : 0;
  const { rows } = await db.query<DeadLetterRecord>(
    `SELECT ${COLUMNS} FROM dead_letters
     WHERE ($1::text IS NULL OR location_id = $1) AND ($2::text IS NULL OR device_id = $2)
       AND ($3::text IS NULL OR status = $3) AND id > $4
     ORDER BY id LIMIT $5`,
    [f.locationId ?? null, f.deviceId ?? null, f.status ?? null, after, f.limit + 1],
  );
  return pageOf(rows, f.limit, (r) => [r.id], toDeadLetter);
}

export function toDeadLetter(r: DeadLetterRecord): DeadLetter {
  return {
    id: r.id,
    locationId: r.location_id,
    deviceId: r.device_id,
    seq: r.seq,
    opId: r.op_id,
    op: r.op,
    code: r.code,
    reason: r.reason,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    resolvedAt: r.resolved_at?.toISOString() ?? null,
    resolvedBy: r.resolved_by,
    resolution: r.resolution,
  };
}

/**
 * Lock an open dead letter this principal may settle, in the caller's transaction: 404 unknown,
 * 403 another location's, 409 already retried or dismissed. The lock makes settling it exactly-once.
 */
export async function lockOpenDeadLetter(
  tx: Queryable,
  principal: Principal,
  id: number,
): Promise<DeadLetterRecord> {
  const { rows } = await tx.query<DeadLetterRecord>(
    `SELECT ${COLUMNS} FROM dead_letters WHERE id = $1 FOR UPDATE`,
    [id],
  );
  const row = rows[0];
  if (!row) throw new NotFoundError('deadLetter', String(id));
  assertCanTriage(principal, row.location_id);
  if (row.status !== 'open') {
    throw new ConflictError('already_resolved', `dead letter ${id} was already ${row.status}`, {
      status: row.status,
      resolvedAt: row.resolved_at?.toISOString() ?? null,
      resolvedBy: row.resolved_by,
    });
  }
  return row;
}

/** Mark a locked open dead letter settled by `principal`. */
export async function settleDeadLetter(
  tx: Queryable,
  principal: Principal,
  id: number,
  status: Exclude<DeadLetterStatus, 'open'>,
  resolution: string | null,
): Promise<DeadLetter> {
  const { rows } = await tx.query<DeadLetterRecord>(
    `UPDATE dead_letters SET status = $2, resolved_at = now(), resolved_by = $3, resolution = $4
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, status, actorOf(principal), resolution],
  );
  return toDeadLetter(rows[0]!);
}

/** Give up on a dead letter: it stays listed, settled, with who and why. */
export function dismissDeadLetter(
  db: Database,
  principal: Principal,
  id: number,
  reason: string,
): Promise<DeadLetter> {
  return db.transaction(async (tx) => {
    await lockOpenDeadLetter(tx, principal, id);
    return settleDeadLetter(tx, principal, id, 'dismissed', reason);
  });
}
