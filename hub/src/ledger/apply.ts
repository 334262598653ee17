import {
  effectsOf,
  type LedgerView,
  type Movement,
  type ReducedOp,
  reduceOp,
  rowKey,
  type StockOp,
  type StockRow,
} from '@tillsync/sync-protocol';
import type { Queryable } from '../db/database.js';
import { named } from '../db/named.js';
import { STOCK_COLUMNS, type StockRecord, toStockRow } from '../services/stock-rows.js';
import { openConflicts } from './conflicts.js';

/*
 * The hub's write path for stock. Every change — a till's op, a REST receipt, an order's
 * reservation — comes here as an op and is applied in the caller's transaction:
 *
 *   1. create missing rows, then lock every row the ops touch (sorted: no deadlocks)
 *   2. prefetch, for each count, the on_hand already applied after its HLC
 *   3. run the shared reducer in memory, op by op
 *   4. write rows back, take their change cursors and append the movements: one statement (unnest)
 *
 * Three round trips per batch whatever its size (two when the caller created the rows already,
 * as the push path does; one more with counts, one more with oversells).
 */

export interface LedgerOp {
  op: StockOp;
  /** "device:<id>", "token:<id>" or "system": who made it, kept on every movement. */
  actor: string;
  deviceId?: string | null;
  /** Receipt, order or transfer id the movement belongs to, for people reading the ledger. */
  reference?: string | null;
  /**
   * The op type the till sent, when the hub applied its op as another (a till's transfer or pickup
   * that did not match, sync/till-transfers.ts): the ledger keeps what was sent as op_type.
   */
  sentAs?: StockOp['type'];
}

export interface AppliedBatch {
  /** Reducer output per input op, in input order. */
  results: ReducedOp[];
  /** Final state of every row changed, with its new change cursor. */
  rows: Array<StockRow & { changeSeq: number }>;
}

export interface ApplyOptions {
  /**
   * The caller already ran `CREATE_MISSING_ROWS` for `rowsTouched(ops)` in this transaction (the
   * push path does, in its bookkeeping statement): one round trip less.
   */
  rowsCreated?: boolean;
}

/** The (location, sku) rows `ops` touch, sorted: the order every writer creates and locks them in. */
export function rowsTouched(ops: readonly StockOp[]): { locationIds: string[]; skus: string[] } {
  const keys = new Map<string, { locationId: string; sku: string }>();
  for (const op of ops) {
    for (const e of effectsOf(op))
      keys.set(rowKey(e.locationId, e.sku), { locationId: e.locationId, sku: e.sku });
  }
  const sorted = [...keys.values()].sort((a, b) =>
    a.locationId === b.locationId ? cmp(a.sku, b.sku) : cmp(a.locationId, b.locationId),
  );
  return { locationIds: sorted.map((k) => k.locationId), skus: sorted.map((k) => k.sku) };
}

/**
 * Create the rows `rowsTouched` names that do not exist yet, in its order: named parameters
 * `$newRowLocations`, `$newRowSkus` (values: `missingRowsValues`), so the push path can run it
 * inside its bookkeeping statement.
 */
export const CREATE_MISSING_ROWS = `INSERT INTO stock (location_id, sku)
     SELECT * FROM unnest($newRowLocations::text[], $newRowSkus::text[]) ON CONFLICT DO NOTHING`;

export function missingRowsValues(ops: readonly StockOp[]): Record<string, unknown> {
  const rows = rowsTouched(ops);
  return { newRowLocations: rows.locationIds, newRowSkus: rows.skus };
}

/**
 * Lock every stock row `ops` touch, then their locations' cursor rows, each sorted: a transaction
 * that goes on to apply them in several ledger calls (a push group holding transfers) then takes
 * its locks in the global order, as one call would.
 */
