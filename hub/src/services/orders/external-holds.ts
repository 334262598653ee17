import { randomBytes } from 'node:crypto';
import type { Queryable } from '../../db/database.js';
import { ConflictError, NotFoundError } from '../../errors.js';
import type { Hold, HoldCreate, HoldRelease } from '../../schemas/orders.js';
import type { Principal } from '../tokens.js';
import { insufficientStock, lockCandidates, route } from './allocate.js';
import { heldBy, holdUnits, type Mover, settleUnits } from './allocations.js';
import { actorOf, type OrderContext, writeOrder } from './context.js';
import { assertSkusKnown } from './create.js';
import { ORDER_COLUMNS, type OrderRecord, recordHistory, transition } from './records.js';

/*
 * POST /v1/locations/{id}/inventory/reserve and /release, for channels that run their own orders.
 * A channel's reference is an `orders` row of kind 'external' (one per token × reference), so its
 * holds are ordinary allocations: tills see them, and expiry and re-allocation treat them like any
 * other. Reserving checks availability under row locks exactly as orders do (safety stock kept
 * back); releasing gives back at most what the reference holds at that location. A hold with
 * `ttlSeconds` expires like an unpaid order (the last reserve sets the expiry; without ttlSeconds
 * it is held until released). A reference holding nothing any more is `canceled` (reason
 * 'released'); reserving again under it reopens it.
 */

async function holdRecord(
  tx: Queryable,
  principal: Principal,
  reference: string,
): Promise<OrderRecord | undefined> {
  const { rows } = await tx.query<OrderRecord>(
    `SELECT ${ORDER_COLUMNS} FROM orders WHERE created_by = $1 AND external_ref = $2 FOR UPDATE`,
    [principal.id, reference],
  );
  return rows[0];
}

async function holdAt(m: Mover, record: OrderRecord, locationId: string): Promise<Hold> {
  const held = (await heldBy(m.tx, record.id)).filter((h) => h.locationId === locationId);
  return {
    reference: record.external_ref ?? record.id,
    orderId: record.id,
    locationId,
    lines: held.map((h) => ({ sku: h.sku, held: h.qty })),
    expiresAt: record.expires_at?.toISOString() ?? null,
  };
}

async function assertLocation(tx: Queryable, locationId: string): Promise<void> {
  const { rows } = await tx.query('SELECT 1 FROM locations WHERE id = $1', [locationId]);
  if (rows.length === 0) throw new NotFoundError('location', locationId);
}

export function reserveHold(
  ctx: OrderContext,
  principal: Principal,
  locationId: string,
  input: HoldCreate,
): Promise<Hold> {
  return writeOrder(ctx, actorOf(principal), async (m, changes) => {
    const { tx } = m;
    await assertLocation(tx, locationId);
    await assertSkusKnown(tx, input.lines);
    const created = await tx.query(
      `INSERT INTO orders (id, kind, external_ref, channel, status, fulfilment, created_by)
         VALUES ($1, 'external', $2, 'external', 'pending', 'shipping', $3) ON CONFLICT DO NOTHING
         RETURNING id`,
      [`ext_${randomBytes(9).toString('base64url')}`, input.reference, principal.id],
    );
    const found = await holdRecord(tx, principal, input.reference);
    if (!found) throw new Error(`external hold ${input.reference} vanished after its insert`);
    const candidates = await lockCandidates(
      tx,
      input.lines.map((l) => l.sku),
      { onlyLocationId: locationId, keepSafetyStock: true },
    );
    const { placements, shortages } = route(input.lines, candidates);
    if (shortages.length > 0) throw insufficientStock(shortages);

    const { rows } = await tx.query<{ expires_at: Date | null }>(
      `UPDATE orders SET status = 'pending', updated_at = now(),
           expires_at = CASE WHEN $2::int IS NULL THEN NULL ELSE now() + make_interval(secs => $2) END
         WHERE id = $1 RETURNING expires_at`,
      [found.id, input.ttlSeconds ?? null],
    );
    const record = { ...found, expires_at: rows[0]?.expires_at ?? null };
    if (created.rows.length > 0 || found.status !== 'pending') {
      const from = created.rows.length > 0 ? null : found.status;
      await recordHistory(tx, found.id, from, 'pending', m.actor, 'reserved');
    }
    changes.push(...(await holdUnits(m, record, placements)));
    return await holdAt(m, record, locationId);
  });
}

export function releaseHold(
  ctx: OrderContext,
  principal: Principal,
  locationId: string,
  input: HoldRelease,
): Promise<Hold> {
  return writeOrder(ctx, actorOf(principal), async (m, changes) => {
    const { tx } = m;
    await assertLocation(tx, locationId);
    const record = await holdRecord(tx, principal, input.reference);
    if (!record) throw new NotFoundError('reservation', input.reference);
    const all = await heldBy(tx, record.id);
    const here = new Map(all.filter((h) => h.locationId === locationId).map((h) => [h.sku, h.qty]));
    const short = input.lines
      .map((l) => ({ sku: l.sku, requested: l.qty, held: here.get(l.sku) ?? 0 }))
      .filter((l) => l.requested > l.held);
    if (short.length > 0) {
      throw new ConflictError(
        'insufficient_hold',
        `reservation ${JSON.stringify(input.reference)} holds less than that at ${locationId}`,
        { lines: short },
      );
    }
    const items = input.lines.map((l) => ({ locationId, sku: l.sku, qty: l.qty }));
    changes.push(...(await settleUnits(m, record, items, 'released', 'release')));
    const heldUnits = all.reduce((sum, h) => sum + h.qty, 0) - items.reduce((sum, i) => sum + i.qty, 0);
    if (heldUnits === 0) await transition(tx, record, 'canceled', m.actor, 'released');
    return await holdAt(m, record, locationId);
  });
}
