import type { Queryable } from '../../db/database.js';
import { endBrokenReservation, openBrokenReservation, openConflict } from '../../ledger/conflicts.js';
import type { ReservationChangeAt } from '../../ledger/reservation-feed.js';
import { mergeLines } from '../transfers.js';
import { lockCandidates, type Placement, routeLine } from './allocate.js';
import { type Apply, heldBy, holdUnits, type Mover, settleRows, settleUnits } from './allocations.js';
import { emitOrderEvent, ORDER_COLUMNS, type OrderRecord, recordHistory, transition } from './records.js';

/*
 * What a till's push batch means for orders. The sync layer calls these inside its push
 * transaction and publishes the returned reservation changes once it has committed. Neither
 * throws for a mismatch: a till's sale or pickup is a physical fact, so disagreements become
 * conflicts for people to settle.
 */

export interface TillPickup {
  orderId: string;
  locationId: string;
  lines: ReadonlyArray<{ sku: string; qty: number }>;
  opId: string;
  deviceId?: string;
}

interface Line {
  sku: string;
  qty: number;
}

const HANDED_OVER_FROM: ReadonlySet<OrderRecord['status']> = new Set(['pending', 'confirmed', 'processing']);

/**
 * How much of a till's pickup is the order's: `held` are units the order holds at the till's
 * location (applied as a pickup: off on_hand and reserved), `unheld` the rest (off the shelf
 * only: the location's other reservations are not this order's to take). `mismatch` says why
 * anything is unheld.
 */
export interface PickupCheck {
  order: OrderRecord | undefined;
  held: Line[];
  unheld: Line[];
  mismatch: string | null;
  /** Units the order holds at this location, per SKU, before the pickup. */
  heldHere: ReadonlyMap<string, number>;
  heldTotal: number;
}

/** The decision, without I/O: a pickup against the order and what it holds at the till's location. */
export function decidePickup(
  op: Pick<TillPickup, 'locationId' | 'lines'>,
  order: Pick<OrderRecord, 'kind' | 'fulfilment' | 'pickup_location_id' | 'status'> | undefined,
  heldHere: ReadonlyMap<string, number>,
): { held: Line[]; unheld: Line[]; mismatch: string | null } {
  const lines = mergeLines(op.lines);
  const refused = !order
    ? 'unknown_order'
    : order.kind !== 'order' || order.fulfilment !== 'pickup' || order.pickup_location_id !== op.locationId
      ? 'not_a_pickup_order_of_this_store'
      : !HANDED_OVER_FROM.has(order.status)
        ? `order_${order.status}`
        : null;
  if (refused !== null) return { held: [], unheld: lines, mismatch: refused };
  const held = lines.flatMap((l) => {
    const qty = Math.min(l.qty, heldHere.get(l.sku) ?? 0);
    return qty > 0 ? [{ sku: l.sku, qty }] : [];
  });
  const unheld = lines.flatMap((l) => {
    const qty = l.qty - Math.min(l.qty, heldHere.get(l.sku) ?? 0);
    return qty > 0 ? [{ sku: l.sku, qty }] : [];
  });
  return { held, unheld, mismatch: unheld.length > 0 ? 'more_than_held' : null };
}

/** Lock the order and check a till's pickup against it, before its units move. */
export async function checkTillPickup(tx: Queryable, op: TillPickup): Promise<PickupCheck> {
  const { rows } = await tx.query<OrderRecord>(
    `SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1 FOR UPDATE`,
    [op.orderId],
  );
  const order = rows[0];
  const held = order ? await heldBy(tx, order.id) : [];
  const heldHere = new Map(held.filter((h) => h.locationId === op.locationId).map((h) => [h.sku, h.qty]));
  return {
    order,
    heldHere,
    heldTotal: held.reduce((n, h) => n + h.qty, 0),
    ...decidePickup(op, order, heldHere),
  };
}

/**
 * A till handed a pickup order over and the checked units moved (`check.held` as a pickup op,
 * `check.unheld` off the shelf only). Mark the held allocations fulfilled, the order delivered
 * once nothing is held any more, and open a 'pickup_mismatch' conflict for anything unheld.
 */
export async function recordTillPickup(
  tx: Queryable,
  op: TillPickup,
  given?: PickupCheck,
): Promise<ReservationChangeAt[]> {
  const check = given ?? (await checkTillPickup(tx, op));
  const { order } = check;
  if (check.mismatch !== null) {
    await openConflict(tx, {
      locationId: op.locationId,
      kind: 'pickup_mismatch',
      sku: op.lines[0]?.sku ?? null,
      opId: op.opId,
      details: {
        orderId: op.orderId,
        reason: check.mismatch,
        status: order?.status ?? null,
        lines: op.lines.map((l) => ({ sku: l.sku, qty: l.qty, held: check.heldHere.get(l.sku) ?? 0 })),
      },
    });
  }
  if (!order || check.held.length === 0) return [];
  const items = check.held.map((l) => ({ locationId: op.locationId, sku: l.sku, qty: l.qty }));
  const changes = await settleRows(tx, order, items, 'fulfilled');
  const actor = op.deviceId ? `device:${op.deviceId}` : 'system';
  const stillHeld = check.heldTotal - items.reduce((n, i) => n + i.qty, 0);
  if (stillHeld === 0) {
    await transition(tx, order, 'delivered', actor, 'picked_up', { opId: op.opId });
  } else {
    await recordHistory(tx, order.id, order.status, order.status, actor, 'partly_picked_up', {
      opId: op.opId,
      lines: check.held,
    });
  }
  return changes;
}