export async function lockRowsAndCursors(tx: Queryable, ops: readonly StockOp[]): Promise<void> {
  const { locationIds: locs, skus } = rowsTouched(ops);
  if (locs.length === 0) return;
  await tx.query(
    `SELECT count(*) FROM (SELECT 1 FROM stock
       WHERE (location_id, sku) IN (SELECT * FROM unnest($1::text[], $2::text[]))
       ORDER BY location_id, sku FOR UPDATE) AS locked`,
    [locs, skus],
  );
  await tx.query(
    `INSERT INTO stock_cursors AS c (location_id, last_seq)
     SELECT DISTINCT l, 0 FROM unnest($1::text[]) AS l ORDER BY 1
     ON CONFLICT (location_id) DO UPDATE SET last_seq = c.last_seq`,
    [locs],
  );
}

export async function applyOps(
  tx: Queryable,
  ops: readonly LedgerOp[],
  options: ApplyOptions = {},
): Promise<AppliedBatch> {
  if (ops.length === 0) return { results: [], rows: [] };
  const keys = new Set<string>();
  const counts: Array<{ locationId: string; sku: string; hlc: string }> = [];
  for (const { op } of ops) {
    for (const e of effectsOf(op)) {
      keys.add(rowKey(e.locationId, e.sku));
      if (e.kind === 'count') counts.push({ locationId: e.locationId, sku: e.sku, hlc: op.hlc });
    }
  }
  const { locationIds: locs, skus } = rowsTouched(ops.map((o) => o.op));

  if (!options.rowsCreated) {
    await tx.query(...named(CREATE_MISSING_ROWS, { newRowLocations: locs, newRowSkus: skus }));
  }
  const locked = await tx.query<StockRecord>(
    `SELECT ${STOCK_COLUMNS} FROM stock
     WHERE (location_id, sku) IN (SELECT * FROM unnest($1::text[], $2::text[]))
     ORDER BY location_id, sku FOR UPDATE`,
    [locs, skus],
  );
  const rows = new Map<string, StockRow>();
  for (const r of locked.rows) rows.set(rowKey(r.location_id, r.sku), toStockRow(r));

  const appliedAfter = await prefetchOnHandAfter(tx, counts);
  const pending: Movement[] = [];
  const view: LedgerView = {
    row: (locationId, sku) => rows.get(rowKey(locationId, sku)),
    onHandAfter: (locationId, sku, hlc) => {
      let sum = appliedAfter.get(`${rowKey(locationId, sku)}\u0000${hlc}`) ?? 0;
      for (const m of pending)
        if (m.locationId === locationId && m.sku === sku && m.hlc > hlc) sum += m.dOnHand;
      return sum;
    },
  };

  const results: ReducedOp[] = [];
  const movementMeta: LedgerOp[] = [];
  for (const input of ops) {
    const reduced = reduceOp(input.op, view);
    for (const row of reduced.rows) rows.set(rowKey(row.locationId, row.sku), row);
    for (const m of reduced.movements) {
      pending.push(m);
      movementMeta.push(input);
    }
    results.push(reduced);
  }

  const changed = [...rows.values()].filter((r) => keys.has(rowKey(r.locationId, r.sku)));
  const written = await writeRowsAndMovements(tx, changed, pending, movementMeta);
  await recordOversells(tx, pending, movementMeta);
  return { results, rows: written };
}

async function prefetchOnHandAfter(
  tx: Queryable,
  counts: ReadonlyArray<{ locationId: string; sku: string; hlc: string }>,
): Promise<Map<string, number>> {
  const sums = new Map<string, number>();
  if (counts.length === 0) return sums;
  const { rows } = await tx.query<{ location_id: string; sku: string; hlc: string; later: number }>(
    `SELECT k.location_id, k.sku, k.hlc, COALESCE(SUM(m.d_on_hand), 0)::int AS later
     FROM unnest($1::text[], $2::text[], $3::text[]) AS k(location_id, sku, hlc)
     LEFT JOIN movements m
       ON m.location_id = k.location_id AND m.sku = k.sku AND m.hlc > (k.hlc COLLATE "C")
     GROUP BY k.location_id, k.sku, k.hlc`,
    [counts.map((c) => c.locationId), counts.map((c) => c.sku), counts.map((c) => c.hlc)],
  );
  for (const r of rows) sums.set(`${rowKey(r.location_id, r.sku)}\u0000${r.hlc}`, r.later);
  return sums;
}

