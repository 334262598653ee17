import { newOpId, type StockRow } from '@tillsync/sync-protocol';
import type { Queryable } from '../../db/database.js';
import { GroupCommit } from '../../db/group-commit.js';
import { retryTransaction } from '../../db/retry.js';
import { AppError, BadRequestError } from '../../errors.js';
import {
  LEDGER_CURSORS,
  type LedgerOp,
  LockedBatch,
  ledgerWriteCtes,
  ledgerWritten,
} from '../../ledger/apply.js';
import type { ReservationChangeAt } from '../../ledger/reservation-feed.js';
import { type LocationCommit, locationCommits, stockChangedData } from '../../ledger/writer.js';
import { type OrderCreate, OrderDetail } from '../../schemas/orders.js';
import { eventRow, eventsInsertCte } from '../events.js';
import {
  answerKeysCte,
  answerRow,
  type ClaimedRow,
  claimKeysCte,
  claimRow,
  type KeyedRequest,
  releaseKeysCte,
  type StoredResponse,
  type Verdict,
  verdictOf,
} from '../idempotency.js';
import { type StockRecord, toStockRow } from '../stock-rows.js';
import type { Principal } from '../tokens.js';
import { type Candidate, insufficientStock, type Placement, route } from './allocate.js';
import { actorOf, newOrderId, type OrderWriteContext } from './context.js';
import { type OrderRecord, toOrder } from './records.js';

/*
 * POST /v1/orders, settled in groups: the orders that arrive while a group is in flight are
 * settled together in the next one (db/group-commit.ts; a lone order runs at once). A group is
 * one transaction of two statements, whatever its size, in three phases:
 *
 *   read    one statement: claim every member's Idempotency-Key, and read what the decision
 *           needs: the known SKUs, the pickup stores, and every candidate stock row, locked
 *           FOR UPDATE in (location_id, sku) order (the ledger's lock order), with its location
 *   decide  in memory, member by member in arrival order: a key already answered replays (or is
 *           422); else the checks (400), the routing rule (allocate.ts `route`, on the rows as the
 *           group's earlier members left them), 409 if short; else the reserve ops go through the
 *           shared reducer on the locked rows (ledger.ts LockedBatch) and the 201 body is built
 *   write   one statement of data-modifying CTEs: orders, lines, allocations, history, the
 *           order.created events, the ledger's rows, cursors and movements, one stock.changed per
 *           location, the answers stored with their keys, and the refused members' keys given back
 *
 * So each member keeps its own semantics (its key and answer, its own 400/409/422): a refused
 * member is an outcome, not a failure, and fails no one else. A group whose transaction fails
 * (a deadlock, a bug) is settled again member by member by GroupCommit. Key, order, allocations,
 * reservation, history, events and answer commit or roll back together. After the commit the
 * tills hear of the reservations and the stock rows (reservation feed, stock writer's commits).
 */

/** One POST /v1/orders with its Idempotency-Key. */
export interface OrderRequest {
  principal: Principal;
  input: OrderCreate;
  keyed: KeyedRequest;
}

export type OrderOutcome =
  /** The 201, as stored with the key: the route sends these bytes. */
  | { kind: 'created'; response: StoredResponse }
  /** The key was answered before (replay), or used for another request (422), or sealed. */
  | { kind: 'answered'; verdict: Verdict }
  /** Refused (400, 409): nothing written, the key not kept. */
  | { kind: 'refused'; error: AppError };

/** Most orders in one group (one statement's worth: the write document grows with it). */
const MAX_GROUP = 100;
const JSON_TYPE = 'application/json; charset=utf-8';

/** The group commit POST /v1/orders submits to: several groups in flight on Postgres, one on PGlite. */
export function orderCreations(ctx: OrderWriteContext): GroupCommit<OrderRequest, OrderOutcome> {
  return new GroupCommit({
    settle: (members) => settleOrders(ctx, members),
    keyOf: (m) => `${m.keyed.request.scope}\n${m.keyed.request.key}`,
    maxMembers: MAX_GROUP,
    concurrency: ctx.db.kind === 'postgres' ? 2 : 1,
  });
}

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

interface LockedRow extends Omit<StockRecord, 'change_seq' | 'updated_at'> {
  kind: 'store' | 'warehouse';
  priority: number;
  safety_stock: number;
}

interface GroupRead {
  /** The transaction's time: every row the group writes is stamped with it (now()). */
  now: Date;
  keys: ClaimedRow[];
  known: string[];
  pickups: Array<{ id: string; kind: string; active: boolean }>;
  stock: LockedRow[];
}

