/**
 * The hub's one view of its database, whichever driver is behind it. PGlite *is* Postgres, so the
 * SQL is the same; only connection handling differs (db/postgres.ts, db/pglite.ts).
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Run a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** Connection pool occupancy, read at scrape time (metrics). */
export interface PoolStats {
  /** Open connections (PGlite: its one connection). */
  total: number;
  /** Connections free right now. */
  idle: number;
  /** Callers waiting for a connection (PGlite: queued behind the one-connection lock). */
  waiting: number;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  poolStats(): PoolStats;
  /**
   * Run `fn` in one transaction: committed if it resolves, rolled back if it throws. Inside an open
   * request transaction (db/request-transaction.ts) it is a savepoint of that one, committed with it.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** int8 (bigint) columns come back as JS numbers: ids and cursors stay far below 2^53. */
export const INT8_OID = 20;
export const parseInt8 = (value: string): number => Number.parseInt(value, 10);
