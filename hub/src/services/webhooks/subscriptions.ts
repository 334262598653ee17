import { newOpId } from '@tillsync/sync-protocol';
import type { Database, Queryable } from '../../db/database.js';
import { BadRequestError, ConflictError, NotFoundError } from '../../errors.js';
import { decodeCursor, pageOf } from '../../http/pagination.js';
import type {
  AttemptListQuery,
  AttemptOutcome,
  Webhook,
  WebhookAttempt,
  WebhookCreate,
  WebhookListQuery,
  WebhookPatch,
  WebhookStatus,
} from '../../schemas/webhooks.js';
import { emitEvent } from '../events.js';
import { formatDuration } from '../health/evaluate.js';
import { newWebhookSecret } from './signing.js';

/*
 * Webhook subscriptions, their secrets and their delivery log. Deliveries are created by the
 * fan-out trigger (migrations/005_webhooks.sql, 019) and sent by the delivery job (./delivery.ts).
 */

interface WebhookRecord {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  status: WebhookStatus;
  created_at: Date;
  disabled_at: Date | null;
  disabled_reason: string | null;
  deactivated_at: Date | null;
}
const WEBHOOK_COLUMNS =
  'id, url, events, description, status, created_at, disabled_at, disabled_reason, deactivated_at';

function badCursor(): BadRequestError {
  return new BadRequestError('querystring.cursor: not a cursor returned by this endpoint', {
    field: 'cursor',
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const toWebhook = (r: WebhookRecord): Webhook => ({
  id: r.id,
  url: r.url,
  events: r.events,
  description: r.description,
  status: r.status,
  createdAt: r.created_at.toISOString(),
  disabledAt: r.disabled_at?.toISOString() ?? null,
  disabledReason: r.disabled_reason,
  deactivatedAt: r.deactivated_at?.toISOString() ?? null,
});

async function addSecret(tx: Queryable, webhookId: string): Promise<string> {
  const secret = newWebhookSecret();
  await tx.query('INSERT INTO webhook_secrets (webhook_id, secret) VALUES ($1, $2)', [webhookId, secret]);
  return secret;
}

export async function createWebhook(
  db: Database,
  input: WebhookCreate,
): Promise<Webhook & { secret: string }> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<WebhookRecord>(
      `INSERT INTO webhooks (id, url, events, description) VALUES ($1, $2, $3, $4)
       RETURNING ${WEBHOOK_COLUMNS}`,
      [newOpId(), input.url, [...new Set(input.events)], input.description ?? null],
    );
    const webhook = toWebhook(rows[0]!);
    return { ...webhook, secret: await addSecret(tx, webhook.id) };
  });
}

