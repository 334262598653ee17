import type { Hlc } from './hlc.js';
import type { AdjustReason, StockOp } from './operations.js';
import { available, emptyRow, rowKey, type StockRow } from './stock.js';

/*
 * The one stock reducer. Hub and till both call it, so both compute the same numbers.
 *
 * An operation decomposes into row effects (effectsOf); each effect applied to a row yields the
 * new row and one ledger movement (applyEffect). Settlement rules (DESIGN.md):
 *  - deltas commute: they always apply, even into an oversell, which is flagged, not refused;
 *  - a count sets on_hand as of its HLC: deltas stamped earlier than the row's latest count are
 *    absorbed (ledgered with their on_hand part not applied; reserved/incoming/damaged parts still
 *    apply, a count measures only the shelf), deltas stamped later apply on top, and a count older
 *    than the row's latest count is superseded;
 *  - every effect adds one ledger entry and bumps the version by one.
 * The final row is a function of the *set* of effects, not their order: tills that sync late, in
 * any order, converge on the same numbers (property-tested in reducer.property.test.ts).
 */

export type MovementReason =
  | 'sale'
  | 'return'
  | 'return_damaged'
  | 'receive'
  | `adjust_${AdjustReason}`
  | 'count'
  | 'transfer_out'
  | 'transfer_incoming'
  | 'transfer_in'
  | 'pickup'
  | 'reserve'
  | 'release'
  | 'ship'
  | 'restock'
  | 'restock_damaged'
  | 'set_on_hand'
  | 'set_reorder_point';

export interface StockDelta {
  onHand: number;
  reserved: number;
  incoming: number;
  damaged: number;
}

export type RowEffect =
  | { kind: 'delta'; locationId: string; sku: string; reason: MovementReason; delta: StockDelta }
  | { kind: 'count'; locationId: string; sku: string; reason: 'count' | 'set_on_hand'; counted: number }
  | {
      kind: 'reorder_point';
      locationId: string;
      sku: string;
      reason: 'set_reorder_point';
      reorderPoint: number;
    };

export type MovementOutcome = 'applied' | 'absorbed' | 'superseded';

/** One ledger entry: the effective change to one row. Summing a row's movements gives the row. */
export interface Movement {
  locationId: string;
  sku: string;
  reason: MovementReason;
  hlc: Hlc;
  /** Effective changes: what actually moved the row. */
  dOnHand: number;
  dReserved: number;
  dIncoming: number;
  dDamaged: number;
  /** The on_hand change an earlier-stamped delta asked for but a later count already covered. */
  absorbedOnHand: number;
  /** For counts: the number counted. */
  counted: number | null;
  outcome: MovementOutcome;
  onHandAfter: number;
  versionAfter: number;
  /** The effect took the row's available stock below zero. */
  oversell: boolean;
}

const zero: StockDelta = { onHand: 0, reserved: 0, incoming: 0, damaged: 0 };

function delta(locationId: string, sku: string, reason: MovementReason, d: Partial<StockDelta>): RowEffect {
  return { kind: 'delta', locationId, sku, reason, delta: { ...zero, ...d } };
}

const adjustDelta: Record<AdjustReason, (qty: number) => Partial<StockDelta>> = {
  damage: (qty) => ({ onHand: -qty, damaged: qty }),
  shrink: (qty) => ({ onHand: -qty }),
  found: (qty) => ({ onHand: qty }),
  dispose: (qty) => ({ damaged: -qty }),
};

