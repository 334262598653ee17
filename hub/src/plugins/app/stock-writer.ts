import { EventEmitter } from 'node:events';
import { HybridClock, type StockRow } from '@tillsync/sync-protocol';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Queryable } from '../../db/database.js';
import { type AppliedBatch, applyOps, type LedgerOp } from '../../services/ledger.js';

export type ChangedRow = StockRow & { changeSeq: number };

/**
 * The one door to stock writes. `write(fn)` runs `fn` in a transaction with an `apply` that sends
 * ops through the ledger; once the transaction commits, the changed rows are announced on
 * `changes` (the sync layer pushes them to tills). Nothing is announced for a rolled-back write.
 */
export class StockWriter {
  readonly changes = new EventEmitter<{ rows: [ChangedRow[]] }>();
  /** This hub instance's clock, stamping every op the hub itself originates. */
  readonly clock = new HybridClock(
    `hub-${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`,
  );

  constructor(private readonly db: FastifyInstance['db']) {}

  async write<T>(
    fn: (tx: Queryable, apply: (ops: LedgerOp[]) => Promise<AppliedBatch>) => Promise<T>,
  ): Promise<T> {
    const changed = new Map<string, ChangedRow>();
    const result = await this.db.transaction((tx) =>
      fn(tx, async (ops) => {
        const batch = await applyOps(tx, ops);
        for (const row of batch.rows) changed.set(`${row.locationId}\u0000${row.sku}`, row);
        return batch;
      }),
    );
    if (changed.size > 0) this.changes.emit('rows', [...changed.values()]);
    return result;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    stock: StockWriter;
  }
}

export default fp(
  async (app: FastifyInstance) => {
    app.decorate('stock', new StockWriter(app.db));
  },
  { name: 'stock-writer', dependencies: ['db'] },
);