export async function getWebhook(db: Queryable, id: string): Promise<Webhook> {
  const { rows } = await db.query<WebhookRecord>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1`, [
    id,
  ]);
  const row = rows[0];
  if (!row) throw new NotFoundError('webhook', id);
  return toWebhook(row);
}

/** The webhook, refused with 409 unless it may still change (not deactivated) or, with `active`, send. */
async function usable(tx: Queryable, id: string, need: 'not_deactivated' | 'active'): Promise<Webhook> {
  const webhook = await getWebhook(tx, id);
  if (webhook.status === 'deactivated')
    throw new ConflictError('webhook_inactive', `webhook ${id} is deactivated`);
  if (need === 'active' && webhook.status === 'disabled')
    throw new ConflictError(
      'webhook_disabled',
      `webhook ${id} is disabled (${webhook.disabledReason}); re-enable it with PATCH {"status": "active"}`,
    );
  return webhook;
}

export async function listWebhooks(
  db: Queryable,
  q: WebhookListQuery,
): Promise<{ items: Webhook[]; nextCursor: string | null }> {
  const after = q.cursor ? decodeCursor(q.cursor, 1)[0] : null;
  if (after !== null && (typeof after !== 'string' || !UUID.test(after))) throw badCursor();
  const { rows } = await db.query<WebhookRecord>(
    `SELECT ${WEBHOOK_COLUMNS} FROM webhooks
     WHERE ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR id > $2::uuid)
     ORDER BY id LIMIT $3`,
    [q.status ?? null, after, q.limit + 1],
  );
  return pageOf(rows, q.limit, (r) => [r.id], toWebhook);
}

/**
 * Change a webhook's URL, events or description, or re-enable (status "active") or pause
 * ("disabled") it. Re-enabling sends nothing missed by itself: POST …/redeliver {since} does.
 */
export async function updateWebhook(db: Database, id: string, patch: WebhookPatch): Promise<Webhook> {
  return db.transaction(async (tx) => {
    const current = await usable(tx, id, 'not_deactivated');
    const status = patch.status ?? current.status;
    const { rows } = await tx.query<WebhookRecord>(
      `UPDATE webhooks SET url = coalesce($2, url), events = coalesce($3, events),
         description = CASE WHEN $4::boolean THEN $5 ELSE description END,
         status = $6,
         disabled_at = CASE WHEN $6 = 'active' THEN NULL ELSE coalesce(disabled_at, now()) END,
         disabled_reason = CASE WHEN $6 = 'active' THEN NULL ELSE coalesce(disabled_reason, 'paused by an admin') END
       WHERE id = $1 RETURNING ${WEBHOOK_COLUMNS}`,
      [
        id,
        patch.url ?? null,
        patch.events ? [...new Set(patch.events)] : null,
        patch.description !== undefined,
        patch.description ?? null,
        status,
      ],
    );
    return toWebhook(rows[0]!);
  });
}

/** Stop a webhook for good: no new deliveries, and the ones not yet made are canceled. Idempotent. */
export async function deactivateWebhook(db: Database, id: string): Promise<Webhook> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<WebhookRecord>(
      `UPDATE webhooks SET status = 'deactivated', deactivated_at = COALESCE(deactivated_at, now())
       WHERE id = $1 RETURNING ${WEBHOOK_COLUMNS}`,
      [id],
    );
    const row = rows[0];
    if (!row) throw new NotFoundError('webhook', id);
    await tx.query(
      `UPDATE webhook_deliveries SET status = 'canceled' WHERE webhook_id = $1 AND status = 'pending'`,
      [id],
    );
    return toWebhook(row);
  });
}

/**
 * A delivery's retry schedule ran out: disable its webhook and raise the webhook.disabled alert,
 * unless a delivery to the same webhook succeeded since this round began (the receiver is up
 * and refuses only this event: the endpoint is not dead). In the caller's transaction.
 */
export async function disableAfterFailure(
  tx: Queryable,
  d: { id: number; webhookId: string; retryFrom: number },
): Promise<void> {
  const { rows: round } = await tx.query<{ began: Date; attempts: number; error: string | null }>(
    `SELECT min(started_at) AS began, count(*)::int AS attempts,
            (array_agg(error ORDER BY attempt DESC))[1] AS error
     FROM webhook_attempts WHERE delivery_id = $1 AND attempt > $2`,
    [d.id, d.retryFrom],
  );
  const { began, attempts, error } = round[0]!;
  const reason =
    `${attempts} attempts over ${formatDuration(Date.now() - began.getTime())} failed ` +
    `(last: ${error ?? 'unknown'}) and nothing was delivered meanwhile`;
  const { rows } = await tx.query<WebhookRecord>(
    `UPDATE webhooks w SET status = 'disabled', disabled_at = now(), disabled_reason = $3
     WHERE w.id = $1 AND w.status = 'active' AND NOT EXISTS (
       SELECT 1 FROM webhook_attempts a
       WHERE a.webhook_id = w.id AND a.outcome = 'delivered' AND a.started_at >= $2)
     RETURNING ${WEBHOOK_COLUMNS}`,
    [d.webhookId, began, reason],
  );
  if (rows[0]) await emitEvent(tx, 'webhook.disabled', toWebhook(rows[0]));
}

/**
 * A new signing secret, returned once. The ones signing until now keep signing alongside it for
 * `overlapMs` (never longer than they already would), then only the new one signs.
 */
export async function rotateSecret(
  db: Database,
  id: string,
  overlapMs: number,
): Promise<{ secret: string; previousSecretExpiresAt: string }> {
  return db.transaction(async (tx) => {
    await usable(tx, id, 'not_deactivated');
    const { rows } = await tx.query<{ expires_at: Date }>(
      `UPDATE webhook_secrets
       SET expires_at = least(coalesce(expires_at, 'infinity'), now() + $2::float8 * interval '1 millisecond')
       WHERE webhook_id = $1 AND (expires_at IS NULL OR expires_at > now())
       RETURNING expires_at`,
      [id, overlapMs],
    );
    const until = rows.map((r) => r.expires_at.getTime()).reduce((a, b) => Math.max(a, b), Date.now());
    return { secret: await addSecret(tx, id), previousSecretExpiresAt: new Date(until).toISOString() };
  });
}

/**
 * Send one delivery again (delivered, failed or still waiting for a retry), due now, on a new
 * round of the retry schedule. Same event, so the same webhook-id: receivers de-duplicate.
 */
export async function redeliverOne(db: Database, webhookId: string, deliveryId: number): Promise<number> {
  return db.transaction(async (tx) => {
    await usable(tx, webhookId, 'active');
    const { rows } = await tx.query<{ status: string }>(
      'SELECT status FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2 FOR UPDATE',
      [deliveryId, webhookId],
    );
    const status = rows[0]?.status;
    if (status === undefined) throw new NotFoundError('delivery', String(deliveryId));
    if (status === 'sending')
      throw new ConflictError('delivery_in_flight', `delivery ${deliveryId} is being sent right now`);
    if (status === 'canceled')
      throw new ConflictError('delivery_canceled', `delivery ${deliveryId} was canceled`);
    return requeue(tx, 'id = $1 AND webhook_id = $2', [deliveryId, webhookId]);
  });
}

/** Send again every delivery of this webhook that failed, of events written since `since`. */
export async function redeliverFailedSince(db: Database, webhookId: string, since: Date): Promise<number> {
  return db.transaction(async (tx) => {
    await usable(tx, webhookId, 'active');
    return requeue(tx, "webhook_id = $1 AND status = 'failed' AND created_at >= $2", [webhookId, since]);
  });
}

async function requeue(tx: Queryable, where: string, params: unknown[]): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), retry_from = attempts
     WHERE ${where}`,
    params,
  );
  return rowCount ?? 0;
}

