import { heldBy, settleUnits } from './allocations.js';
import { type OrderContext, writeOrder } from './context.js';
import { ORDER_COLUMNS, type OrderRecord, transition } from './records.js';

const BATCH = 100;

/**
 * Release pending orders (and external holds) whose time ran out: holds released, status
 * canceled with reason 'expired'. Each batch claims its orders with FOR UPDATE SKIP LOCKED, so
 * hub instances running this at once never expire one order twice (nor wait on each other).
 * Returns how many orders expired.
 */
export async function expireDueOrders(ctx: OrderContext): Promise<number> {
  let total = 0;
  for (;;) {
    const expired = await writeOrder(ctx, 'system', async (m, changes) => {
      const { rows } = await m.tx.query<OrderRecord>(
        `SELECT ${ORDER_COLUMNS} FROM orders WHERE status = 'pending' AND expires_at <= now()
         ORDER BY expires_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [BATCH],
      );
      for (const order of rows) {
        const held = await heldBy(m.tx, order.id);
        changes.push(...(await settleUnits(m, order, held, 'released', 'release')));
        await transition(m.tx, order, 'canceled', m.actor, 'expired');
      }
      return rows.length;
    });
    total += expired;
    if (expired < BATCH) return total;
  }
}
