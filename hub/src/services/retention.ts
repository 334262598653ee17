import type { Queryable } from '../db/database.js';

/*
 * Retention: what each table that grows with traffic keeps, and the purge that forgets the rest.
 * Every purge deletes at most `chunkSize` rows per statement, each its own short transaction, so
 * a large backlog never holds locks for long; rows are taken `FOR UPDATE SKIP LOCKED`, so hub
 * instances purging at once take disjoint chunks (and a row being written is left for next time).
 *
 *   webhook_attempts  the delivery log, by finished_at
 *   events            the event log (GET /v1/events), by created_at, once no delivery of the event
 *                     is pending and its attempts are purged; its deliveries go with it
 *   idempotency_keys  by created_at; a key reused after its window is a new request (Stripe's rule),
 *                     purged or not (services/idempotency.ts only sees keys within it)
 *   applied_ops       a till's remembered answers, by applied_at, only 'applied' ones below the
 *                     device's acked seq. The push path answers any seq <= acked without a
 *                     remembered row 'duplicate' and checks op-id reuse against the ledger, which
 *                     keeps every op id: nothing is applied twice. Rejections are kept: they answer
 *                     a resend with the same rejection, and a dead letter's retry needs its row.
 */

export interface RetentionWindows {
  eventsMs: number;
  webhookAttemptsMs: number;
  idempotencyKeysMs: number;
  appliedOpsMs: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export const DEFAULT_RETENTION: RetentionWindows = {
  eventsMs: 30 * DAY_MS,
  webhookAttemptsMs: 30 * DAY_MS,
  idempotencyKeysMs: 24 * HOUR_MS,
  appliedOpsMs: 7 * DAY_MS,
};

export interface RetentionSettings extends RetentionWindows {
  /** Rows deleted per statement. */
  chunkSize: number;
  /** Statements per table per run, so one run ends even behind a large backlog. */
  maxChunksPerRun: number;
}

export const DEFAULT_CHUNKING = { chunkSize: 1_000, maxChunksPerRun: 100 };

type Purge = (db: Queryable, windowMs: number, limit: number) => Promise<number>;

const olderThan = (column: string) => `${column} < now() - $1::float8 * interval '1 millisecond'`;

async function deleted(db: Queryable, sql: string, windowMs: number, limit: number): Promise<number> {
  return (await db.query(sql, [windowMs, limit])).rowCount ?? 0;
}

const purgeWebhookAttempts: Purge = (db, windowMs, limit) =>
  deleted(
    db,
    `DELETE FROM webhook_attempts WHERE id IN (
       SELECT id FROM webhook_attempts WHERE ${olderThan('finished_at')}
       ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    windowMs,
    limit,
  );

// The deliveries are deleted in the same statement as their event (the foreign key is checked at
// its end). An event with a pending or sending delivery, or with an attempt still kept, stays.
const purgeEvents: Purge = (db, windowMs, limit) =>
  deleted(
    db,
    `WITH old AS (
       SELECT e.id, e.event_id FROM events e
       WHERE ${olderThan('e.created_at')}
         AND NOT EXISTS (
           SELECT 1 FROM webhook_deliveries d
           WHERE d.event_id = e.event_id
             AND (d.status IN ('pending', 'sending')
                  OR EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = d.id)))
       ORDER BY e.created_at LIMIT $2 FOR UPDATE OF e SKIP LOCKED),
     deliveries AS (DELETE FROM webhook_deliveries d USING old WHERE d.event_id = old.event_id)
     DELETE FROM events e USING old WHERE e.id = old.id`,
    windowMs,
    limit,
  );

const purgeIdempotencyKeys: Purge = (db, windowMs, limit) =>
  deleted(
    db,
    `DELETE FROM idempotency_keys k USING (
       SELECT token_id, key FROM idempotency_keys WHERE ${olderThan('created_at')}
       ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED) old
     WHERE k.token_id = old.token_id AND k.key = old.key`,
    windowMs,
    limit,
  );

const purgeAppliedOps: Purge = (db, windowMs, limit) =>
  deleted(
    db,
    `DELETE FROM applied_ops a USING (
       SELECT a.device_id, a.seq FROM applied_ops a JOIN devices d ON d.id = a.device_id
       WHERE a.status = 'applied' AND ${olderThan('a.applied_at')} AND a.seq < d.last_acked_seq
       ORDER BY a.applied_at LIMIT $2 FOR UPDATE OF a SKIP LOCKED) old
     WHERE a.device_id = old.device_id AND a.seq = old.seq`,
    windowMs,
    limit,
  );

/** In this order: an event waits for its attempts, so both go in one run when their windows agree. */
const PURGES: Array<[keyof RetentionWindows, string, Purge]> = [
  ['webhookAttemptsMs', 'webhook_attempts', purgeWebhookAttempts],
  ['eventsMs', 'events', purgeEvents],
  ['idempotencyKeysMs', 'idempotency_keys', purgeIdempotencyKeys],
  ['appliedOpsMs', 'applied_ops', purgeAppliedOps],
];

/** One run of the retention job: rows deleted per table. */
export async function purgeExpired(db: Queryable, s: RetentionSettings): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const [window, table, purge] of PURGES) {
    let total = 0;
    for (let chunk = 0; chunk < s.maxChunksPerRun; chunk++) {
      const n = await purge(db, s[window], s.chunkSize);
      total += n;
      if (n < s.chunkSize) break;
    }
    counts[table] = total;
  }
  return counts;
}