const pickupOf = (input: OrderCreate) =>
  input.fulfilment.type === 'pickup' ? input.fulfilment.pickupLocationId : null;

/**
 * The read statement. The keys are claimed first (the first output column: a claim waiting on
 * another instance's claim of the same key holds no stock row meanwhile), then the candidate rows
 * are locked: a pickup order's SKUs at its store, a shipping order's at every active location.
 */
async function readGroup(tx: Queryable, members: readonly OrderRequest[]): Promise<GroupRead> {
  const shipping = new Set<string>();
  const pickupPairs = new Map<string, { locationId: string; sku: string }>();
  for (const { input } of members) {
    const pickup = pickupOf(input);
    for (const l of input.lines) {
      if (pickup === null) shipping.add(l.sku);
      else pickupPairs.set(`${pickup}\n${l.sku}`, { locationId: pickup, sku: l.sku });
    }
  }
  const pairs = [...pickupPairs.values()];
  const { rows } = await tx.query<GroupRead>(
    `WITH ${claimKeysCte('claimed', '$1::jsonb', '$2')}
     SELECT now() AS now,
       (SELECT json_agg(c) FROM claimed c) AS keys,
       ARRAY(SELECT sku FROM products WHERE sku = ANY($3::text[])) AS known,
       (SELECT coalesce(json_agg(json_build_object('id', id, 'kind', kind, 'active', active)), '[]')
        FROM locations WHERE id = ANY($4::text[])) AS pickups,
       (SELECT coalesce(json_agg(x), '[]') FROM (
          SELECT s.location_id, s.sku, s.on_hand, s.reserved, s.incoming, s.damaged, s.reorder_point,
            s.version, s.count_hlc, l.kind, l.priority, l.safety_stock
          FROM stock s JOIN locations l ON l.id = s.location_id
          WHERE l.active AND (s.sku = ANY($5::text[])
            OR (s.location_id, s.sku) IN (SELECT * FROM unnest($4::text[], $6::text[])))
          ORDER BY s.location_id, s.sku
          FOR UPDATE OF s) x) AS stock`,
    [
      JSON.stringify(members.map((m) => claimRow(m.keyed.request, m.keyed.hash))),
      members[0]!.keyed.ttlMs,
      [...new Set(members.flatMap((m) => m.input.lines.map((l) => l.sku)))],
      pairs.map((p) => p.locationId),
      [...shipping],
      pairs.map((p) => p.sku),
    ],
  );
  const read = rows[0]!;
  return { ...read, now: new Date(read.now) };
}

/** What the write statement writes, member by member (arrays of rows its CTEs read). */
interface GroupWrite {
  orders: object[];
  lines: object[];
  allocations: object[];
  history: object[];
  events: object[];
  answers: object[];
  released: object[];
}

interface Plan {
  outcomes: OrderOutcome[];
  write: GroupWrite;
  batch: LockedBatch;
  changes: ReservationChangeAt[];
}

/** 400 for an unknown SKU (first), or a pickup location that is not an active store. */
function assertOrderable(input: OrderCreate, read: GroupRead, known: ReadonlySet<string>): void {
  assertLinesKnown(input.lines, known);
  const pickup = pickupOf(input);
  if (pickup === null) return;
  const field = 'body.fulfilment.pickupLocationId';
  const location = read.pickups.find((p) => p.id === pickup);
  if (!location) throw badField(field, `unknown location ${JSON.stringify(pickup)}`);
  if (location.kind !== 'store' || !location.active) {
    throw badField(field, `${JSON.stringify(pickup)} is not an active store`);
  }
}

/**
 * The candidates of one order, as the group's earlier members left the rows: a pickup order at
 * its store, its safety stock available to it; a shipping order everywhere, keeping it back.
 */
function candidatesOf(input: OrderCreate, read: GroupRead, batch: LockedBatch): Candidate[] {
  const pickup = pickupOf(input);
  const skus = new Set(input.lines.map((l) => l.sku));
  return read.stock
    .filter((r) => skus.has(r.sku) && (pickup === null || r.location_id === pickup))
    .map((r) => {
      const row = batch.row(r.location_id, r.sku)!;
      return {
        locationId: r.location_id,
        kind: r.kind,
        priority: r.priority,
        sku: r.sku,
        usable: row.onHand - row.reserved - (pickup === null ? r.safety_stock : 0),
      };
    });
}

