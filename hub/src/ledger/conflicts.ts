import type { z } from 'zod';
import type { Database, Queryable } from '../db/database.js';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js';
import { decodeCursor, pageOf } from '../http/pagination.js';
import type { Conflict, ConflictKind, ConflictListQuery } from '../schemas/conflicts.js';
import { assertCanTriage } from '../services/access.js';
import { emitEvent } from '../services/events.js';
import type { Principal } from '../services/tokens.js';
import { actorOf } from '../services/transfers.js';

/*
 * Conflicts the hub settled on its own (oversells, pickup and transfer mismatches, broken
 * reservations) as HQ triages them: listed newest first, resolved once with a note. Every path
 * opens its conflicts here (the ledger a batch at a time, with openConflicts).
 *
 * A broken reservation is an episode of its order: while one is open (migration 013 keeps at most
 * one open per order), a later push that finds the order still short opens nothing new. The
 * episode ends when someone resolves it or the order is re-allocated.
 */

export interface NewConflict {
  locationId: string;
  kind: z.infer<typeof ConflictKind>;
  sku?: string | null;
  opId?: string | null;
  details: Record<string, unknown>;
}

/** Open a conflict (the `conflict.opened` event comes from its trigger, migration 006). */
export async function openConflict(tx: Queryable, c: NewConflict): Promise<void> {
  await openConflicts(tx, [c]);
}

/** Open several conflicts in one statement (a push's oversells). */
export async function openConflicts(tx: Queryable, cs: readonly NewConflict[]): Promise<void> {
  if (cs.length === 0) return;
  await tx.query(
    `INSERT INTO conflicts (location_id, kind, sku, op_id, details)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::jsonb[])`,
    [
      cs.map((c) => c.locationId),
      cs.map((c) => c.kind),
      cs.map((c) => c.sku ?? null),
      cs.map((c) => c.opId ?? null),
      cs.map((c) => JSON.stringify(c.details)),
    ],
  );
}

/** Open the order's broken-reservation episode; false (nothing written) when one is open already. */
export async function openBrokenReservation(
  tx: Queryable,
  c: Omit<NewConflict, 'kind' | 'details'> & { details: { orderId: string } & Record<string, unknown> },
): Promise<boolean> {
  const { rows } = await tx.query(
    `INSERT INTO conflicts (location_id, kind, sku, op_id, details)
     VALUES ($1, 'broken_reservation', $2, $3, $4)
     ON CONFLICT ((details->>'orderId')) WHERE kind = 'broken_reservation' AND status = 'open'
     DO NOTHING RETURNING id`,
    [c.locationId, c.sku ?? null, c.opId ?? null, JSON.stringify(c.details)],
  );
  return rows.length > 0;
}

/**
 * The order was re-allocated: its open broken-reservation episode, if it began in an earlier
 * transaction, is over (resolved by the system, `conflict.resolved` emitted). One opened in this
 * transaction stays: it is the episode this re-allocation is part of.
 */
export async function endBrokenReservation(tx: Queryable, orderId: string): Promise<void> {
  const { rows } = await tx.query<ConflictRecord>(
    `UPDATE conflicts SET status = 'resolved', resolved_at = now(), resolved_by = 'system',
       resolution = 're-allocated'
     WHERE kind = 'broken_reservation' AND status = 'open' AND details->>'orderId' = $1
       AND created_at < now()
     RETURNING ${COLUMNS}`,
    [orderId],
  );
  for (const r of rows) await emitResolved(tx, toConflict(r));
}

interface ConflictRecord {
  id: number;
  location_id: string;
  kind: string;
  sku: string | null;
  op_id: string | null;
  details: Record<string, unknown>;
  status: 'open' | 'resolved';
  created_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolution: string | null;
}

const COLUMNS =
  'id, location_id, kind, sku, op_id, details, status, created_at, resolved_at, resolved_by, resolution';

function toConflict(r: ConflictRecord): Conflict {
  return {
    id: r.id,
    locationId: r.location_id,
    kind: r.kind,
    sku: r.sku,
    opId: r.op_id,
    details: r.details,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    resolvedAt: r.resolved_at?.toISOString() ?? null,
    resolvedBy: r.resolved_by,
    resolution: r.resolution,
  };
}

/** Newest first (by id: ids are handed out in insertion order); `locationId` already scoped. */
export async function listConflicts(
  db: Queryable,
  q: Omit<ConflictListQuery, 'locationId'>,
  locationId: string | null,
): Promise<{ items: Conflict[]; nextCursor: string | null }> {
  let before: number | null = null;
  if (q.cursor !== undefined) {
    const [id] = decodeCursor(q.cursor, 1);
    if (typeof id !== 'number') {
      throw new BadRequestError('querystring.cursor: not a cursor returned by this endpoint', {
        field: 'cursor',
      });
    }
    before = id;
  }
  const { rows } = await db.query<ConflictRecord>(
    `SELECT ${COLUMNS} FROM conflicts
     WHERE ($1::text IS NULL OR location_id = $1) AND ($2::text IS NULL OR status = $2)
       AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR sku = $4)
       AND ($5::bigint IS NULL OR id < $5)
     ORDER BY id DESC LIMIT $6`,
    [locationId, q.status ?? null, q.kind ?? null, q.sku ?? null, before, q.limit + 1],
  );
  return pageOf(rows, q.limit, (r) => [r.id], toConflict);
}

/**
 * Resolve an open conflict with a note, and emit `conflict.resolved` in the same transaction.
 * 404 unknown, 403 another location's (store manager), 409 already resolved.
 */
export function resolveConflict(
  db: Database,
  principal: Principal,
  id: number,
  note: string,
): Promise<Conflict> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<ConflictRecord>(
      `SELECT ${COLUMNS} FROM conflicts WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const current = rows[0];
    if (!current) throw new NotFoundError('conflict', String(id));
    assertCanTriage(principal, current.location_id);
    if (current.status === 'resolved') {
      throw new ConflictError('already_resolved', `conflict ${id} was already resolved`, {
        resolvedAt: current.resolved_at?.toISOString() ?? null,
        resolvedBy: current.resolved_by,
      });
    }
    const { rows: updated } = await tx.query<ConflictRecord>(
      `UPDATE conflicts SET status = 'resolved', resolved_at = now(), resolved_by = $2, resolution = $3
       WHERE location_id = $4 AND id = $1 RETURNING ${COLUMNS}`,
      [id, actorOf(principal), note, current.location_id],
    );
    const conflict = toConflict(updated[0]!);
    await emitResolved(tx, conflict);
    return conflict;
  });
}

async function emitResolved(tx: Queryable, conflict: Conflict): Promise<void> {
  await emitEvent(tx, 'conflict.resolved', conflict, conflict.locationId);
}
