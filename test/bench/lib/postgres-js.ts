import postgres from 'postgres';
import {
  type Database,
  INT8_OID,
  type PoolStats,
  parseInt8,
  type Queryable,
  type QueryResult,
} from '../../../hub/src/db/database.js';
import {
  DEFAULT_APPLICATION_NAME,
  DEFAULT_POSTGRES_TIMEOUTS,
  type PostgresOptions,
  quoteIdent,
} from '../../../hub/src/db/postgres.js';
import { joinedTransaction } from '../../../hub/src/db/request-transaction.js';

/*
 * The hub's Database on postgres.js (porsager/postgres), the pipelining driver: the comparison
 * harness of `pnpm bench:driver` (docs/benchmarks.md, "Driver"; the hub stays on pg).
 * Same semantics: pool size, search_path, application_name, server-side timeouts, a client-side
 * query timeout, request-transaction joining, prepared statements on generic plans in transactions,
 * values and errors in the shape the rest of the hub (and PGlite) uses.
 */

const JSON_OIDS = [114, 3802];

const types = {
  // int8 as a JS number, as INT8_OID/parseInt8 say (pg and PGlite do the same).
  int8: { to: INT8_OID, from: [INT8_OID], parse: parseInt8, serialize: (x: unknown) => String(x) },
  // As pg: a string is already JSON text (the hub passes JSON.stringify'd values), anything else is encoded.
  json: {
    to: 3802,
    from: JSON_OIDS,
    parse: (x: string) => JSON.parse(x) as unknown,
    serialize: (x: unknown) => (typeof x === 'string' ? x : JSON.stringify(x)),
  },
};

type Sql = postgres.Sql<Record<string, unknown>>;
type TransactionSql = postgres.TransactionSql<Record<string, unknown>>;

export class PostgresJsDatabase implements Database {
  readonly kind = 'postgres' as const;
  private waiting = 0;

  private constructor(
    private readonly sql: Sql,
    private readonly max: number,
    private readonly queryTimeoutMs: number,
  ) {}

  static async connect(options: PostgresOptions): Promise<PostgresJsDatabase> {
    const timeouts = { ...DEFAULT_POSTGRES_TIMEOUTS, ...options.timeouts };
    if (options.schema) {
      const setup = postgres(options.connectionString, { max: 1, onnotice: () => undefined });
      try {
        await setup.unsafe(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(options.schema)}`);
      } finally {
        await setup.end();
      }
    }
    const max = options.max ?? 10;
    const sql = postgres(options.connectionString, {
      max,
      types,
      // pg turns undefined parameters into NULL; postgres.js refuses them unless told.
      transform: { undefined: null },
      connect_timeout: timeouts.connectTimeoutMs / 1000,
      // As pg.Pool: idle connections close after 10 s; none is recycled by age.
      idle_timeout: 10,
      max_lifetime: null,
      keep_alive: 10,
      onnotice: () => undefined,
      connection: {
        application_name: options.applicationName ?? DEFAULT_APPLICATION_NAME,
        statement_timeout: timeouts.statementTimeoutMs,
        idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs,
        ...(options.schema ? { search_path: quoteIdent(options.schema) } : {}),
      },
    } as postgres.Options<Record<string, postgres.PostgresType>>) as unknown as Sql;
    return new PostgresJsDatabase(sql, max, timeouts.queryTimeoutMs);
  }

  /** postgres.js does not expose its queues: total is the pool's size, waiting the callers in flight. */
  poolStats(): PoolStats {
    return { total: this.max, idle: Math.max(0, this.max - this.waiting), waiting: 0 };
  }

  async query<R>(text: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
    const joined = joinedTransaction(this);
    if (joined) return joined.query<R>(text, params);
    return this.tracked(() => run<R>(this.sql, text, params, this.queryTimeoutMs));
  }

  async exec(text: string): Promise<void> {
    const joined = joinedTransaction(this);
    if (joined) return joined.exec(text);
    await this.tracked(() => script(this.sql, text, this.queryTimeoutMs));
  }

  /** A transaction on one connection (sql.begin); inside a request transaction, a savepoint of that one. */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const joined = joinedTransaction(this);
    if (joined) return joined.nested(fn);
    const timeoutMs = this.queryTimeoutMs;
    return this.tracked(() =>
      normalized(
        this.sql.begin(async (tx: TransactionSql) => {
          // Pipelined behind BEGIN, ahead of the first statement: no round trip of its own.
          const generic = tx.unsafe('SET LOCAL plan_cache_mode = force_generic_plan');
          const result = await fn({
            query: <R>(text: string, params: readonly unknown[] = []) =>
              run<R>(tx as unknown as Sql, text, params, timeoutMs),
            exec: (text: string) => script(tx as unknown as Sql, text, timeoutMs),
          });
          await generic;
          return result;
        }) as Promise<T>,
      ),
    );
  }

  private async tracked<T>(fn: () => Promise<T>): Promise<T> {
    this.waiting++;
    try {
      return await fn();
    } finally {
      this.waiting--;
    }
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}

/** Every statement is prepared (named, once per connection): unprepared ones cost postgres.js a Describe round trip. */
async function run<R>(
  sql: Sql,
  text: string,
  params: readonly unknown[],
  timeoutMs: number,
): Promise<QueryResult<R>> {
  const res = await normalized(
    withTimeout(sql.unsafe(text, untyped(sql, params), { prepare: true }), timeoutMs),
  );
  return { rows: res as unknown as R[], rowCount: res.count ?? 0 };
}

/**
 * Every parameter goes out untyped, as pg sends them, so the server decides each type from the
 * statement and postgres.js encodes the value for it. Left to itself postgres.js types booleans,
 * dates, bytes and arrays of them from the value, and an array by its first element's type
 * (`[true]` as boolean, not boolean[]: "cannot cast type boolean to boolean[]").
 */
function untyped(sql: Sql, params: readonly unknown[]): postgres.ParameterOrJSON<never>[] {
  return params.map((value) => (typedByValue(value) ? sql.typed(value as never, 0) : value)) as never[];
}

function typedByValue(value: unknown): boolean {
  return (
    typeof value === 'boolean' ||
    typeof value === 'bigint' ||
    value instanceof Date ||
    value instanceof Uint8Array ||
    (Array.isArray(value) && typedByValue(value[0]))
  );
}

async function script(sql: Sql, text: string, timeoutMs: number): Promise<void> {
  await normalized(withTimeout(sql.unsafe(text), timeoutMs));
}

/** pg's client-side `query_timeout`, which postgres.js lacks: the caller stops waiting (connection-errors.ts). */
function withTimeout<T>(query: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Query read timeout (${timeoutMs} ms)`)), timeoutMs);
  });
  return Promise.race([query, expired]).finally(() => clearTimeout(timer));
}

/** Errors in pg's (and PGlite's) shape: `constraint`, `table`, `column`, `schema` beside postgres.js's names. */
async function normalized<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof postgres.PostgresError) {
      const e = err as postgres.PostgresError & Record<string, unknown>;
      e.constraint ??= e.constraint_name;
      e.table ??= e.table_name;
      e.column ??= e.column_name;
      e.schema ??= e.schema_name;
    }
    throw err;
  }
}
