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
} from '../../schemas/webhooks.js';
import { emitEvent } from '../events.js';
import { newWebhookSecret } from './signing.js';

/*
 * Webhook subscriptions and their delivery log. Deliveries are created by the fan-out trigger
 * (migrations/005_webhooks.sql) and sent by the delivery job (./delivery.ts).
 */

interface WebhookRecord {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  active: boolean;
  created_at: Date;
  deactivated_at: Date | null;
}
const WEBHOOK_COLUMNS = 'id, url, events, description, active, created_at, deactivated_at';

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
  active: r.active,
  createdAt: r.created_at.toISOString(),
  deactivatedAt: r.deactivated_at?.toISOString() ?? null,
});

export async function createWebhook(
  db: Queryable,
  input: WebhookCreate,
): Promise<Webhook & { secret: string }> {
  const secret = newWebhookSecret();
  const { rows } = await db.query<WebhookRecord>(
    `INSERT INTO webhooks (id, url, events, description, secret) VALUES ($1, $2, $3, $4, $5)
     RETURNING ${WEBHOOK_COLUMNS}`,
    [newOpId(), input.url, [...new Set(input.events)], input.description ?? null, secret],
  );
  return { ...toWebhook(rows[0]!), secret };
}

export async function getWebhook(db: Queryable, id: string): Promise<Webhook> {
  const { rows } = await db.query<WebhookRecord>(`SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1`, [
    id,
  ]);
  const row = rows[0];
  if (!row) throw new NotFoundError('webhook', id);
  return toWebhook(row);
}

export async function listWebhooks(
  db: Queryable,
  q: WebhookListQuery,
): Promise<{ items: Webhook[]; nextCursor: string | null }> {
  const after = q.cursor ? decodeCursor(q.cursor, 1)[0] : null;
  if (after !== null && (typeof after !== 'string' || !UUID.test(after))) throw badCursor();
  const { rows } = await db.query<WebhookRecord>(
    `SELECT ${WEBHOOK_COLUMNS} FROM webhooks
     WHERE ($1::boolean IS NULL OR active = $1) AND ($2::uuid IS NULL OR id > $2::uuid)
     ORDER BY id LIMIT $3`,
    [q.active ?? null, after, q.limit + 1],
  );
  return pageOf(rows, q.limit, (r) => [r.id], toWebhook);
}

/** Stop a webhook: no new deliveries, and the ones not yet made are canceled. Idempotent. */
export async function deactivateWebhook(db: Database, id: string): Promise<Webhook> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<WebhookRecord>(
      `UPDATE webhooks SET active = false, deactivated_at = COALESCE(deactivated_at, now()) WHERE id = $1
       RETURNING ${WEBHOOK_COLUMNS}`,
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

/** A 'webhook.test' event delivered to this one webhook, due now. */
export async function enqueueTestEvent(
  db: Database,
  id: string,
): Promise<{ eventId: string; deliveryId: number }> {
  return db.transaction(async (tx) => {
    const { active } = await getWebhook(tx, id);
    if (!active) throw new ConflictError('webhook_inactive', `webhook ${id} is deactivated`);
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