/** The row effects of an operation, in line order. */
export function effectsOf(op: StockOp): RowEffect[] {
  const loc = op.locationId;
  switch (op.type) {
    case 'sale':
      return op.lines.map((l) => delta(loc, l.sku, 'sale', { onHand: -l.qty }));
    case 'return':
      return op.lines.map((l) =>
        l.condition === 'damaged'
          ? delta(loc, l.sku, 'return_damaged', { damaged: l.qty })
          : delta(loc, l.sku, 'return', { onHand: l.qty }),
      );
    case 'receive':
      return op.lines.map((l) => delta(loc, l.sku, 'receive', { onHand: l.qty }));
    case 'adjust':
      return op.lines.map((l) => delta(loc, l.sku, `adjust_${op.reason}`, adjustDelta[op.reason](l.qty)));
    case 'count':
      return op.lines.map((l) => ({
        kind: 'count',
        locationId: loc,
        sku: l.sku,
        reason: 'count',
        counted: l.counted,
      }));
    case 'transfer_out':
      // Units leave the source shelf and show as incoming at the destination until received there.
      return op.lines.flatMap((l) => [
        delta(loc, l.sku, 'transfer_out', { onHand: -l.qty }),
        delta(op.toLocationId, l.sku, 'transfer_incoming', { incoming: l.qty }),
      ]);
    case 'transfer_in':
      return op.lines.map((l) => delta(loc, l.sku, 'transfer_in', { onHand: l.qty, incoming: -l.qty }));
    case 'pickup':
    case 'ship':
      return op.lines.map((l) => delta(loc, l.sku, op.type, { onHand: -l.qty, reserved: -l.qty }));
    case 'reserve':
      return op.lines.map((l) => delta(loc, l.sku, 'reserve', { reserved: l.qty }));
    case 'release':
      return op.lines.map((l) => delta(loc, l.sku, 'release', { reserved: -l.qty }));
    case 'restock':
      return op.lines.map((l) =>
        op.condition === 'damaged'
          ? delta(loc, l.sku, 'restock_damaged', { damaged: l.qty })
          : delta(loc, l.sku, 'restock', { onHand: l.qty }),
      );
    case 'set_stock': {
      const effects: RowEffect[] = [];
      if (op.onHand !== undefined)
        effects.push({
          kind: 'count',
          locationId: loc,
          sku: op.sku,
          reason: 'set_on_hand',
          counted: op.onHand,
        });
      if (op.reorderPoint !== undefined)
        effects.push({
          kind: 'reorder_point',
          locationId: loc,
          sku: op.sku,
          reason: 'set_reorder_point',
          reorderPoint: op.reorderPoint,
        });
      return effects;
    }
  }
}

/**
 * Apply one effect stamped `hlc` to a row. `laterOnHand` is the sum of the effective on_hand
 * changes already applied to this row by entries stamped after `hlc`; only counts read it (a
 * count that arrives late must keep the sales that physically happened after it). The till,
 * applying its own fresh count, passes 0.
 */
export function applyEffect(
  row: StockRow,
  effect: RowEffect,
  hlc: Hlc,
  laterOnHand = 0,
): { row: StockRow; movement: Movement } {
  const version = row.version + 1;
  const stale = row.countHlc !== null && hlc < row.countHlc;

  switch (effect.kind) {
    case 'delta': {
      const d = effect.delta;
      const dOnHand = stale ? 0 : d.onHand;
      const next: StockRow = {
        ...row,
        onHand: row.onHand + dOnHand,
        reserved: row.reserved + d.reserved,
        incoming: row.incoming + d.incoming,
        damaged: row.damaged + d.damaged,
        version,
      };
      return {
        row: next,
        movement: movement(next, effect.reason, hlc, {
          dOnHand,
          dReserved: d.reserved,
          dIncoming: d.incoming,
          dDamaged: d.damaged,
          absorbedOnHand: d.onHand - dOnHand,
          counted: null,
          outcome: stale && d.onHand !== 0 ? 'absorbed' : 'applied',
          // Only a change that lowers available can oversell (a pickup leaves available as it was).
          oversell: available(next) < available(row) && available(next) < 0,
        }),
      };
    }
    case 'count': {
      const next: StockRow = stale
        ? { ...row, version }
        : { ...row, onHand: effect.counted + laterOnHand, countHlc: hlc, version };
      return {
        row: next,
        movement: movement(next, effect.reason, hlc, {
          dOnHand: next.onHand - row.onHand,
          dReserved: 0,
          dIncoming: 0,
          dDamaged: 0,
          absorbedOnHand: 0,
          counted: effect.counted,
          outcome: stale ? 'superseded' : 'applied',
          oversell: false,
        }),
      };
    }
    case 'reorder_point': {
      const next: StockRow = { ...row, reorderPoint: effect.reorderPoint, version };
      return {
        row: next,
        movement: movement(next, effect.reason, hlc, {
          dOnHand: 0,
          dReserved: 0,
          dIncoming: 0,
          dDamaged: 0,
          absorbedOnHand: 0,
          counted: null,
          outcome: 'applied',
          oversell: false,
        }),
      };
    }
  }
}