/**
 * Write the rows back, each taking its location's next change cursor, and append the movements: one
 * statement. Cursor rows are locked after every stock row (the stock rows are locked already, by
 * applyOps; cursors in location order), so lock order stays global and deadlock-free.
 */
async function writeRowsAndMovements(
  tx: Queryable,
  rows: StockRow[],
  ms: readonly Movement[],
  meta: readonly LedgerOp[],
): Promise<Array<StockRow & { changeSeq: number }>> {
  const { perLocation, offsets, locations } = cursorBlocks(rows);
  const col = <T>(f: (m: Movement, i: number) => T) => ms.map(f);
  const { rows: cursors } = await tx.query<{ location_id: string; last_seq: number }>(
    `WITH c AS (
       INSERT INTO stock_cursors AS c (location_id, last_seq)
       SELECT * FROM unnest($1::text[], $2::bigint[]) ORDER BY 1
       ON CONFLICT (location_id) DO UPDATE SET last_seq = c.last_seq + excluded.last_seq
       RETURNING location_id, last_seq),
     written AS (
       UPDATE stock s SET
         on_hand = u.on_hand, reserved = u.reserved, incoming = u.incoming, damaged = u.damaged,
         reorder_point = u.reorder_point, version = u.version, count_hlc = u.count_hlc,
         change_seq = c.last_seq + u.cursor_offset, updated_at = now()
       FROM unnest($3::text[], $4::text[], $5::int[], $6::int[], $7::int[], $8::int[], $9::int[], $10::int[],
         $11::text[], $12::bigint[])
         AS u(location_id, sku, on_hand, reserved, incoming, damaged, reorder_point, version, count_hlc, cursor_offset)
         JOIN c ON c.location_id = u.location_id
       WHERE s.location_id = u.location_id AND s.sku = u.sku),
     appended AS (
       INSERT INTO movements (location_id, sku, op_id, op_type, reason, outcome, d_on_hand, d_reserved, d_incoming,
         d_damaged, absorbed_on_hand, counted, on_hand_after, version_after, oversell, hlc, device_id, actor, reference)
       SELECT * FROM unnest($13::text[], $14::text[], $15::uuid[], $16::text[], $17::text[], $18::text[], $19::int[],
         $20::int[], $21::int[], $22::int[], $23::int[], $24::int[], $25::int[], $26::int[], $27::bool[], $28::text[],
         $29::text[], $30::text[], $31::text[]))
     SELECT location_id, last_seq FROM c`,
    [
      locations,
      locations.map((l) => perLocation.get(l)),
      rows.map((r) => r.locationId),
      rows.map((r) => r.sku),
      rows.map((r) => r.onHand),
      rows.map((r) => r.reserved),
      rows.map((r) => r.incoming),
      rows.map((r) => r.damaged),
      rows.map((r) => r.reorderPoint),
      rows.map((r) => r.version),
      rows.map((r) => r.countHlc),
      offsets,
      col((m) => m.locationId),
      col((m) => m.sku),
      col((_, i) => meta[i]!.op.opId),
      col((_, i) => meta[i]!.sentAs ?? meta[i]!.op.type),
      col((m) => m.reason),
      col((m) => m.outcome),
      col((m) => m.dOnHand),
      col((m) => m.dReserved),
      col((m) => m.dIncoming),
      col((m) => m.dDamaged),
      col((m) => m.absorbedOnHand),
      col((m) => m.counted),
      col((m) => m.onHandAfter),
      col((m) => m.versionAfter),
      col((m) => m.oversell),
      col((m) => m.hlc),
      col((_, i) => meta[i]!.deviceId ?? null),
      col((_, i) => meta[i]!.actor),
      col((_, i) => meta[i]!.reference ?? null),
    ],
  );
  const last = new Map(cursors.map((c) => [c.location_id, c.last_seq]));
  return rows.map((r, i) => ({ ...r, changeSeq: last.get(r.locationId)! + offsets[i]! }));
}

/**
 * Row i takes cursor (its location's new last_seq) + offsets[i]: its location's rows, in order,
 * get the block (last_seq - n, last_seq]. `perLocation` is n per location, `locations` sorted.
 */
