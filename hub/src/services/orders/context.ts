import { randomBytes } from 'node:crypto';
import type { Database } from '../../db/database.js';
import type { GroupCommit } from '../../db/group-commit.js';
import { retryTransaction } from '../../db/retry.js';
import type { ReservationChangeAt, ReservationFeed } from '../../ledger/reservation-feed.js';
import type { StockWriter } from '../../ledger/writer.js';
import type { Principal, Role } from '../tokens.js';
import type { Mover } from './allocations.js';
import type { OrderOutcome, OrderRequest } from './create.js';

/** What order writes need from the app: the database, the stock door, the tills' reservation feed, the TTL. */
export interface OrderWriteContext {
  db: Database;
  stock: StockWriter;
  feed: ReservationFeed;
  /** How long an unpaid (pending) order holds its stock. */
  ttlSeconds: number;
}

/** The order services' context: the above, and the group commit new orders are settled in (create.ts). */
export interface OrderContext extends OrderWriteContext {
  creations: GroupCommit<OrderRequest, OrderOutcome>;
}

export const ORDER_WRITERS: readonly Role[] = ['admin', 'channel'];
export const ORDER_READERS: readonly Role[] = ['admin', 'hq', 'channel', 'store_manager'];

export function newOrderId(): string {
  return `ord_${randomBytes(9).toString('base64url')}`;
}

export function actorOf(principal: Principal): string {
  return `${principal.kind}:${principal.id}`;
}

/**
 * One order write: a stock transaction whose `Mover` carries the acting principal, retried on
 * deadlock; the reservation changes it collects are published to the tills once it has committed.
 */
export function writeOrder<T>(
  ctx: OrderContext,
  actor: string,
  fn: (m: Mover, changes: ReservationChangeAt[]) => Promise<T>,
): Promise<T> {
  return retryTransaction(async () => {
    const changes: ReservationChangeAt[] = [];
    const result = await ctx.stock.write((tx, apply) =>
      fn({ tx, apply, clock: ctx.stock.clock, actor }, changes),
    );
    ctx.feed.publish(changes);
    return result;
  });
}
