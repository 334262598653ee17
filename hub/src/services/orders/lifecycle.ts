import { newOpId } from '@tillsync/sync-protocol';
import { ConflictError, ForbiddenError } from '../../errors.js';
import type { ReservationChangeAt } from '../../ledger/reservation-feed.js';
import type { OrderConfirm, OrderDetail, OrderReturn, OrderStatus } from '../../schemas/orders.js';
import type { Principal } from '../tokens.js';
import { heldBy, type Mover, settleUnits } from './allocations.js';
import { actorOf, type OrderContext, writeOrder } from './context.js';
import { badField } from './create.js';
import { lockOrder, type OrderRecord, orderDetail, transition } from './records.js';

/*
 * The order lifecycle. Every transition locks the order row, checks it is allowed, moves stock
 * through the ledger, records history and emits `order.<status>`, in one transaction:
 *
 *   shipping: pending ─confirm─▶ confirmed ─fulfill─▶ processing ─ship─▶ shipped ─deliver─▶ delivered
 *   pickup:   pending ─confirm─▶ confirmed ─(fulfill)─▶ processing ─deliver (handed over)─▶ delivered
 *   cancel from pending, confirmed or processing (holds released); return from shipped or delivered
 *   (units restocked where they come back, once per order).
 *
 * Stock: ship and a pickup handed over at the hub take the held units off on_hand and reserved;
 * cancel releases them; return restocks (on_hand, or damaged). External holds have no lifecycle.
 */

const NEXT: Record<OrderRecord['fulfilment'], Record<OrderStatus, readonly OrderStatus[]>> = {
  shipping: {
    pending: ['confirmed', 'canceled'],
    confirmed: ['processing', 'canceled'],
    processing: ['shipped', 'canceled'],
    shipped: ['delivered', 'returned'],
    delivered: ['returned'],
    canceled: [],
    returned: [],
  },
  pickup: {
    pending: ['confirmed', 'canceled'],
    confirmed: ['processing', 'delivered', 'canceled'],
    processing: ['delivered', 'canceled'],
    shipped: [],
    delivered: ['returned'],
    canceled: [],
    returned: [],
  },
};

export function allowedNext(order: OrderRecord): readonly OrderStatus[] {
  return order.kind === 'order' ? NEXT[order.fulfilment][order.status] : [];
}

function assertTransition(order: OrderRecord, to: OrderStatus): void {
  const allowed = allowedNext(order);
  if (allowed.includes(to)) return;
  const what =
    order.kind === 'order' ? `order ${order.id} is ${order.status}` : `${order.id} is an external hold`;
  throw new ConflictError('invalid_transition', `${what}: it cannot become ${to}`, {
    status: order.status,
    allowed,
  });
}

/** Admin any order; a channel the orders its own token created. */
export function assertCanChange(principal: Principal, order: OrderRecord): void {
  if (principal.role === 'admin') return;
  if (principal.role === 'channel' && order.created_by === principal.id) return;
  throw new ForbiddenError(`order ${order.id} was created by another token`);
}

/** A transition's own work; it returns the reservation changes it made and what history records. */
type Step = (
  order: OrderRecord,
  m: Mover,
) => Promise<{ changes?: ReservationChangeAt[]; reason?: string; details?: Record<string, unknown> }>;

function move(
  ctx: OrderContext,
  principal: Principal,
  orderId: string,
  to: Exclude<OrderStatus, 'pending'>,
  step: Step,
): Promise<OrderDetail> {
  return writeOrder(ctx, actorOf(principal), async (m, changes) => {
    const order = await lockOrder(m.tx, orderId);
    assertCanChange(principal, order);
    assertTransition(order, to);
    const done = await step(order, m);
    changes.push(...(done.changes ?? []));
    await transition(m.tx, order, to, m.actor, done.reason ?? null, done.details);
    return orderDetail(m.tx, orderId);
  });
}

/** Payment received: the order no longer expires. */
export function confirmOrder(
  ctx: OrderContext,
  principal: Principal,
  orderId: string,
  input: OrderConfirm,
): Promise<OrderDetail> {
  return move(ctx, principal, orderId, 'confirmed', async (order, m) => {
    if (order.expires_at !== null && order.expires_at.getTime() <= Date.now()) {
      throw new ConflictError('order_expired', `order ${orderId} expired unpaid`, {
        expiresAt: order.expires_at.toISOString(),
      });
    }
    await m.tx.query('UPDATE orders SET payment = $2 WHERE id = $1', [
      orderId,
      JSON.stringify(input.payment),
    ]);
    return { reason: 'paid', details: { payment: input.payment } };
  });
}

