import { TillOp } from '@tillsync/sync-protocol';
import { ConflictError } from '../errors.js';
import type { ReservationChangeAt } from '../ledger/reservation-feed.js';
import type { DeadLetter } from '../schemas/devices.js';
import { lockOpenDeadLetter, settleDeadLetter } from '../services/dead-letters.js';
import type { Principal } from '../services/tokens.js';
import { markRetriedApplied } from './applied-ops.js';
import { applyTillOps, type PushContext } from './push.js';
import { validateTillOp } from './push-plan.js';
import { readDecisionFacts } from './push-reads.js';

/*
 * Retrying a dead letter: its stored op goes through the push path's checks again, now. What
 * refused it may have been fixed since — a product or a location created (unknown_sku,
 * unknown_location). The other refusals cannot pass: a malformed op stays malformed, a till's
 * location does not change, and an op id used by another op (or already in the ledger) stays used.
 *
 * A passing op is applied as its device's through the stock writer (the location's tills get the
 * rows), in one transaction with the dead letter settled and the device's remembered answer for that
 * seq turned into "applied" (a resend of it is then a duplicate). The dead letter row is locked
 * first, so of two retries, even concurrent ones, exactly one applies it.
 */
export async function retryDeadLetter(
  ctx: PushContext,
  principal: Principal,
  id: number,
): Promise<DeadLetter> {
  const reservationChanges: ReservationChangeAt[] = [];
  const { result } = await ctx.stock.writeAndAnnounce(async (tx, apply) => {
    const letter = await lockOpenDeadLetter(tx, principal, id);
    const { rows } = await tx.query<{ location_id: string }>(
      'SELECT location_id FROM devices WHERE id = $1',
      [letter.device_id],
    );
    const device = { deviceId: letter.device_id, locationId: rows[0]!.location_id };
    const parsed = TillOp.safeParse(letter.op);
    const { known } = await readDecisionFacts(tx, parsed.success ? [parsed.data] : [], [], {
      deviceId: letter.device_id,
      seq: letter.seq,
    });
    const refusal = validateTillOp(letter.op, device, known);
    if (refusal) {
      throw new ConflictError('still_rejected', `the op is still rejected: ${refusal.reason}`, refusal);
    }
    const op = TillOp.parse(letter.op);
    reservationChanges.push(...(await applyTillOps(tx, apply, ctx.stock.clock, [{ device, ops: [op] }])));
    await markRetriedApplied(tx, device.deviceId, letter.seq, op.opId);
    return settleDeadLetter(tx, principal, id, 'retried', null);
  });
  ctx.reservations.publish(reservationChanges);
  return result;
}