/** A 'webhook.test' event delivered to this one webhook, due now. */
export async function enqueueTestEvent(
  db: Database,
  id: string,
): Promise<{ eventId: string; deliveryId: number }> {
  return db.transaction(async (tx) => {
    await usable(tx, id, 'active');
    const event = await emitEvent(tx, 'webhook.test', { webhookId: id });
    const { rows } = await tx.query<{ id: number }>(
      'INSERT INTO webhook_deliveries (webhook_id, event_id) VALUES ($1, $2) RETURNING id',
      [id, event.eventId],
    );
    return { eventId: event.eventId, deliveryId: rows[0]!.id };
  });
}

interface AttemptRecord {
  id: number;
  delivery_id: number;
  event_id: string;
  event_type: string;
  attempt: number;
  outcome: AttemptOutcome;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  next_attempt_at: Date | null;
  started_at: Date;
  finished_at: Date;
}

const toAttempt = (r: AttemptRecord): WebhookAttempt => ({
  id: r.id,
  deliveryId: r.delivery_id,
  eventId: r.event_id,
  eventType: r.event_type,
  attempt: r.attempt,
  outcome: r.outcome,
  statusCode: r.status_code,
  error: r.error,
  durationMs: r.duration_ms,
  nextAttemptAt: r.next_attempt_at?.toISOString() ?? null,
  startedAt: r.started_at.toISOString(),
  finishedAt: r.finished_at.toISOString(),
});

/** The delivery log of one webhook, newest attempt first. */
export async function listAttempts(
  db: Queryable,
  webhookId: string,
  q: AttemptListQuery,
): Promise<{ items: WebhookAttempt[]; nextCursor: string | null }> {
  await getWebhook(db, webhookId);
  const before = q.cursor ? decodeCursor(q.cursor, 1)[0] : null;
  if (before !== null && !Number.isSafeInteger(before)) throw badCursor();
  const { rows } = await db.query<AttemptRecord>(
    `SELECT id, delivery_id, event_id, event_type, attempt, outcome, status_code, error, duration_ms,
            next_attempt_at, started_at, finished_at
     FROM webhook_attempts
     WHERE webhook_id = $1 AND ($2::uuid IS NULL OR event_id = $2::uuid) AND ($3::bigint IS NULL OR id < $3)
     ORDER BY id DESC LIMIT $4`,
    [webhookId, q.eventId ?? null, before, q.limit + 1],
  );
  return pageOf(rows, q.limit, (r) => [r.id], toAttempt);
}
