import { AsyncLocalStorage } from 'node:async_hooks';
import type { Queryable, QueryResult } from './database.js';
import { Mutex } from './mutex.js';

/*
 * A transaction a whole unit of work runs in without being handed it: an HTTP request with an
 * Idempotency-Key (http/idempotency.ts) opens one, claims its key in it, runs the route's handler,
 * stores the answer and commits, so the key and the write it guards commit or roll back together.
 *
 * While it is open, every query of its Database made in that async context joins it: a plain
 * `db.query` runs in it, and `db.transaction(fn)` becomes a savepoint in it (a nested write that
 * fails rolls back to where it began, so a deadlock retry such as `retryTransaction` (db/retry.ts) still works).
 * The services need not know: they use `db` as always. Work that must wait for the real COMMIT
 * (announcing changes to tills) goes through `afterCommit`, which runs at once outside one.
 */

export class RequestTransaction {
  private isOpen = true;
  private readonly afterCommitted: Array<() => void> = [];
  /** Savepoints one at a time: concurrent nested writes of one request cannot interleave them. */
  private readonly nesting = new Mutex();

  constructor(
    /** The Database whose queries join this transaction (others in the process do not). */
    readonly owner: object,
    private readonly tx: Queryable,
  ) {}

  get open(): boolean {
    return this.isOpen;
  }

  query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.tx.query<R>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.tx.exec(sql);
  }

  /** `db.transaction(fn)` inside it: a savepoint, released if `fn` resolves, rolled back to if it throws. */
  nested<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    // One name will do: they never overlap, and each is released or rolled back to when it ends.
    return this.nesting.run(async () => {
      await this.tx.query('SAVEPOINT nested');
      try {
        const result = await fn(this.tx);
        await this.tx.query('RELEASE SAVEPOINT nested');
        return result;
      } catch (err) {
        await this.tx.query('ROLLBACK TO SAVEPOINT nested').catch(() => undefined);
        throw err;
      }
    });
  }

  /** No more joining: called before its COMMIT or ROLLBACK is sent. */
  close(): void {
    this.isOpen = false;
  }

  /** It committed: run what waited for that. */
  committed(): void {
    this.close();
    for (const fn of this.afterCommitted.splice(0)) fn();
  }

  /** It rolled back: what waited for its commit never happens. */
  rolledBack(): void {
    this.close();
    this.afterCommitted.length = 0;
  }

  defer(fn: () => void): void {
    this.afterCommitted.push(fn);
  }
}

const current = new AsyncLocalStorage<RequestTransaction>();

/** Run `fn` with `transaction` joined by its Database's queries (in `fn`'s async context only). */
export function withRequestTransaction<T>(transaction: RequestTransaction, fn: () => T): T {
  return current.run(transaction, fn);
}

/** The open request transaction of `db` in this async context, if any. */
export function joinedTransaction(db: object): RequestTransaction | undefined {
  const t = current.getStore();
  return t?.open && t.owner === db ? t : undefined;
}

/**
 * Run `fn` once what this context has written is committed: after the request transaction's
 * COMMIT when one is open (never, if it rolls back), else now (the caller's own transaction has
 * already committed when it calls this).
 */
export function afterCommit(fn: () => void): void {
  const t = current.getStore();
  if (t?.open) t.defer(fn);
  else fn();
}
