import type { Queryable } from '../db/database.js';
import { BadRequestError, ForbiddenError } from '../errors.js';
import { decodeCursor, isTimeKey, pageOf, timeKeySql } from '../http/pagination.js';
import type { Movement, MovementListQuery } from '../schemas/movements.js';
import type { Principal, Role } from './tokens.js';

/*
 * Reading the movement ledger. Pages are keyed by (hub_time, location_id, id), the order entries
 * were written in; a store manager reads its own location's entries only.
 */

export const MOVEMENT_READERS: readonly Role[] = ['admin', 'hq', 'store_manager'];

interface MovementRecord {
  id: number;
  location_id: string;
  sku: string;
  op_id: string;
  op_type: string;
  reason: string;
  outcome: Movement['outcome'];
  d_on_hand: number;
  d_reserved: number;
  d_incoming: number;
  d_damaged: number;
  absorbed_on_hand: number;
  counted: number | null;
  on_hand_after: number;
  version_after: number;
  oversell: boolean;
  hlc: string;
  hub_time: Date;
  hub_key: string;
  device_id: string | null;
  actor: string;
  reference: string | null;
}

const MOVEMENT_COLUMNS = `id, location_id, sku, op_id, op_type, reason, outcome, d_on_hand, d_reserved, d_incoming,
  d_damaged, absorbed_on_hand, counted, on_hand_after, version_after, oversell, hlc, hub_time,
  ${timeKeySql('hub_time')} AS hub_key, device_id, actor, reference`;

function toMovement(r: MovementRecord): Movement {
  return {
    id: r.id,
    locationId: r.location_id,
    sku: r.sku,
    opId: r.op_id,
    opType: r.op_type,
    reason: r.reason,
    outcome: r.outcome,
    deltas: { onHand: r.d_on_hand, reserved: r.d_reserved, incoming: r.d_incoming, damaged: r.d_damaged },
    absorbedOnHand: r.absorbed_on_hand,
    counted: r.counted,
    onHandAfter: r.on_hand_after,
    versionAfter: r.version_after,
    oversell: r.oversell,
    hlc: r.hlc,
    hubTime: r.hub_time.toISOString(),
    deviceId: r.device_id,
    actor: r.actor,
    reference: r.reference,
  };
}

export async function listMovements(
  db: Queryable,
  principal: Principal,
  query: MovementListQuery,
): Promise<{ items: Movement[]; nextCursor: string | null }> {
  if (principal.role === 'store_manager' && query.locationId !== principal.locationId) {
    throw new ForbiddenError(
      `this token reads the ledger of location ${principal.locationId} only: pass locationId=${principal.locationId}`,
    );
  }
  const params: unknown[] = [];
  const conditions: string[] = [];
  const where = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(sql(`$${params.length}`));
  };
  if (query.locationId !== undefined) where((p) => `location_id = ${p}`, query.locationId);
  if (query.sku !== undefined) where((p) => `sku = ${p}`, query.sku);
  if (query.opId !== undefined) where((p) => `op_id = ${p}::uuid`, query.opId);
  if (query.reason !== undefined) where((p) => `reason = ${p}`, query.reason);
  if (query.from !== undefined) where((p) => `hub_time >= ${p}::timestamptz`, query.from.toISOString());
  if (query.to !== undefined) where((p) => `hub_time < ${p}::timestamptz`, query.to.toISOString());

  const descending = query.order === 'desc';
  if (query.cursor !== undefined) {
    const [order, hubKey, locationId, id] = decodeCursor(query.cursor, 4);
    if (
      order !== query.order ||
      !isTimeKey(hubKey) ||
      typeof locationId !== 'string' ||
      !Number.isSafeInteger(id)
    ) {
      throw new BadRequestError(
        `querystring.cursor: not a cursor returned by this endpoint for order ${query.order}`,
        {
          field: 'cursor',
        },
      );
    }
    params.push(hubKey, locationId, id);
    const n = params.length;
    conditions.push(
      `(hub_time, location_id, id) ${descending ? '<' : '>'} ($${n - 2}::timestamptz, $${n - 1}::text, $${n}::bigint)`,
    );
  }
  params.push(query.limit + 1);
  const direction = descending ? 'DESC' : 'ASC';
  const { rows } = await db.query<MovementRecord>(
    `SELECT ${MOVEMENT_COLUMNS} FROM movements
     ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
     ORDER BY hub_time ${direction}, location_id ${direction}, id ${direction} LIMIT $${params.length}`,
    params,
  );
  return pageOf(rows, query.limit, (r) => [query.order, r.hub_key, r.location_id, r.id], toMovement);
}