function cursorBlocks(rows: readonly StockRow[]): {
  perLocation: Map<string, number>;
  offsets: number[];
  locations: string[];
} {
  const perLocation = new Map<string, number>();
  const offsets = rows.map((r) => {
    const rank = (perLocation.get(r.locationId) ?? 0) + 1;
    perLocation.set(r.locationId, rank);
    return rank;
  });
  rows.forEach((r, i) => {
    offsets[i] = offsets[i]! - perLocation.get(r.locationId)!;
  });
  return { perLocation, offsets, locations: [...perLocation.keys()].sort(cmp) };
}

/*
 * The ledger folded into a caller's statement (POST /v1/orders settles a whole group of orders in
 * one read and one write statement). The caller locks the rows itself, sorted, FOR UPDATE, in
 * its read statement (stock rows before cursor rows, as applyOps does); `reduceLocked` runs the
 * shared reducer on them, op by op, as applyOps does; `LedgerWrite.ctes` are the data-modifying
 * CTEs that write the rows, take their change cursors and append the movements, reading one
 * jsonb document (`write.doc`) from a named SQL source: no parameter offsets shared with the
 * caller. The final SELECT returns `LEDGER_CURSORS`' rows to `ledgerWritten`.
 * Counts need the movements after their HLC (prefetchOnHandAfter) and oversells open conflicts:
 * neither happens on this path, and both are refused rather than half done.
 */
export class LockedBatch {
  private readonly rows = new Map<string, StockRow>();
  private readonly touched = new Set<string>();
  private readonly movements: Movement[] = [];
  private readonly meta: LedgerOp[] = [];

  constructor(locked: readonly StockRow[]) {
    for (const r of locked) this.rows.set(rowKey(r.locationId, r.sku), r);
  }

  /** The row as the ops reduced so far leave it (undefined: not locked by the caller). */
  row(locationId: string, sku: string): StockRow | undefined {
    return this.rows.get(rowKey(locationId, sku));
  }

  /** Reduce these ops on the locked rows: every row they touch must be locked, no counts, no oversell. */
  reduce(ops: readonly LedgerOp[]): ReducedOp[] {
    const view: LedgerView = {
      row: (locationId, sku) => {
        const row = this.row(locationId, sku);
        if (!row) throw new Error(`stock row ${locationId}/${sku} was not locked before its op`);
        return row;
      },
      onHandAfter: () => {
        throw new Error('a count cannot be folded into a locked batch');
      },
    };
    return ops.map((input) => {
      const reduced = reduceOp(input.op, view);
      for (const m of reduced.movements) {
        if (m.oversell) throw new Error(`op ${input.op.opId} would oversell ${m.locationId}/${m.sku}`);
        this.movements.push(m);
        this.meta.push(input);
      }
      for (const row of reduced.rows) {
        const key = rowKey(row.locationId, row.sku);
        this.rows.set(key, row);
        this.touched.add(key);
      }
      return reduced;
    });
  }

  /** The rows changed, sorted (the cursor blocks follow this order), and the document the CTEs read. */
  write(): LedgerWrite {
    const changed = [...this.touched]
      .map((k) => this.rows.get(k)!)
      .sort((a, b) => (a.locationId === b.locationId ? cmp(a.sku, b.sku) : cmp(a.locationId, b.locationId)));
    const { perLocation, offsets, locations } = cursorBlocks(changed);
    return {
      changed,
      offsets,
      doc: {
        cursors: locations.map((l) => ({ location_id: l, n: perLocation.get(l) })),
        rows: changed.map((r, i) => ({
          location_id: r.locationId,
          sku: r.sku,
          on_hand: r.onHand,
          reserved: r.reserved,
          incoming: r.incoming,
          damaged: r.damaged,
          reorder_point: r.reorderPoint,
          version: r.version,
          count_hlc: r.countHlc,
          cursor_offset: offsets[i],
        })),
        movements: this.movements.map((m, i) => {
          const input = this.meta[i]!;
          return {
            location_id: m.locationId,
            sku: m.sku,
            op_id: input.op.opId,
            op_type: input.sentAs ?? input.op.type,
            reason: m.reason,
            outcome: m.outcome,
            d_on_hand: m.dOnHand,
            d_reserved: m.dReserved,
            d_incoming: m.dIncoming,
            d_damaged: m.dDamaged,
            absorbed_on_hand: m.absorbedOnHand,
            counted: m.counted,
            on_hand_after: m.onHandAfter,
            version_after: m.versionAfter,
            oversell: m.oversell,
            hlc: m.hlc,
            device_id: input.deviceId ?? null,
            actor: input.actor,
            reference: input.reference ?? null,
          };
        }),
      },
    };
  }
}

