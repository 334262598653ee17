import { randomBytes } from 'node:crypto';
import type { Database } from '../../db/database.js';
import type { GroupCommit } from '../../db/group-commit.js';
import { pgErrorCode } from '../../errors.js';
import type { StockWriter } from '../../plugins/app/stock-writer.js';
import type { ReservationChangeAt, ReservationFeed } from '../../sync/reservation-feed.js';
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

const DEADLOCK_DETECTED = '40P01';
const ATTEMPTS = 3;

/**
 * Run a write again when Postgres broke a deadlock by aborting it. Order writes lock orders before
 * stock rows, but a till's push re-allocating broken reservations locks them the other way round.
 */
export async function retryOnDeadlock<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= ATTEMPTS || pgErrorCode(err) !== DEADLOCK_DETECTED) throw err;
    }
  }
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
  return retryOnDeadlock(async () => {
    const changes: ReservationChangeAt[] = [];
    const result = await ctx.stock.write((tx, apply) =>
      fn({ tx, apply, clock: ctx.stock.clock, actor }, changes),
    );
    ctx.feed.publish(changes);
    return result;
  });
}
