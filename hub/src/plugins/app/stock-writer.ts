import { EventEmitter } from 'node:events';
import { HybridClock, type StockRow } from '@tillsync/sync-protocol';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Database, Queryable } from '../../db/database.js';
import { afterCommit } from '../../db/request-transaction.js';
import { emitEvent } from '../../services/events.js';
import { type AppliedBatch, type ApplyOptions, applyOps, type LedgerOp } from '../../services/ledger.js';

export type ChangedRow = StockRow & { changeSeq: number };

type WriteFn<T> = (
  tx: Queryable,
  apply: (ops: LedgerOp[], options?: ApplyOptions) => Promise<AppliedBatch>,
) => Promise<T>;

/** One commit's changes at one location: its rows took cursors (fromCursor, cursor]. */
export interface LocationCommit {
  locationId: string;
  fromCursor: number;
  cursor: number;
  rows: ChangedRow[];
}

/**
 * The one door to stock writes. `write(fn)` runs `fn` in a transaction with an `apply` that sends
 * ops through the ledger; once the transaction commits, the changes are announced per location on
 * `commits` (the sync layer pushes them to tills). Nothing is announced for a rolled-back write
 * (inside a request transaction, the announcement waits for its commit: `afterCommit`).
 */
export class StockWriter {
  /** (commits, origin): origin is the sync connection that caused them, if any. */
  readonly commits = new EventEmitter<{ commit: [LocationCommit[], string | undefined] }>();
  /**
   * This hub instance's clock, stamping every op the hub itself originates. It takes a till's
   * stamp only up to `maxClockAheadMs` ahead of its own time (sync/clock-bounds.ts).
   */
  readonly clock: HybridClock;

  constructor(
    private readonly db: Database,
    options: { maxClockAheadMs?: number } = {},
  ) {
    this.clock = new HybridClock(`hub-${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`, {
      maxForwardDriftMs: options.maxClockAheadMs,
    });
  }

  async write<T>(fn: WriteFn<T>): Promise<T> {
    return (await this.writeAndAnnounce(fn)).result;
  }

  /**
   * Like `write`, and also return what was announced. `origin` (a sync connection id) is passed
   * along so the broadcast can skip the connection that made the change: it gets the rows in its ack.
   */
  async writeAndAnnounce<T>(
    fn: WriteFn<T>,
    origin?: string,
  ): Promise<{ result: T; commits: LocationCommit[] }> {
    const byLocation = new Map<string, LocationCommit>();
    // Latest state per (location, sku), in last-written order: a Map keeps big writes linear.
    const rowsOf = new Map<string, Map<string, ChangedRow>>();
    const result = await this.db.transaction(async (tx) => {
      const value = await fn(tx, async (ops, options) => {
        const batch = await applyOps(tx, ops, options);
        for (const row of batch.rows) {
          const c = byLocation.get(row.locationId) ?? {
            locationId: row.locationId,
            fromCursor: row.changeSeq - 1,
            cursor: row.changeSeq,
            rows: [],
          };
          // Blocks of one transaction are contiguous (the cursor row stays locked), so min/max
          // bound them all; a row written twice keeps its latest state.
          c.fromCursor = Math.min(c.fromCursor, row.changeSeq - 1);
          c.cursor = Math.max(c.cursor, row.changeSeq);
          const rows = rowsOf.get(row.locationId) ?? new Map<string, ChangedRow>();
          rows.delete(row.sku);
          rows.set(row.sku, row);
          rowsOf.set(row.locationId, rows);
          byLocation.set(row.locationId, c);
        }
        return batch;
      });
      // Webhooks hear of stock changes from the same transaction: one event per location.
      for (const [locationId, rows] of rowsOf) {
        const changed = [...rows.values()].map((r) => ({
          sku: r.sku,
          onHand: r.onHand,
          reserved: r.reserved,
          available: r.onHand - r.reserved,
          incoming: r.incoming,
          damaged: r.damaged,
          version: r.version,
        }));
        await emitEvent(tx, 'stock.changed', { locationId, rows: changed }, locationId);
      }
      return value;
    });
    const commits = [...byLocation.values()].map((c) => ({
      ...c,
      rows: [...(rowsOf.get(c.locationId)?.values() ?? [])],
    }));
    if (commits.length > 0) afterCommit(() => this.commits.emit('commit', commits, origin));
    return { result, commits };
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    stock: StockWriter;
  }
}

export default fp(
  async (app: FastifyInstance, options: { maxClockAheadMs?: number }) => {
    app.decorate('stock', new StockWriter(app.db, options));
  },
  { name: 'stock-writer', dependencies: ['db'] },
);