export interface LedgerWrite {
  /** Rows changed, sorted, in their final state. */
  changed: StockRow[];
  offsets: number[];
  /** What `ledgerWriteCtes` reads. */
  doc: Record<string, unknown>;
}

/** The CTE of `ledgerWriteCtes` whose rows (location_id, last_seq) `ledgerWritten` needs. */
export const LEDGER_CURSORS = 'ledger_cursors';

/** The ledger's write as CTEs (to follow a WITH), reading `LedgerWrite.doc` from the SQL `source`. */
export function ledgerWriteCtes(source: string): string {
  return `${LEDGER_CURSORS} AS (
       INSERT INTO stock_cursors AS c (location_id, last_seq)
       SELECT x.location_id, x.n FROM jsonb_to_recordset(${source}->'cursors') AS x(location_id text, n bigint)
       ORDER BY 1
       ON CONFLICT (location_id) DO UPDATE SET last_seq = c.last_seq + excluded.last_seq
       RETURNING location_id, last_seq),
     ledger_rows AS (
       UPDATE stock s SET
         on_hand = u.on_hand, reserved = u.reserved, incoming = u.incoming, damaged = u.damaged,
         reorder_point = u.reorder_point, version = u.version, count_hlc = u.count_hlc,
         change_seq = c.last_seq + u.cursor_offset, updated_at = now()
       FROM jsonb_to_recordset(${source}->'rows') AS u(location_id text, sku text, on_hand int, reserved int,
         incoming int, damaged int, reorder_point int, version int, count_hlc text, cursor_offset bigint)
         JOIN ${LEDGER_CURSORS} c ON c.location_id = u.location_id
       WHERE s.location_id = u.location_id AND s.sku = u.sku),
     ledger_movements AS (
       INSERT INTO movements (location_id, sku, op_id, op_type, reason, outcome, d_on_hand, d_reserved, d_incoming,
         d_damaged, absorbed_on_hand, counted, on_hand_after, version_after, oversell, hlc, device_id, actor, reference)
       SELECT * FROM jsonb_to_recordset(${source}->'movements') AS m(location_id text, sku text, op_id uuid,
         op_type text, reason text, outcome text, d_on_hand int, d_reserved int, d_incoming int, d_damaged int,
         absorbed_on_hand int, counted int, on_hand_after int, version_after int, oversell bool, hlc text,
         device_id text, actor text, reference text))`;
}

/** The changed rows with the change cursors the write statement gave them. */
export function ledgerWritten(
  write: LedgerWrite,
  cursors: ReadonlyArray<{ location_id: string; last_seq: number }>,
): Array<StockRow & { changeSeq: number }> {
  const last = new Map(cursors.map((c) => [c.location_id, Number(c.last_seq)]));
  return write.changed.map((r, i) => ({ ...r, changeSeq: last.get(r.locationId)! + write.offsets[i]! }));
}

/** An oversell is applied (a sale is a physical fact) but opens a conflict for people to see. */
async function recordOversells(
  tx: Queryable,
  ms: readonly Movement[],
  meta: readonly LedgerOp[],
): Promise<void> {
  // An op applied as another (sentAs) has its own conflict already, saying what it claimed.
  const oversells = ms.flatMap((m, i) => (m.oversell && !meta[i]!.sentAs ? [{ m, input: meta[i]! }] : []));
  await openConflicts(
    tx,
    oversells.map(({ m, input }) => ({
      locationId: m.locationId,
      kind: 'oversell' as const,
      sku: m.sku,
      opId: input.op.opId,
      details: { onHandAfter: m.onHandAfter, reason: m.reason, actor: input.actor, hlc: m.hlc },
    })),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