/** One reserve op per location, each carrying that location's lines (as allocations.ts does). */
function reserveOps(
  ctx: OrderWriteContext,
  orderId: string,
  actor: string,
  placements: Placement[],
): LedgerOp[] {
  const byLocation = new Map<string, Placement[]>();
  for (const p of placements) byLocation.set(p.locationId, [...(byLocation.get(p.locationId) ?? []), p]);
  return [...byLocation]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([locationId, lines]) => ({
      op: {
        type: 'reserve' as const,
        opId: newOpId(),
        hlc: ctx.stock.clock.tick(),
        locationId,
        orderId,
        lines: lines.map((l) => ({ sku: l.sku, qty: l.qty })),
      },
      actor,
      reference: orderId,
    }));
}

/** Decide every member on the rows read: outcomes, and what the write statement writes. */
function planGroup(ctx: OrderWriteContext, members: readonly OrderRequest[], read: GroupRead): Plan {
  const known = new Set(read.known);
  const keys = new Map(read.keys.map((k) => [`${k.token_id}\n${k.key}`, k]));
  const batch = new LockedBatch(read.stock.map(toStockRow));
  const write: GroupWrite = {
    orders: [],
    lines: [],
    allocations: [],
    history: [],
    events: [],
    answers: [],
    released: [],
  };
  const changes: ReservationChangeAt[] = [];
  const expiresAt = new Date(read.now.getTime() + ctx.ttlSeconds * 1000);

  const outcomes = members.map((member): OrderOutcome => {
    const { principal, input, keyed } = member;
    const claim = keys.get(`${keyed.request.scope}\n${keyed.request.key}`)!;
    if (!claim.claimed) return { kind: 'answered', verdict: verdictOf(claim, keyed.hash, keyed.sealKey) };
    try {
      assertOrderable(input, read, known);
      const { placements, shortages } = route(input.lines, candidatesOf(input, read, batch));
      if (shortages.length > 0) throw insufficientStock(shortages);
      const actor = actorOf(principal);
      const order: Omit<OrderRecord, 'created_key'> = {
        id: newOrderId(),
        kind: 'order',
        external_ref: null,
        channel: input.channel,
        customer_ref: input.customerRef,
        status: 'pending',
        fulfilment: input.fulfilment.type,
        pickup_location_id: pickupOf(input),
        shipping_address: input.fulfilment.type === 'shipping' ? input.fulfilment.address : null,
        payment: null,
        cancel_reason: null,
        expires_at: expiresAt,
        at_risk: false,
        created_by: principal.id,
        created_at: read.now,
        updated_at: read.now,
      };
      batch.reduce(reserveOps(ctx, order.id, actor, placements));
      const details = { allocations: placements };
      // What GET /v1/orders/{id} reads back once this commits.
      const detail: OrderDetail = {
        ...toOrder(order, {
          lines: [...input.lines]
            .sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0))
            .map((l) => ({ sku: l.sku, qty: l.qty, returnedQty: 0 })),
          allocations: placements.map((p) => ({ ...p, status: 'held' as const })),
        }),
        history: [{ from: null, to: 'pending', reason: 'created', actor, at: read.now.toISOString() }],
      };
      const response: StoredResponse = {
        statusCode: 201,
        headers: { 'content-type': JSON_TYPE },
        body: JSON.stringify(OrderDetail.encode(detail)),
      };
      write.orders.push({
        id: order.id,
        channel: order.channel,
        customer_ref: order.customer_ref,
        fulfilment: order.fulfilment,
        pickup_location_id: order.pickup_location_id,
        shipping_address: order.shipping_address,
        created_by: order.created_by,
      });
      for (const l of input.lines) write.lines.push({ order_id: order.id, sku: l.sku, qty: l.qty });
      for (const p of placements) {
        write.allocations.push({
          n: write.allocations.length,
          order_id: order.id,
          location_id: p.locationId,
          sku: p.sku,
          qty: p.qty,
        });
        changes.push({ ...p, orderId: order.id, status: 'held', expiresAt: expiresAt.getTime() });
      }
      write.history.push({ order_id: order.id, actor, details });
      write.events.push(
        eventRow(
          'order.created',
          { ...detail, change: { from: null, to: 'pending', reason: 'created', details } },
          order.pickup_location_id,
        ),
      );
      write.answers.push(answerRow(keyed.request.scope, keyed.request.key, response, keyed.sealKey));
      return { kind: 'created', response };
    } catch (err) {
      // A refusal the plan decided (400, 409) is this member's answer; anything else fails the group.
      if (!(err instanceof AppError)) throw err;
      write.released.push({ token_id: keyed.request.scope, key: keyed.request.key });
      return { kind: 'refused', error: err };
    }
  });
  return { outcomes, write, batch, changes };
}