export function fulfillOrder(ctx: OrderContext, principal: Principal, orderId: string): Promise<OrderDetail> {
  return move(ctx, principal, orderId, 'processing', async () => ({ reason: 'picking' }));
}

/** The parcel leaves: held units go off on_hand and reserved where they were held. */
export function shipOrder(ctx: OrderContext, principal: Principal, orderId: string): Promise<OrderDetail> {
  return move(ctx, principal, orderId, 'shipped', async (order, m) => {
    const held = await heldBy(m.tx, orderId);
    return { changes: await settleUnits(m, order, held, 'fulfilled', 'ship') };
  });
}

/** Shipping: the carrier delivered. Pickup: handed over to the customer at the hub's say-so. */
export function deliverOrder(ctx: OrderContext, principal: Principal, orderId: string): Promise<OrderDetail> {
  return move(ctx, principal, orderId, 'delivered', async (order, m) => {
    if (order.fulfilment === 'shipping') return { reason: 'delivered' };
    const held = await heldBy(m.tx, orderId);
    return { changes: await settleUnits(m, order, held, 'fulfilled', 'pickup'), reason: 'picked_up' };
  });
}

export function cancelOrder(
  ctx: OrderContext,
  principal: Principal,
  orderId: string,
  reason: string | undefined,
): Promise<OrderDetail> {
  return move(ctx, principal, orderId, 'canceled', async (order, m) => {
    const held = await heldBy(m.tx, orderId);
    return {
      changes: await settleUnits(m, order, held, 'released', 'release'),
      reason: reason ?? 'requested',
    };
  });
}

/** Units come back to `locationId`: sellable ones on the shelf, damaged ones in damaged. */
export function returnOrder(
  ctx: OrderContext,
  principal: Principal,
  orderId: string,
  input: OrderReturn,
): Promise<OrderDetail> {
  return move(ctx, principal, orderId, 'returned', async (order, m) => {
    const { rows: location } = await m.tx.query('SELECT 1 FROM locations WHERE id = $1', [input.locationId]);
    if (location.length === 0) {
      throw badField('body.locationId', `unknown location ${JSON.stringify(input.locationId)}`);
    }
    const { rows: lines } = await m.tx.query<{ sku: string; outstanding: number }>(
      'SELECT sku, qty - returned_qty AS outstanding FROM order_lines WHERE order_id = $1 ORDER BY sku',
      [order.id],
    );
    const outstanding = new Map(lines.map((l) => [l.sku, l.outstanding]));
    const returned =
      input.lines ?? lines.flatMap((l) => (l.outstanding > 0 ? [{ sku: l.sku, qty: l.outstanding }] : []));
    const over = returned
      .map((l) => ({ sku: l.sku, requested: l.qty, outstanding: outstanding.get(l.sku) ?? 0 }))
      .filter((l) => l.requested > l.outstanding);
    if (over.length > 0) {
      throw new ConflictError('over_return', `returning more than order ${orderId} delivered`, {
        lines: over,
      });
    }
    const skus = returned.map((l) => l.sku);
    await m.tx.query(
      `UPDATE order_lines l SET returned_qty = l.returned_qty + u.qty
       FROM unnest($2::text[], $3::int[]) AS u(sku, qty) WHERE l.order_id = $1 AND l.sku = u.sku`,
      [orderId, skus, returned.map((l) => l.qty)],
    );
    await m.tx.query(
      `UPDATE allocations a SET status = 'returned', updated_at = now() FROM order_lines l
       WHERE a.order_id = $1 AND a.status = 'fulfilled' AND a.sku = ANY($2::text[])
         AND l.order_id = a.order_id AND l.sku = a.sku AND l.returned_qty = l.qty`,
      [orderId, skus],
    );
    await m.apply([
      {
        op: {
          type: 'restock',
          opId: newOpId(),
          hlc: m.clock.tick(),
          locationId: input.locationId,
          orderId,
          condition: input.condition,
          lines: returned,
        },
        actor: m.actor,
        reference: orderId,
      },
    ]);
    return {
      reason: input.condition === 'damaged' ? 'returned_damaged' : 'returned',
      details: { locationId: input.locationId, condition: input.condition, lines: returned },
    };
  });
}
