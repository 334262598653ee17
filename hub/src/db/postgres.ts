import { createHash } from 'node:crypto';
import pg from 'pg';
import { isDatabaseUnavailable } from './connection-errors.js';
import {
  type Database,
  INT8_OID,
  type PoolStats,
  parseInt8,
  type Queryable,
  type QueryResult,
} from './database.js';
import { joinedTransaction } from './request-transaction.js';

const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID
      ? parseInt8
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** Limits on the hub's Postgres connections (config.ts `postgres`; README, Configuration). */
export interface PostgresTimeouts {
  /** Getting a connection (new or from the pool) may take this long. */
  connectTimeoutMs: number;
  /** Server-side `statement_timeout` of every statement. */
  statementTimeoutMs: number;
  /** Server-side `idle_in_transaction_session_timeout`: a stuck transaction frees its locks. */
  idleInTransactionTimeoutMs: number;
  /** Client-side: a query with no answer this long (blackholed network) fails, its connection is dropped. */
  queryTimeoutMs: number;
}

export const DEFAULT_POSTGRES_TIMEOUTS: PostgresTimeouts = {
  connectTimeoutMs: 10_000,
  statementTimeoutMs: 30_000,
  idleInTransactionTimeoutMs: 60_000,
  queryTimeoutMs: 45_000,
};

/** How the hub's backends show in pg_stat_activity (a URL's own `application_name` wins). */
export const DEFAULT_APPLICATION_NAME = 'tillsync-hub';

export interface PostgresOptions {
  connectionString: string;
  /** Schema to use (tests give each app its own); created if missing. */
  schema?: string;
  max?: number;
  applicationName?: string;
  timeouts?: Partial<PostgresTimeouts>;
}

type ConnectionErrorListener = (err: Error) => void;

/**
 * Postgres through a `pg.Pool`: many connections, real concurrency, row locks do the serializing.
 *
 * Connections die under it (restart, failover, pooler recycle, pg_terminate_backend): a dead one
 * is reported to the listeners (the app logs it) and dropped; the pool opens a fresh one on the
 * next request. Every pooled client carries an 'error' listener from birth, so a connection
 * dying while idle or checked out is never an unhandled 'error' event (which would end the process).
 */
export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  private readonly errorListeners = new Set<ConnectionErrorListener>();

  private constructor(pool: pg.Pool) {
    this.pool = pool;
    // Idle clients: pg-pool has already removed the dead one when it emits this.
    pool.on('error', (err) => this.connectionError(err));
    // Checked-out clients (transactions, the cluster adapter's LISTEN): pg-pool leaves them
    // without a listener; the pool drops them when they are released unqueryable.
    pool.on('connect', (client) => client.on('error', (err) => this.connectionError(err)));
  }

  /** Be told of connections lost (logging); returns the unsubscribe. */
  onConnectionError(listener: ConnectionErrorListener): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  private connectionError(err: Error): void {
    for (const listener of this.errorListeners) listener(err);
  }

  static async connect(options: PostgresOptions): Promise<PostgresDatabase> {
    if (options.schema) {
      const setup = new pg.Client({ connectionString: options.connectionString });
      await setup.connect();
      try {
        await setup.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(options.schema)}`);
      } finally {
        await setup.end();
      }
    }
    const timeouts = { ...DEFAULT_POSTGRES_TIMEOUTS, ...options.timeouts };
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.max ?? 10,
      types,
      application_name: options.applicationName ?? DEFAULT_APPLICATION_NAME,
      connectionTimeoutMillis: timeouts.connectTimeoutMs,
      statement_timeout: timeouts.statementTimeoutMs,
      idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs,
      query_timeout: timeouts.queryTimeoutMs,
      // A peer that vanished without a FIN (failover, NAT drop) is noticed by TCP, not by the next query.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      ...(options.schema ? { options: `-c search_path=${quoteIdent(options.schema)}` } : {}),
    });
    return new PostgresDatabase(pool);
  }

  poolStats(): PoolStats {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const joined = joinedTransaction(this);
    if (joined) return joined.query<R>(sql, params);
    const res = await this.pool.query(sql, params as unknown[]);
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
  }

  async exec(sql: string): Promise<void> {
    const joined = joinedTransaction(this);
    if (joined) return joined.exec(sql);
    await this.pool.query(sql);
  }

  /** A transaction on its own connection; inside a request transaction, a savepoint of that one. */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const joined = joinedTransaction(this);
    if (joined) return joined.nested(fn);
    const client = await this.pool.connect();
    const tx: Queryable = {
      async query<R>(sql: string, params: readonly unknown[] = []) {
        const res = await client.query({ name: statementName(sql), text: sql, values: params as unknown[] });
        return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
      },
      async exec(sql: string) {
        await client.query(sql);
      },
    };
    let failure: unknown;
    try {
      // One round trip: the transaction's prepared statements run on generic plans (see statementName).
      await client.query('BEGIN; SET LOCAL plan_cache_mode = force_generic_plan');
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      failure = err;
      // A dead or stuck connection is dropped instead: the server rolls back when it goes.
      if (!isDatabaseUnavailable(err)) await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      // After a client-side timeout its query may still run: the connection must not be reused.
      client.release(isDatabaseUnavailable(failure));
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Statements run in transactions (every stock write, push and order) are prepared once per
 * connection under a name derived from their text, and run on generic plans (`plan_cache_mode`,
 * set with the BEGIN): the push path's statements are few but large (data-modifying CTEs over
 * unnest), and parsing and planning them on every call was most of Postgres's CPU per push
 * (measured: 3.3 → 1.3 ms per single-op push; docs/benchmarks.md). Their texts come from code (values
 * are always parameters), so the names per connection stay few. Generic plans suit them: they find
 * rows by key (arrays of keys through unnest, ids), where parameter values do not change the plan.
 */
const names = new Map<string, string>();
function statementName(sql: string): string {
  let name = names.get(sql);
  if (name === undefined) {
    name = `ts_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    names.set(sql, name);
  }
  return name;
}

export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`unsafe identifier: ${name}`);
  return `"${name}"`;
}
