import { type Hlc, newOpId } from '@tillsync/sync-protocol';
import type { Queryable } from '../../db/database.js';
import type { AppliedBatch, LedgerOp } from '../../ledger/apply.js';
import type { ReservationChangeAt } from '../../ledger/reservation-feed.js';
import type { Placement } from './allocate.js';

/*
 * Allocation rows and the stock ops that go with them, always together: units become `held` with a
 * `reserve` op, and leave the hold as `released` (release op), or `fulfilled` (ship or pickup op, or
 * a till's pickup op already applied). An order holds at most one `held` row per location × SKU;
 * a partial change shrinks it and adds a row for the units that left.
 *
 * Each change is also returned as the tills of that location must learn it (published after
 * commit): a `held` change carries the units now held by that order for that SKU; a `released` or
 * `fulfilled` change carries the units that left the hold (the held change that follows, if any,
 * gives what is still held).
 */

export type Apply = (ops: LedgerOp[]) => Promise<AppliedBatch>;

export interface Mover {
  tx: Queryable;
  apply: Apply;
  clock: { tick(): Hlc };
  actor: string;
}

export interface HoldingOrder {
  id: string;
  expires_at: Date | null;
}

type HoldOp = 'reserve' | 'release' | 'ship' | 'pickup';

function byLocation(items: readonly Placement[]): Map<string, Placement[]> {
  const groups = new Map<string, Placement[]>();
  for (const p of [...items].sort((a, b) =>
    a.locationId < b.locationId ? -1 : a.locationId > b.locationId ? 1 : 0,
  )) {
    groups.set(p.locationId, [...(groups.get(p.locationId) ?? []), p]);
  }
  return groups;
}

/** One op per location, each carrying that location's lines. */
async function applyHoldOps(
  m: Mover,
  type: HoldOp,
  orderId: string,
  items: readonly Placement[],
): Promise<void> {
  const ops: LedgerOp[] = [...byLocation(items)].map(([locationId, lines]) => ({
    op: {
      type,
      opId: newOpId(),
      hlc: m.clock.tick(),
      locationId,
      orderId,
      lines: lines.map((l) => ({ sku: l.sku, qty: l.qty })),
    },
    actor: m.actor,
    reference: orderId,
  }));
  if (ops.length > 0) await m.apply(ops);
}

function change(
  order: HoldingOrder,
  p: Placement,
  status: ReservationChangeAt['status'],
): ReservationChangeAt {
  return {
    locationId: p.locationId,
    orderId: order.id,
    sku: p.sku,
    qty: p.qty,
    status,
    expiresAt: order.expires_at?.getTime() ?? null,
  };
}

/** Hold these units for the order (reserve ops), adding to what it already holds there. */
export async function holdUnits(
  m: Mover,
  order: HoldingOrder,
  placements: readonly Placement[],
): Promise<ReservationChangeAt[]> {
  if (placements.length === 0) return [];
  await reserveUnits(m, order.id, placements);
  return recordHeld(m.tx, order, placements);
}

/**
 * The reserve ops of a hold alone (`holdUnits` = this + `recordHeld`, in one transaction, either
 * order). A caller may run it last: the ledger locks the location's change-cursor row, which every
 * stock write at that location waits for until commit, so the less work after it the better.
 */
async function reserveUnits(m: Mover, orderId: string, placements: readonly Placement[]): Promise<void> {
  await applyHoldOps(m, 'reserve', orderId, placements);
}

/** The allocation rows of a hold alone: `held`, adding to what the order already holds there. */
async function recordHeld(
  tx: Queryable,
  order: HoldingOrder,
  placements: readonly Placement[],
): Promise<ReservationChangeAt[]> {
  if (placements.length === 0) return [];
  // In allocation order (as the order's detail lists them).
  const { rows } = await tx.query<{ location_id: string; sku: string; qty: number }>(
    `WITH a AS (
       INSERT INTO allocations AS a (order_id, location_id, sku, qty, status)
       SELECT $1, l, s, q, 'held' FROM unnest($2::text[], $3::text[], $4::int[]) AS u(l, s, q)
       ON CONFLICT (location_id, sku, order_id) WHERE status = 'held'
         DO UPDATE SET qty = a.qty + excluded.qty, updated_at = now()
       RETURNING id, location_id, sku, qty
     )
     SELECT location_id, sku, qty FROM a ORDER BY id`,
    [
      order.id,
      placements.map((p) => p.locationId),
      placements.map((p) => p.sku),
      placements.map((p) => p.qty),
    ],
  );
  return rows.map((r) => change(order, { locationId: r.location_id, sku: r.sku, qty: r.qty }, 'held'));
}

/**
 * Take units out of the order's holds: `released` (a release op) or `fulfilled` (a ship or pickup
 * op). The caller checks that each item is held in full.
 */
export async function settleUnits(
  m: Mover,
  order: HoldingOrder,
  items: readonly Placement[],
  to: 'released' | 'fulfilled',
  op: Exclude<HoldOp, 'reserve'>,
): Promise<ReservationChangeAt[]> {
  await applyHoldOps(m, op, order.id, items);
  return settleRows(m.tx, order, items, to);
}

/** The allocation rows of `settleUnits` alone, for stock a till's own op already moved. */
export async function settleRows(
  tx: Queryable,
  order: HoldingOrder,
  items: readonly Placement[],
  to: 'released' | 'fulfilled',
): Promise<ReservationChangeAt[]> {
  const changes: ReservationChangeAt[] = [];
  for (const item of items) {
    const key = [order.id, item.locationId, item.sku, item.qty];
    const shrunk = await tx.query<{ qty: number }>(
      `UPDATE allocations SET qty = qty - $4, updated_at = now()
       WHERE order_id = $1 AND location_id = $2 AND sku = $3 AND status = 'held' AND qty > $4 RETURNING qty`,
      key,
    );
    const remaining = shrunk.rows[0]?.qty;
    if (remaining === undefined) {
      const settled = await tx.query(
        `UPDATE allocations SET status = $5, updated_at = now()
         WHERE order_id = $1 AND location_id = $2 AND sku = $3 AND status = 'held' AND qty = $4`,
        [...key, to],
      );
      if (settled.rowCount !== 1) {
        throw new Error(`order ${order.id} does not hold ${item.qty} × ${item.sku} at ${item.locationId}`);
      }
      changes.push(change(order, item, to));
    } else {
      await tx.query(
        'INSERT INTO allocations (order_id, location_id, sku, qty, status) VALUES ($1, $2, $3, $4, $5)',
        [...key, to],
      );
      changes.push(change(order, item, to), change(order, { ...item, qty: remaining }, 'held'));
    }
  }
  return changes;
}

/** Everything the order holds, locked, by location and SKU. */
export async function heldBy(tx: Queryable, orderId: string): Promise<Placement[]> {
  const { rows } = await tx.query<{ location_id: string; sku: string; qty: number }>(
    `SELECT location_id, sku, qty FROM allocations WHERE order_id = $1 AND status = 'held'
     ORDER BY location_id, sku FOR UPDATE`,
    [orderId],
  );
  return rows.map((r) => ({ locationId: r.location_id, sku: r.sku, qty: r.qty }));
}
