-- Webhooks a receiver can rely on (README "Webhooks"): events carry the API version of their
-- payload and the full object as of the event; endpoints are disabled (not silently abandoned)
-- after their retry schedule runs out; secrets rotate with an overlap; deliveries can be redone.

-- The payload shape an event was written with (schemas/webhook-events.ts): events written before
-- this migration carry the thin payloads of that time.
ALTER TABLE events ADD COLUMN api_version text NOT NULL DEFAULT '2025-01-01';
ALTER TABLE events ALTER COLUMN api_version DROP DEFAULT;
-- GET /v1/events filters by type and pages by id.
CREATE INDEX events_type_id ON events (type, id);

-- An endpoint is active, disabled (its retries ran out, or an admin paused it; PATCH re-enables it)
-- or deactivated (DELETE: final). Replaces the `active` flag.
ALTER TABLE webhooks
  ADD COLUMN status text NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'disabled', 'deactivated')),
  ADD COLUMN disabled_at timestamptz,
  ADD COLUMN disabled_reason text;
UPDATE webhooks SET status = 'deactivated' WHERE NOT active;
ALTER TABLE webhooks DROP COLUMN active;

-- Signing secrets (Standard Webhooks: whsec_<base64 key>). A rotated-out secret signs alongside the
-- new one until expires_at; the one with expires_at NULL is current.
CREATE TABLE webhook_secrets (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  webhook_id uuid NOT NULL REFERENCES webhooks (id),
  secret     text NOT NULL CHECK (secret LIKE 'whsec\_%'),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz
);
CREATE UNIQUE INDEX webhook_secrets_current ON webhook_secrets (webhook_id) WHERE expires_at IS NULL;
CREATE INDEX webhook_secrets_by_webhook ON webhook_secrets (webhook_id, expires_at);
-- The old secret's text was the HMAC key: the same key, in whsec_ form, so nothing changes for it.
INSERT INTO webhook_secrets (webhook_id, secret, created_at)
SELECT id, 'whsec_' || replace(encode(convert_to(secret, 'UTF8'), 'base64'), E'\n', ''), created_at
FROM webhooks;
ALTER TABLE webhooks DROP COLUMN secret;

-- A redelivery starts a new round of the retry schedule without resetting `attempts` (the lease's
-- fencing token): retry_from = attempts made before this round.
ALTER TABLE webhook_deliveries ADD COLUMN retry_from integer NOT NULL DEFAULT 0;
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, status, created_at);

-- Fan-out: an active endpoint gets a pending delivery; a disabled one a failed delivery, so that
-- POST /v1/webhooks/{id}/redeliver {since} after re-enabling it sends what it missed.
CREATE OR REPLACE FUNCTION webhook_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_deliveries (webhook_id, event_id, status, last_error)
  SELECT w.id, NEW.event_id,
         CASE WHEN w.status = 'active' THEN 'pending' ELSE 'failed' END,
         CASE WHEN w.status = 'active' THEN NULL ELSE 'endpoint disabled' END
  FROM webhooks w
  WHERE w.status <> 'deactivated' AND EXISTS (
    SELECT 1 FROM unnest(w.events) AS p
    WHERE p = NEW.type OR (right(p, 2) = '.*' AND starts_with(NEW.type, left(p, -1)))
  );
  RETURN NULL;
END
$$;

-- Events raised by the database carry the full object too (the apiVersion of services/events.ts).
CREATE OR REPLACE FUNCTION iso_utc(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE OR REPLACE FUNCTION conflict_opened_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (event_id, type, location_id, api_version, payload)
  VALUES (gen_random_uuid(), 'conflict.opened', NEW.location_id, '2026-12-04', jsonb_build_object(
    'id', NEW.id, 'locationId', NEW.location_id, 'kind', NEW.kind, 'sku', NEW.sku,
    'opId', NEW.op_id, 'details', NEW.details, 'status', NEW.status,
    'createdAt', iso_utc(NEW.created_at), 'resolvedAt', iso_utc(NEW.resolved_at),
    'resolvedBy', NEW.resolved_by, 'resolution', NEW.resolution));
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION stock_low_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (event_id, type, location_id, api_version, payload)
  VALUES (gen_random_uuid(), 'stock.low', NEW.location_id, '2026-12-04', jsonb_build_object(
    'locationId', NEW.location_id, 'sku', NEW.sku, 'onHand', NEW.on_hand, 'reserved', NEW.reserved,
    'available', NEW.on_hand - NEW.reserved, 'incoming', NEW.incoming, 'damaged', NEW.damaged,
    'version', NEW.version, 'reorderPoint', NEW.reorder_point));
  RETURN NULL;
END
$$;

-- The alerts feed now includes webhook.disabled (services/health/alerts.ts).
DROP INDEX events_alerts;
CREATE INDEX events_alerts ON events (id)
  WHERE type IN ('till.offline', 'till.online', 'till.lagging', 'conflict.opened', 'stock.low',
                 'sync.incident', 'webhook.disabled');
