import { PGlite } from '@electric-sql/pglite';
import {
  type Database,
  INT8_OID,
  type PoolStats,
  parseInt8,
  type Queryable,
  type QueryResult,
} from './database.js';
import { Mutex } from './mutex.js';
import { joinedTransaction } from './request-transaction.js';

/**
 * Embedded Postgres (PGlite): one connection in this process. Concurrent transactions on one
 * connection would interleave and corrupt each other, so every query and transaction waits its
 * turn on a mutex. A transaction's own queries go straight through (it already holds the turn), and
 * so do those of a request transaction's context (db/request-transaction.ts), which holds it too.
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  private readonly turn = new Mutex();

  private constructor(private readonly db: PGlite) {}

  /**
   * `dataDir` is a directory path, or ":memory:" for a throwaway database; `loadDataDir` starts
   * from a dump (`raw.dumpDataDir()`) instead of an empty cluster.
   */
  static async open(dataDir: string, extra: { loadDataDir?: Blob } = {}): Promise<PgliteDatabase> {
    const options = { parsers: { [INT8_OID]: parseInt8 }, ...extra };
    const db = dataDir === ':memory:' ? new PGlite(options) : new PGlite(dataDir, options);
    await db.waitReady;
    return new PgliteDatabase(db);
  }

  /** One connection: busy while anyone holds the turn; the rest of the queue is waiting. */
  poolStats(): PoolStats {
    const queued = this.turn.size;
    return { total: 1, idle: queued === 0 ? 1 : 0, waiting: Math.max(0, queued - 1) };
  }

  query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const joined = joinedTransaction(this);
    if (joined) return joined.query<R>(sql, params);
    return this.turn.run(() => run<R>(this.db, sql, params));
  }

  async exec(sql: string): Promise<void> {
    const joined = joinedTransaction(this);
    if (joined) return joined.exec(sql);
    await this.turn.run(() => this.db.exec(sql));
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const joined = joinedTransaction(this);
    if (joined) return joined.nested(fn);
    return this.turn.run(() =>
      this.db.transaction((t) =>
        fn({
          query: <R>(sql: string, params: readonly unknown[] = []) => run<R>(t, sql, params),
          exec: async (sql: string) => {
            await t.exec(sql);
          },
        }),
      ),
    );
  }

  /** Raw access for dump/restore tooling. */
  get raw(): PGlite {
    return this.db;
  }

  async close(): Promise<void> {
    await this.turn.run(() => this.db.close());
  }
}

interface PgliteQueryable {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[]; affectedRows?: number }>;
}

async function run<R>(db: PgliteQueryable, sql: string, params: readonly unknown[]): Promise<QueryResult<R>> {
  const res = await db.query<R>(sql, params as unknown[]);
  return { rows: res.rows, rowCount: res.affectedRows ?? res.rows.length };
}
