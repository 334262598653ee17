import type { Queryable } from '../../db/database.js';
import { BadRequestError } from '../../errors.js';
import type { OrderCreate, OrderDetail } from '../../schemas/orders.js';
import { emitEvent } from '../events.js';
import type { Principal } from '../tokens.js';
import { insufficientStock, lockCandidates, route } from './allocate.js';
import { holdUnits } from './allocations.js';
import { actorOf, newOrderId, type OrderContext, writeOrder } from './context.js';
import { once } from './idempotency.js';
import { orderDetail, recordHistory } from './records.js';

/*
 * POST /v1/orders: in one transaction, claim the Idempotency-Key, lock the candidate stock rows,
 * route the order (allocate.ts), write it and reserve its units through the ledger. A replay with
 * the same key and body answers what the first request answered, without reserving again.
 */

/** A field of the body that names something the hub does not know: 400 naming that field. */
export function badField(field: string, message: string): BadRequestError {
  return new BadRequestError(`${field}: ${message}`, { issues: [{ field, message }] });
}

/** 400 naming the first line whose SKU is not in the catalogue. */
export async function assertSkusKnown(tx: Queryable, lines: ReadonlyArray<{ sku: string }>): Promise<void> {
  const { rows } = await tx.query<{ sku: string }>('SELECT sku FROM products WHERE sku = ANY($1::text[])', [
    lines.map((l) => l.sku),
  ]);
  const known = new Set(rows.map((r) => r.sku));
  const i = lines.findIndex((l) => !known.has(l.sku));
  if (i >= 0) throw badField(`body.lines.${i}.sku`, `unknown SKU ${JSON.stringify(lines[i]?.sku)}`);
}

async function assertPickupStore(tx: Queryable, locationId: string): Promise<void> {
  const { rows } = await tx.query<{ kind: string; active: boolean }>(
    'SELECT kind, active FROM locations WHERE id = $1',
    [locationId],
  );
  const location = rows[0];
  const field = 'body.fulfilment.pickupLocationId';
  if (!location) throw badField(field, `unknown location ${JSON.stringify(locationId)}`);
  if (location.kind !== 'store' || !location.active) {
    throw badField(field, `${JSON.stringify(locationId)} is not an active store`);
  }
}

export function createOrder(
  ctx: OrderContext,
  principal: Principal,
  key: string,
  input: OrderCreate,
): Promise<OrderDetail> {
  const request = { tokenId: principal.id, key, method: 'POST', path: '/v1/orders', body: input };
  return writeOrder(ctx, actorOf(principal), (m, changes) =>
    once(m.tx, request, async () => {
      const { tx } = m;
      await assertSkusKnown(tx, input.lines);
      const f = input.fulfilment;
      if (f.type === 'pickup') await assertPickupStore(tx, f.pickupLocationId);
      const candidates = await lockCandidates(
        tx,
        input.lines.map((l) => l.sku),
        f.type === 'pickup'
          ? { onlyLocationId: f.pickupLocationId, keepSafetyStock: false }
          : { keepSafetyStock: true },
      );
      const { placements, shortages } = route(input.lines, candidates);
      if (shortages.length > 0) throw insufficientStock(shortages);

      const id = newOrderId();
      const { rows } = await tx.query<{ expires_at: Date }>(
        `INSERT INTO orders (id, kind, channel, customer_ref, status, fulfilment, pickup_location_id,
           shipping_address, expires_at, created_by)
         VALUES ($1, 'order', $2, $3, 'pending', $4, $5, $6, now() + make_interval(secs => $7), $8)
         RETURNING expires_at`,
        [
          id,
          input.channel,
          input.customerRef,
          f.type,
          f.type === 'pickup' ? f.pickupLocationId : null,
          f.type === 'shipping' ? JSON.stringify(f.address) : null,
          ctx.ttlSeconds,
          principal.id,
        ],
      );
      await tx.query(
        'INSERT INTO order_lines (order_id, sku, qty) SELECT $1, * FROM unnest($2::text[], $3::int[])',
        [id, input.lines.map((l) => l.sku), input.lines.map((l) => l.qty)],
      );
      const order = { id, expires_at: rows[0]?.expires_at ?? null };
      changes.push(...(await holdUnits(m, order, placements)));
      await recordHistory(tx, id, null, 'pending', m.actor, 'created', { allocations: placements });
      await emitEvent(
        tx,
        'order.created',
        {
          orderId: id,
          status: 'pending',
          channel: input.channel,
          lines: input.lines,
          allocations: placements,
        },
        f.type === 'pickup' ? f.pickupLocationId : null,
      );
      return await orderDetail(tx, id);
    }),
  );
}
