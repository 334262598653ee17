import type { Queryable } from '../../db/database.js';
import { BadRequestError } from '../../errors.js';
import type { OrderCreate, OrderDetail } from '../../schemas/orders.js';
import type { Principal } from '../tokens.js';
import { insufficientStock, lockCandidates, route } from './allocate.js';
import { recordHeld, reserveUnits } from './allocations.js';
import { actorOf, newOrderId, type OrderContext, writeOrder } from './context.js';
import { emitOrderEvent, ORDER_COLUMNS, type OrderRecord, recordHistory, toOrder } from './records.js';

/*
 * POST /v1/orders: in one transaction, write the order, lock the candidate stock rows, route it
 * (allocate.ts), record its allocations, and reserve its units through the ledger last. The
 * Idempotency-Key it requires is claimed and answered in the same transaction (http/idempotency.ts):
 * a replay with the same key and body gets the first answer without this running again.
 *
 * Round trips are what an order costs (each is a socket write and a wake-up of the database
 * backend, while stock rows are locked): the checks are one query, the order and its lines one,
 * and the answer is built from what the writes returned instead of being read back.
 */

/** A field of the body that names something the hub does not know: 400 naming that field. */
export function badField(field: string, message: string): BadRequestError {
  return new BadRequestError(`${field}: ${message}`, { issues: [{ field, message }] });
}

/** 400 naming the first line whose SKU is not in `known`. */
function assertLinesKnown(lines: ReadonlyArray<{ sku: string }>, known: ReadonlySet<string>): void {
  const i = lines.findIndex((l) => !known.has(l.sku));
  if (i >= 0) throw badField(`body.lines.${i}.sku`, `unknown SKU ${JSON.stringify(lines[i]?.sku)}`);
}

/** 400 naming the first line whose SKU is not in the catalogue. */
export async function assertSkusKnown(tx: Queryable, lines: ReadonlyArray<{ sku: string }>): Promise<void> {
  const { rows } = await tx.query<{ sku: string }>('SELECT sku FROM products WHERE sku = ANY($1::text[])', [
    lines.map((l) => l.sku),
  ]);
  assertLinesKnown(lines, new Set(rows.map((r) => r.sku)));
}

/** 400 for an unknown SKU (first), or a pickup location that is not an active store: one query. */
async function assertOrderable(tx: Queryable, input: OrderCreate): Promise<void> {
  const f = input.fulfilment;
  const pickup = f.type === 'pickup' ? f.pickupLocationId : null;
  const { rows } = await tx.query<{ known: string[]; kind: string | null; active: boolean | null }>(
    `SELECT ARRAY(SELECT sku FROM products WHERE sku = ANY($1::text[])) AS known, l.kind, l.active
     FROM (VALUES (1)) AS one LEFT JOIN locations l ON l.id = $2`,
    [input.lines.map((l) => l.sku), pickup],
  );
  const row = rows[0]!;
  assertLinesKnown(input.lines, new Set(row.known));
  if (pickup === null) return;
  const field = 'body.fulfilment.pickupLocationId';
  if (row.kind === null) throw badField(field, `unknown location ${JSON.stringify(pickup)}`);
  if (row.kind !== 'store' || !row.active) {
    throw badField(field, `${JSON.stringify(pickup)} is not an active store`);
  }
}

/** Insert the order and its lines (one statement); the row as ORDER_COLUMNS, lines as the API shows them. */
async function insertOrder(
  tx: Queryable,
  ctx: OrderContext,
  principal: Principal,
  id: string,
  input: OrderCreate,
): Promise<{ order: OrderRecord; lines: OrderDetail['lines'] }> {
  const f = input.fulfilment;
  const { rows } = await tx.query<OrderRecord & { lines: OrderDetail['lines'] }>(
    `WITH o AS (
       INSERT INTO orders (id, kind, channel, customer_ref, status, fulfilment, pickup_location_id,
         shipping_address, expires_at, created_by)
       VALUES ($1, 'order', $2, $3, 'pending', $4, $5, $6, now() + make_interval(secs => $7), $8)
       RETURNING ${ORDER_COLUMNS}
     ), l AS (
       INSERT INTO order_lines (order_id, sku, qty) SELECT $1, * FROM unnest($9::text[], $10::int[])
       RETURNING sku, qty, returned_qty
     )
     SELECT o.*, (SELECT json_agg(json_build_object('sku', sku, 'qty', qty, 'returnedQty', returned_qty)
                    ORDER BY sku) FROM l) AS lines
     FROM o`,
    [
      id,
      input.channel,
      input.customerRef,
      f.type,
      f.type === 'pickup' ? f.pickupLocationId : null,
      f.type === 'shipping' ? JSON.stringify(f.address) : null,
      ctx.ttlSeconds,
      principal.id,
      input.lines.map((l) => l.sku),
      input.lines.map((l) => l.qty),
    ],
  );
  const { lines, ...order } = rows[0]!;
  return { order, lines };
}

export function createOrder(
  ctx: OrderContext,
  principal: Principal,
  input: OrderCreate,
): Promise<OrderDetail> {
  return writeOrder(ctx, actorOf(principal), async (m, changes) => {
    const { tx } = m;
    await assertOrderable(tx, input);
    const f = input.fulfilment;
    // The order and its lines before the stock rows are locked (orders lock before stock rows):
    // orders racing for the same SKU wait on its row for less.
    const { order, lines } = await insertOrder(tx, ctx, principal, newOrderId(), input);
    const candidates = await lockCandidates(
      tx,
      input.lines.map((l) => l.sku),
      f.type === 'pickup'
        ? { onlyLocationId: f.pickupLocationId, keepSafetyStock: false }
        : { keepSafetyStock: true },
    );
    const { placements, shortages } = route(input.lines, candidates);
    if (shortages.length > 0) throw insufficientStock(shortages);

    const held = await recordHeld(tx, order, placements);
    changes.push(...held);
    const at = await recordHistory(tx, order.id, null, 'pending', m.actor, 'created', {
      allocations: placements,
    });
    await emitOrderEvent(
      tx,
      'order.created',
      order.id,
      { from: null, to: 'pending', reason: 'created', details: { allocations: placements } },
      f.type === 'pickup' ? f.pickupLocationId : null,
    );
    // The reserve ops go through the ledger last: the ledger locks the location's change-cursor
    // row until commit, and every stock write there (other orders, tills' pushes) waits for it.
    if (placements.length > 0) await reserveUnits(m, order.id, placements);
    // What GET /v1/orders/{id} would read back now: a new order holds only what it just placed.
    return {
      ...toOrder(order, {
        lines,
        allocations: held.map((h) => ({
          locationId: h.locationId,
          sku: h.sku,
          qty: h.qty,
          status: 'held',
        })),
      }),
      history: [{ from: null, to: 'pending', reason: 'created', actor: m.actor, at: at.toISOString() }],
    };
  });
}