type MovementChange = Pick<
  Movement,
  'dOnHand' | 'dReserved' | 'dIncoming' | 'dDamaged' | 'absorbedOnHand' | 'counted' | 'outcome' | 'oversell'
>;

/**
 * A movement written field by field: object spreads that grow an object past a dozen properties
 * push V8 into slow dictionary objects, and this runs once per effect on every sync.
 */
function movement(after: StockRow, reason: MovementReason, hlc: Hlc, c: MovementChange): Movement {
  return {
    locationId: after.locationId,
    sku: after.sku,
    reason,
    hlc,
    dOnHand: c.dOnHand,
    dReserved: c.dReserved,
    dIncoming: c.dIncoming,
    dDamaged: c.dDamaged,
    absorbedOnHand: c.absorbedOnHand,
    counted: c.counted,
    outcome: c.outcome,
    onHandAfter: after.onHand,
    versionAfter: after.version,
    oversell: c.oversell,
  };
}

/** What the reducer needs to know about rows and history it does not hold itself. */
export interface LedgerView {
  /** The current row, or undefined when the location has never stocked the SKU. */
  row(locationId: string, sku: string): StockRow | undefined;
  /** Sum of effective on_hand changes on this row stamped strictly after `hlc`. */
  onHandAfter(locationId: string, sku: string, hlc: Hlc): number;
}

export interface ReducedOp {
  /** Every row the op changed, in its final state. */
  rows: StockRow[];
  /** One movement per effect, in application order. */
  movements: Movement[];
}

/** Apply a whole operation: every effect in order, rows chained within the op. */
export function reduceOp(op: StockOp, view: LedgerView): ReducedOp {
  const touched = new Map<string, StockRow>();
  const movements: Movement[] = [];
  for (const effect of effectsOf(op)) {
    const key = rowKey(effect.locationId, effect.sku);
    const row =
      touched.get(key) ?? view.row(effect.locationId, effect.sku) ?? emptyRow(effect.locationId, effect.sku);
    // Movements of this same op share its HLC, so they never count as "later" than it.
    const later = effect.kind === 'count' ? view.onHandAfter(effect.locationId, effect.sku, op.hlc) : 0;
    const applied = applyEffect(row, effect, op.hlc, later);
    touched.set(key, applied.row);
    movements.push(applied.movement);
  }
  return { rows: [...touched.values()], movements };
}

/**
 * An in-memory ledger: rows plus their movements. The property tests use it as the reference
 * model; the hub uses one per batch for movements not yet written to the database.
 */
export class MemoryLedger implements LedgerView {
  readonly rows = new Map<string, StockRow>();
  readonly movements: Movement[] = [];

  row(locationId: string, sku: string): StockRow | undefined {
    return this.rows.get(rowKey(locationId, sku));
  }

  onHandAfter(locationId: string, sku: string, hlc: Hlc): number {
    let sum = 0;
    for (const m of this.movements)
      if (m.locationId === locationId && m.sku === sku && m.hlc > hlc) sum += m.dOnHand;
    return sum;
  }

  apply(op: StockOp): ReducedOp {
    const result = reduceOp(op, this);
    for (const row of result.rows) this.rows.set(rowKey(row.locationId, row.sku), row);
    this.movements.push(...result.movements);
    return result;
  }
}
