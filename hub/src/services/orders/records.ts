import type { Queryable } from '../../db/database.js';
import { NotFoundError } from '../../errors.js';
import { timeKeySql } from '../../http/pagination.js';
import type { Address, OrderDetail, OrderStatus, Order as OrderView } from '../../schemas/orders.js';
import { type EventType, emitEvent } from '../events.js';

/* Order rows: reading them as the API shows them, and recording status changes with their history. */

export interface OrderRecord {
  id: string;
  kind: 'order' | 'external';
  external_ref: string | null;
  channel: string;
  customer_ref: string | null;
  status: OrderStatus;
  fulfilment: 'shipping' | 'pickup';
  pickup_location_id: string | null;
  shipping_address: Address | null;
  payment: OrderView['payment'];
  cancel_reason: string | null;
  expires_at: Date | null;
  at_risk: boolean;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  created_key: string;
}

export const ORDER_COLUMNS = `id, kind, external_ref, channel, customer_ref, status, fulfilment, pickup_location_id,
  shipping_address, payment, cancel_reason, expires_at, at_risk, created_by, created_at, updated_at,
  ${timeKeySql('created_at')} AS created_key`;

/** The order row, locked until commit: every change of an order starts here. */
export async function lockOrder(tx: Queryable, id: string): Promise<OrderRecord> {
  const { rows } = await tx.query<OrderRecord>(
    `SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1 FOR UPDATE`,
    [id],
  );
  const order = rows[0];
  if (!order) throw new NotFoundError('order', id);
  return order;
}

export async function findOrder(db: Queryable, id: string): Promise<OrderRecord | undefined> {
  const { rows } = await db.query<OrderRecord>(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1`, [id]);
  return rows[0];
}

interface LineRecord {
  order_id: string;
  sku: string;
  qty: number;
  returned_qty: number;
}

interface AllocationRecord {
  order_id: string;
  location_id: string;
  sku: string;
  qty: number;
  status: OrderView['allocations'][number]['status'];
}

/** Lines and allocations of these orders, for the API. */
export async function partsOf(
  db: Queryable,
  ids: readonly string[],
): Promise<Map<string, Pick<OrderView, 'lines' | 'allocations'>>> {
  const parts = new Map(
    ids.map((id) => [id, { lines: [], allocations: [] } as Pick<OrderView, 'lines' | 'allocations'>]),
  );
  if (ids.length === 0) return parts;
  const lines = await db.query<LineRecord>(
    'SELECT order_id, sku, qty, returned_qty FROM order_lines WHERE order_id = ANY($1::text[]) ORDER BY order_id, sku',
    [ids],
  );
  for (const l of lines.rows)
    parts.get(l.order_id)?.lines.push({ sku: l.sku, qty: l.qty, returnedQty: l.returned_qty });
  const allocations = await db.query<AllocationRecord>(
    `SELECT order_id, location_id, sku, qty, status FROM allocations WHERE order_id = ANY($1::text[])
     ORDER BY order_id, id`,
    [ids],
  );
  for (const a of allocations.rows) {
    parts
      .get(a.order_id)
      ?.allocations.push({ locationId: a.location_id, sku: a.sku, qty: a.qty, status: a.status });
  }
  return parts;
}

export function toOrder(
  o: Omit<OrderRecord, 'created_key'>,
  parts: Pick<OrderView, 'lines' | 'allocations'>,
): OrderView {
  return {
    id: o.id,
    kind: o.kind,
    externalRef: o.external_ref,
    status: o.status,
    channel: o.channel,
    customerRef: o.customer_ref,
    fulfilment: o.fulfilment,
    pickupLocationId: o.pickup_location_id,
    shippingAddress: o.shipping_address,
    payment: o.payment,
    cancelReason: o.cancel_reason,
    expiresAt: o.expires_at?.toISOString() ?? null,
    atRisk: o.at_risk,
    createdAt: o.created_at.toISOString(),
    updatedAt: o.updated_at.toISOString(),
    ...parts,
  };
}

/** An order as GET /v1/orders/{id} shows it: lines, allocations and history. */
export async function orderDetail(db: Queryable, id: string): Promise<OrderDetail> {
  const order = await findOrder(db, id);
  if (!order) throw new NotFoundError('order', id);
  const parts = (await partsOf(db, [id])).get(id) ?? { lines: [], allocations: [] };
  const { rows } = await db.query<{
    from_status: OrderStatus | null;
    to_status: OrderStatus;
    reason: string | null;
    actor: string;
    created_at: Date;
  }>(
    'SELECT from_status, to_status, reason, actor, created_at FROM order_history WHERE order_id = $1 ORDER BY id',
    [id],
  );
  return {
    ...toOrder(order, parts),
    history: rows.map((h) => ({
      from: h.from_status,
      to: h.to_status,
      reason: h.reason,
      actor: h.actor,
      at: h.created_at.toISOString(),
    })),
  };
}

export async function recordHistory(
  tx: Queryable,
  orderId: string,
  from: OrderStatus | null,
  to: OrderStatus,
  actor: string,
  reason: string | null,
  details: Record<string, unknown> = {},
): Promise<Date> {
  const { rows } = await tx.query<{ created_at: Date }>(
    `INSERT INTO order_history (order_id, from_status, to_status, reason, actor, details)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
    [orderId, from, to, reason, actor, JSON.stringify(details)],
  );
  return rows[0]!.created_at;
}

/**
 * Move an order to `to`: the row, a history entry and (for real orders, not external holds) the
 * `order.<status>` event, all in the caller's transaction.
 */
export async function transition(
  tx: Queryable,
  order: OrderRecord,
  to: Exclude<OrderStatus, 'pending'>,
  actor: string,
  reason: string | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  await tx.query(
    `UPDATE orders SET status = $2, updated_at = now(),
       cancel_reason = CASE WHEN $2 = 'canceled' THEN $3 ELSE cancel_reason END,
       expires_at = CASE WHEN $2 = 'canceled' OR $2 = 'confirmed' THEN NULL ELSE expires_at END
     WHERE id = $1`,
    [order.id, to, reason],
  );
  await recordHistory(tx, order.id, order.status, to, actor, reason, details);
  if (order.kind === 'order') {
    await emitOrderEvent(
      tx,
      `order.${to}`,
      order.id,
      { from: order.status, to, reason, details },
      order.pickup_location_id,
    );
  }
}

/**
 * An order.* event: the order as GET /v1/orders/{id} shows it once the change is written (read in
 * the same transaction, so it is the order as of this change) and the change itself.
 */
export async function emitOrderEvent(
  tx: Queryable,
  type: Extract<EventType, `order.${string}`>,
  orderId: string,
  change: {
    from: OrderStatus | null;
    to: OrderStatus;
    reason: string | null;
    details: Record<string, unknown>;
  },
  locationId: string | null,
): Promise<void> {
  const order = await orderDetail(tx, orderId);
  await emitEvent(tx, type, { ...order, change }, locationId);
}
