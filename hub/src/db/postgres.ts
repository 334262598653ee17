import { createHash } from 'node:crypto';
import pg from 'pg';
import {
  type Database,
  INT8_OID,
  type PoolStats,
  parseInt8,
  type Queryable,
  type QueryResult,
} from './database.js';

const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID
      ? parseInt8
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

export interface PostgresOptions {
  connectionString: string;
  /** Schema to use (tests give each app its own); created if missing. */
  schema?: string;
  max?: number;
}

/** Postgres through a `pg.Pool`: many connections, real concurrency, row locks do the serializing. */
export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
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
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.max ?? 10,
      types,
      ...(options.schema ? { options: `-c search_path=${quoteIdent(options.schema)}` } : {}),
    });
    return new PostgresDatabase(pool);
  }

  poolStats(): PoolStats {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const res = await this.pool.query(sql, params as unknown[]);
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
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
    try {
      // One round trip: the transaction's prepared statements run on generic plans (see statementName).
      await client.query('BEGIN; SET LOCAL plan_cache_mode = force_generic_plan');
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
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
