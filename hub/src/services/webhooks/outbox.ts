import type { Database, Queryable } from '../../db/database.js';
import type { AttemptOutcome } from '../../schemas/webhooks.js';
import { type EventRow, toEnvelope } from '../events.js';
import { disableAfterFailure } from './subscriptions.js';

/*
 * The delivery outbox's two writes. A claim takes due deliveries for this instance in one short
 * statement (`FOR UPDATE SKIP LOCKED`: another instance claiming at the same moment skips them)
 * and leases them; the HTTP request happens outside any transaction; then the outcome is recorded.
 *
 *   pending ──claim──▶ sending ──2xx──▶ delivered
 *      ▲                  │ ╲──error, schedule left──▶ pending (due after a backoff)
 *      └──lease expired───┘  ╲─error, none left──────▶ failed (and the webhook disabled)
 *
 * Redelivery (./subscriptions.ts) puts a delivered or failed one back to pending for a new round.
 */

export interface ClaimedDelivery {
  id: number;
  /** This attempt's number: also the fencing token of its lease. */
  attempt: number;
  /** Attempts made before this round (a redelivery starts a new one): the schedule counts from it. */
  retryFrom: number;
  webhookId: string;
  url: string;
  /** Every secret signing now: the current one, and one rotated out but still in its overlap. */
  secrets: string[];
  eventId: string;
  eventType: string;
  /** The body, the same bytes on every attempt of one event. */
  body: string;
}

interface ClaimRow extends EventRow {
  id: number;
  attempts: number;
  retry_from: number;
  status: 'sending' | 'canceled' | 'failed';
  webhook_id: string;
  url: string;
  secrets: string[];
}

/**
 * Lease up to `limit` due deliveries for `leaseMs`. Deliveries of a webhook deactivated meanwhile
 * are canceled instead; of one disabled meanwhile, failed (redeliverable once it is re-enabled).
 * Returns the leased ones and how many rows were taken in all.
 */
export async function claimDue(
  db: Queryable,
  limit: number,
  leaseMs: number,
): Promise<{ claimed: ClaimedDelivery[]; taken: number }> {
  const { rows } = await db.query<ClaimRow>(
    `WITH due AS (
       SELECT id FROM webhook_deliveries
       WHERE status IN ('pending', 'sending') AND next_attempt_at <= now()
       ORDER BY next_attempt_at, id LIMIT $1
       FOR UPDATE SKIP LOCKED
     )
     UPDATE webhook_deliveries d
     SET status = CASE w.status WHEN 'active' THEN 'sending' WHEN 'disabled' THEN 'failed' ELSE 'canceled' END,
         attempts = d.attempts + CASE WHEN w.status = 'active' THEN 1 ELSE 0 END,
         last_error = CASE WHEN w.status = 'disabled' THEN 'endpoint disabled' ELSE d.last_error END,
         next_attempt_at = now() + $2::int * interval '1 millisecond'
     FROM due, webhooks w, events e
     WHERE d.id = due.id AND w.id = d.webhook_id AND e.event_id = d.event_id
     RETURNING d.id, d.attempts, d.retry_from, d.status, w.id AS webhook_id, w.url,
               ARRAY(SELECT s.secret FROM webhook_secrets s
                     WHERE s.webhook_id = w.id AND (s.expires_at IS NULL OR s.expires_at > now())
                     ORDER BY s.id DESC) AS secrets,
               e.event_id, e.type, e.api_version, e.payload, e.created_at`,
    [limit, leaseMs],
  );
  const claimed = rows
    .filter((r) => r.status === 'sending')
    .map((r) => ({
      id: r.id,
      attempt: r.attempts,
      retryFrom: r.retry_from,
      webhookId: r.webhook_id,
      url: r.url,
      secrets: r.secrets,
      eventId: r.event_id,
      eventType: r.type,
      body: JSON.stringify(toEnvelope(r)),
    }));
  return { claimed, taken: rows.length };
}

export interface AttemptResult {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  startedAt: Date;
}

/**
 * Log the attempt and settle the delivery: delivered, due again after `retryInMs`, or failed
 * (`retryInMs` null), which disables its webhook unless a delivery to it has succeeded since
 * this round began. The delivery changes only if this attempt still holds its lease; the log
 * row is written either way, since the request was made.
 */
export async function recordAttempt(
  db: Database,
  delivery: ClaimedDelivery,
  result: AttemptResult,
  outcome: AttemptOutcome,
  retryInMs: number | null,
): Promise<void> {
  const status = { delivered: 'delivered', retrying: 'pending', failed: 'failed' }[outcome];
  await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ next_attempt_at: Date }>(
      `UPDATE webhook_deliveries
       SET status = $3,
           next_attempt_at = CASE WHEN $4::int IS NULL THEN next_attempt_at
                                  ELSE now() + $4::int * interval '1 millisecond' END,
           last_status_code = $5, last_error = $6,
           delivered_at = CASE WHEN $3 = 'delivered' THEN now() END
       WHERE id = $1 AND attempts = $2 AND status = 'sending'
       RETURNING next_attempt_at`,
      [delivery.id, delivery.attempt, status, retryInMs, result.statusCode, result.error],
    );
    const nextAttemptAt = outcome === 'retrying' ? (rows[0]?.next_attempt_at ?? null) : null;
    await tx.query(
      `INSERT INTO webhook_attempts (delivery_id, webhook_id, event_id, event_type, attempt, outcome,
         status_code, error, duration_ms, next_attempt_at, started_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        delivery.id,
        delivery.webhookId,
        delivery.eventId,
        delivery.eventType,
        delivery.attempt,
        outcome,
        result.statusCode,
        result.error,
        result.durationMs,
        nextAttemptAt,
        result.startedAt,
      ],
    );
    if (outcome === 'failed' && rows.length > 0) await disableAfterFailure(tx, delivery);
  });
}
