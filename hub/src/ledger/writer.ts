import { EventEmitter } from 'node:events';
import { HybridClock, type StockRow } from '@tillsync/sync-protocol';
import type { Database, Queryable } from '../db/database.js';
import { afterCommit } from '../db/request-transaction.js';
import { emitEvents } from '../services/events.js';
import { type AppliedBatch, type ApplyOptions, applyOps, type LedgerOp } from './apply.js';

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
 * Rows one transaction wrote, in write order, as one commit per location. Blocks of one
 * transaction are contiguous (the cursor row stays locked), so min/max bound them all; a row
 * written twice keeps its latest state (a Map keeps big writes linear).
 */
export function locationCommits(written: readonly ChangedRow[]): LocationCommit[] {
  const byLocation = new Map<string, LocationCommit & { latest: Map<string, ChangedRow> }>();
  for (const row of written) {
    let c = byLocation.get(row.locationId);
    if (c === undefined) {
      c = {
        locationId: row.locationId,
        fromCursor: row.changeSeq - 1,
        cursor: row.changeSeq,
        rows: [],
        latest: new Map(),
      };
      byLocation.set(row.locationId, c);
    }
    c.fromCursor = Math.min(c.fromCursor, row.changeSeq - 1);
    c.cursor = Math.max(c.cursor, row.changeSeq);
    c.latest.delete(row.sku);
    c.latest.set(row.sku, row);
  }
  return [...byLocation.values()].map(({ latest, ...c }) => ({ ...c, rows: [...latest.values()] }));
}

/** The payload of a location's `stock.changed` event (schemas/webhook-events.ts): its rows as changed. */
export function stockChangedData(locationId: string, rows: readonly StockRow[]): Record<string, unknown> {
  return {
    locationId,
    rows: rows.map((r) => ({
      sku: r.sku,
      onHand: r.onHand,
      reserved: r.reserved,
      available: r.onHand - r.reserved,
      incoming: r.incoming,
      damaged: r.damaged,
      version: r.version,
    })),
  };
}

/**
 * The one door to stock writes. `write(fn)` runs `fn` in a transaction with an `apply` that sends
 * ops through the ledger; once the transaction commits, the changes are announced per location on
 * `commits` (the sync layer pushes them to tills). Nothing is announced for a rolled-back write
 * (inside a request transaction, the announcement waits for its commit: `afterCommit`).
 */
export class StockWriter {
  /**
   * (commits, origins): the sync connections whose pushes caused them (none for a REST write). Each
   * got its location's rows in its ack, so the broadcast skips them all.
   */
  readonly commits = new EventEmitter<{ commit: [LocationCommit[], readonly string[]] }>();
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
   * Like `write`, and also return what was announced. `origins` (sync connection ids) are passed
   * along so the broadcast can skip the connections that made the change: they get the rows in
   * their acks.
   */
  async writeAndAnnounce<T>(
    fn: WriteFn<T>,
    origins: readonly string[] = [],
  ): Promise<{ result: T; commits: LocationCommit[] }> {
    let commits: LocationCommit[] = [];
    const result = await this.db.transaction(async (tx) => {
      const written: ChangedRow[] = [];
      const value = await fn(tx, async (ops, options) => {
        const batch = await applyOps(tx, ops, options);
        written.push(...batch.rows);
        return batch;
      });
      commits = locationCommits(written);
      // Webhooks hear of stock changes from the same transaction: one event per location.
      await emitEvents(
        tx,
        commits.map((c) => ({
          type: 'stock.changed' as const,
          locationId: c.locationId,
          data: stockChangedData(c.locationId, c.rows),
        })),
      );
      return value;
    });
    afterCommit(() => this.announce(commits, origins));
    return { result, commits };
  }

  /**
   * Tell the sync layer of committed changes. For writers that build their ledger statement
   * themselves (an order group, services/orders/create.ts) and call it once they have committed.
   */
  announce(commits: LocationCommit[], origins: readonly string[] = []): void {
    if (commits.length > 0) this.commits.emit('commit', commits, origins);
  }
}
