import type { Queryable } from '../../db/database.js';
import { BadRequestError, ForbiddenError } from '../../errors.js';
import { decodeCursor, isTimeKey, pageOf } from '../../http/pagination.js';
import type { Order, OrderDetail, OrderListQuery } from '../../schemas/orders.js';
import { assertCanReadLocation } from '../access.js';
import type { Principal } from '../tokens.js';
import { ORDER_COLUMNS, type OrderRecord, orderDetail, partsOf, toOrder } from './records.js';

/*
 * Reading orders. admin and hq read every order; a channel reads the orders (and holds) its own
 * token created; a store manager reads the orders with an allocation at its location (pickup
 * orders of its store included: they are allocated there).
 */

export async function getOrder(db: Queryable, principal: Principal, id: string): Promise<OrderDetail> {
  const detail = await orderDetail(db, id);
  if (principal.role === 'channel') {
    const { rows } = await db.query<{ created_by: string }>('SELECT created_by FROM orders WHERE id = $1', [
      id,
    ]);
    if (rows[0]?.created_by !== principal.id) {
      throw new ForbiddenError(`order ${id} was created by another token`);
    }
  }
  if (
    principal.role === 'store_manager' &&
    !detail.allocations.some((a) => a.locationId === principal.locationId)
  ) {
    throw new ForbiddenError(`order ${id} has no allocation at location ${principal.locationId}`);
  }
  return detail;
}

const allocatedAt = (p: string) =>
  `EXISTS (SELECT 1 FROM allocations a WHERE a.order_id = orders.id AND a.location_id = ${p})`;

/** Orders by (created_at, id), newest first unless asked otherwise; keyset pagination. */
export async function listOrders(
  db: Queryable,
  principal: Principal,
  query: OrderListQuery,
): Promise<{ items: Order[]; nextCursor: string | null }> {
  const params: unknown[] = [];
  const conditions: string[] = [];
  const where = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(sql(`$${params.length}`));
  };
  where((p) => `kind = ${p}`, query.kind);
  if (query.status !== undefined) where((p) => `status = ${p}`, query.status);
  if (query.channel !== undefined) where((p) => `channel = ${p}`, query.channel);
  if (query.locationId !== undefined) {
    // Like every list filtered by location: another store's is refused, not silently emptied.
    assertCanReadLocation(principal, query.locationId);
    where(allocatedAt, query.locationId);
  }
  if (query.from !== undefined) where((p) => `created_at >= ${p}`, query.from);
  if (query.to !== undefined) where((p) => `created_at < ${p}`, query.to);
  if (principal.role === 'channel') where((p) => `created_by = ${p}`, principal.id);
  if (principal.role === 'store_manager') where(allocatedAt, principal.locationId);
  const descending = query.order === 'desc';
  if (query.cursor !== undefined) {
    const [order, createdKey, id] = decodeCursor(query.cursor, 3);
    if (order !== query.order || !isTimeKey(createdKey) || typeof id !== 'string') {
      throw new BadRequestError(
        `querystring.cursor: not a cursor returned by this endpoint for order ${query.order}`,
        { field: 'cursor' },
      );
    }
    params.push(createdKey, id);
    conditions.push(
      `(created_at, id) ${descending ? '<' : '>'} ($${params.length - 1}::timestamptz, $${params.length}::text)`,
    );
  }
  params.push(query.limit + 1);
  const direction = descending ? 'DESC' : 'ASC';
  const { rows } = await db.query<OrderRecord>(
    `SELECT ${ORDER_COLUMNS} FROM orders WHERE ${conditions.join(' AND ')}
     ORDER BY created_at ${direction}, id ${direction} LIMIT $${params.length}`,
    params,
  );
  const parts = await partsOf(
    db,
    rows.slice(0, query.limit).map((r) => r.id),
  );
  return pageOf(
    rows,
    query.limit,
    (r) => [query.order, r.created_key, r.id],
    (r) => toOrder(r, parts.get(r.id) ?? { lines: [], allocations: [] }),
  );
}
