import type { Queryable } from '../db/database.js';
import { decodeCursor, pageOf } from '../http/pagination.js';

/** Till ops the hub refused for good (sync/push.ts writes them), as HQ and store managers read them. */

export interface DeadLetterFilter {
  locationId?: string | undefined;
  deviceId?: string | undefined;
  status?: 'open' | 'retried' | 'dismissed' | undefined;
  limit: number;
  cursor?: string | undefined;
}

interface DeadLetterRecord {
  id: number;
  location_id: string;
  device_id: string;
  seq: number;
  op_id: string | null;
  op: unknown;
  code: string;
  reason: string;
  status: 'open' | 'retried' | 'dismissed';
  created_at: Date;
}

export async function listDeadLetters(db: Queryable, f: DeadLetterFilter) {
  const after = f.cursor ? Number(decodeCursor(f.cursor, 1)[0]) : 0;
  const { rows } = await db.query<DeadLetterRecord>(
    `SELECT id, location_id, device_id, seq, op_id, op, code, reason, status, created_at FROM dead_letters
     WHERE ($1::text IS NULL OR location_id = $1) AND ($2::text IS NULL OR device_id = $2)
       AND ($3::text IS NULL OR status = $3) AND id > $4
     ORDER BY id LIMIT $5`,
    [f.locationId ?? null, f.deviceId ?? null, f.status ?? null, after, f.limit + 1],
  );
  return pageOf(
    rows,
    f.limit,
    (r) => [r.id],
    (r) => ({
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
    }),
  );
}