/**
 * The write statement: one jsonb document, each CTE reading its own part. Allocations keep the
 * order of their placements (their ids are the order the detail lists them in).
 */
async function writeGroup(tx: Queryable, ctx: OrderWriteContext, plan: Plan): Promise<LocationCommit[]> {
  const ledger = plan.batch.write();
  const rows = ledger.changed;
  // Webhooks hear of stock changes from the same transaction: one event per location (as the
  // stock writer does for every stock transaction).
  const byLocation = new Map<string, StockRow[]>();
  for (const r of rows) byLocation.set(r.locationId, [...(byLocation.get(r.locationId) ?? []), r]);
  const stockEvents = [...byLocation].map(([locationId, changed]) =>
    eventRow('stock.changed', stockChangedData(locationId, changed), locationId),
  );
  const doc = {
    ...plan.write,
    ttl: ctx.ttlSeconds,
    events: [...plan.write.events, ...stockEvents],
    ledger: ledger.doc,
  };
  const part = (name: string) => `(SELECT d->'${name}' FROM doc)`;
  const { rows: cursors } = await tx.query<{ location_id: string; last_seq: number }>(
    `WITH doc AS (SELECT $1::jsonb AS d),
     new_orders AS (
       INSERT INTO orders (id, kind, channel, customer_ref, status, fulfilment, pickup_location_id,
         shipping_address, expires_at, created_by)
       SELECT o.id, 'order', o.channel, o.customer_ref, 'pending', o.fulfilment, o.pickup_location_id,
         o.shipping_address, now() + make_interval(secs => (SELECT (d->>'ttl')::int FROM doc)), o.created_by
       FROM jsonb_to_recordset(${part('orders')}) AS o(id text, channel text, customer_ref text,
         fulfilment text, pickup_location_id text, shipping_address jsonb, created_by text)),
     new_lines AS (
       INSERT INTO order_lines (order_id, sku, qty)
       SELECT * FROM jsonb_to_recordset(${part('lines')}) AS l(order_id text, sku text, qty int)),
     new_allocations AS (
       INSERT INTO allocations (order_id, location_id, sku, qty, status)
       SELECT a.order_id, a.location_id, a.sku, a.qty, 'held'
       FROM jsonb_to_recordset(${part('allocations')})
         AS a(n int, order_id text, location_id text, sku text, qty int)
       ORDER BY a.n),
     new_history AS (
       INSERT INTO order_history (order_id, from_status, to_status, reason, actor, details)
       SELECT h.order_id, NULL, 'pending', 'created', h.actor, h.details
       FROM jsonb_to_recordset(${part('history')}) AS h(order_id text, actor text, details jsonb)),
     ${eventsInsertCte('new_events', part('events'))},
     ${answerKeysCte('answered', part('answers'))},
     ${releaseKeysCte('released', part('released'))},
     ${ledgerWriteCtes(part('ledger'))}
     SELECT location_id, last_seq FROM ${LEDGER_CURSORS}`,
    [JSON.stringify(doc)],
  );
  return locationCommits(ledgerWritten(ledger, cursors));
}

/** Settle a group of orders in one transaction (retried whole on deadlock); one outcome per member. */
export function settleOrders(
  ctx: OrderWriteContext,
  members: readonly OrderRequest[],
): Promise<OrderOutcome[]> {
  return retryTransaction(async () => {
    let plan: Plan | undefined;
    let commits: LocationCommit[] = [];
    const outcomes = await ctx.db.transaction(async (tx) => {
      plan = planGroup(ctx, members, await readGroup(tx, members));
      const w = plan.write;
      if (w.orders.length > 0 || w.released.length > 0) commits = await writeGroup(tx, ctx, plan);
      return plan.outcomes;
    });
    // Committed: the tills hear of the holds and the rows.
    ctx.feed.publish(plan!.changes);
    ctx.stock.announce(commits);
    return outcomes;
  });
}

/** POST /v1/orders: one order, settled in the next group (at once when none is in flight). */
export function createOrder(
  ctx: { creations: GroupCommit<OrderRequest, OrderOutcome> },
  request: OrderRequest,
): Promise<OrderOutcome> {
  return ctx.creations.submit(request);
}