interface BrokenRow {
  location_id: string;
  sku: string;
  on_hand: number;
  reserved: number;
}

type OrderRow = Omit<OrderRecord, 'created_key'>;

/**
 * After a till batch applied offline sales: wherever a location now holds more for orders than it
 * has (on_hand - reserved < 0 with reserved > 0), the newest orders holding that SKU there lose
 * first. A shipping order's units move to other locations by the routing rule (release here,
 * reserve there, as far as they can serve); whatever cannot move, and pickup orders and external
 * holds, stays held but flags the order at risk, with a 'broken_reservation' conflict and an
 * `order.at_risk` event, once per episode (ledger/conflicts.ts). Returns every reservation
 * change made.
 */
export async function reallocateBrokenReservations(
  tx: Queryable,
  apply: Apply,
  locationIds: readonly string[],
  clock: Mover['clock'],
): Promise<ReservationChangeAt[]> {
  const m: Mover = { tx, apply, clock, actor: 'system' };
  const { rows: broken } = await tx.query<BrokenRow>(
    `SELECT location_id, sku, on_hand, reserved FROM stock
     WHERE location_id = ANY($1::text[]) AND reserved > 0 AND on_hand - reserved < 0
     ORDER BY location_id, sku FOR UPDATE`,
    [[...new Set(locationIds)]],
  );
  const changes: ReservationChangeAt[] = [];
  for (const row of broken) {
    let deficit = Math.min(row.reserved, row.reserved - row.on_hand);
    const { rows: holds } = await tx.query<OrderRow & { held: number }>(
      `SELECT o.*, a.qty AS held
       FROM allocations a JOIN orders o ON o.id = a.order_id
       WHERE a.location_id = $1 AND a.sku = $2 AND a.status = 'held'
       ORDER BY o.created_at DESC, o.id DESC FOR UPDATE OF a, o`,
      [row.location_id, row.sku],
    );
    for (const order of holds) {
      if (deficit === 0) break;
      const take = Math.min(order.held, deficit);
      deficit -= take;
      changes.push(...(await rescue(m, order, { locationId: row.location_id, sku: row.sku, qty: take })));
    }
  }
  return changes;
}

/** Move `lost` units of one order's hold elsewhere if it can; flag the order at risk for the rest. */
async function rescue(m: Mover, order: OrderRow, lost: Placement): Promise<ReservationChangeAt[]> {
  const { tx } = m;
  const movable = order.kind === 'order' && order.fulfilment === 'shipping';
  const placements = movable
    ? routeLine(
        { sku: lost.sku, qty: lost.qty },
        await lockCandidates(tx, [lost.sku], { exceptLocationId: lost.locationId, keepSafetyStock: true }),
      )
    : [];
  const moved = placements.reduce((n, p) => n + p.qty, 0);
  const changes: ReservationChangeAt[] = [];
  if (moved > 0) {
    changes.push(...(await settleUnits(m, order, [{ ...lost, qty: moved }], 'released', 'release')));
    changes.push(...(await holdUnits(m, order, placements)));
    const details = { from: lost.locationId, sku: lost.sku, qty: moved, to: placements };
    await recordHistory(tx, order.id, order.status, order.status, m.actor, 'reallocated', details);
    const change = { from: order.status, to: order.status, reason: 'reallocated', details };
    await emitOrderEvent(tx, 'order.reallocated', order.id, change, lost.locationId);
    await endBrokenReservation(tx, order.id);
  }
  const short = lost.qty - moved;
  if (short > 0) {
    await tx.query('UPDATE orders SET at_risk = true, updated_at = now() WHERE id = $1 AND NOT at_risk', [
      order.id,
    ]);
    const details = {
      orderId: order.id,
      kind: order.kind,
      sku: lost.sku,
      short,
      fulfilment: order.fulfilment,
    };
    // Once per episode: a later push finding the order still short adds nothing.
    if (await openBrokenReservation(tx, { locationId: lost.locationId, sku: lost.sku, details })) {
      await recordHistory(tx, order.id, order.status, order.status, m.actor, 'at_risk', details);
      const change = {
        from: order.status,
        to: order.status,
        reason: 'at_risk',
        details: { ...details, locationId: lost.locationId },
      };
      await emitOrderEvent(tx, 'order.at_risk', order.id, change, lost.locationId);
    }
  }
  return changes;
}
