-- Outbound webhooks. A subscription names event types (exact, or "order.*"); every event written
-- to `events` is fanned out by a trigger, in the transaction that wrote it, into one delivery per
-- matching active webhook. So a delivery exists if and only if its event committed, and none is
-- skipped by a cursor racing transactions that commit out of id order.
CREATE TABLE webhooks (
  id             uuid PRIMARY KEY,
  url            text NOT NULL,
  events         text[] NOT NULL CHECK (cardinality(events) > 0),
  description    text,
  -- The HMAC key; receivers hold the same text. Shown once, at creation.
  secret         text NOT NULL,
  active         boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now(),
  deactivated_at timestamptz
);

-- One row per (webhook, event): its state and retry schedule. `next_attempt_at` is when a
-- pending delivery is due, and for a 'sending' one the end of its lease: past it, the instance
-- that claimed it is presumed dead and the delivery is claimable again (at-least-once).
CREATE TABLE webhook_deliveries (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  webhook_id       uuid NOT NULL REFERENCES webhooks (id),
  event_id         uuid NOT NULL REFERENCES events (event_id),
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'canceled')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_status_code integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
  WHERE status IN ('pending', 'sending');

-- The delivery log: one row per attempt, whatever its outcome.
CREATE TABLE webhook_attempts (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id     bigint NOT NULL REFERENCES webhook_deliveries (id),
  webhook_id      uuid NOT NULL REFERENCES webhooks (id),
  event_id        uuid NOT NULL,
  event_type      text NOT NULL,
  attempt         integer NOT NULL,
  outcome         text NOT NULL CHECK (outcome IN ('delivered', 'retrying', 'failed')),
  status_code     integer,
  error           text,
  duration_ms     integer NOT NULL,
  next_attempt_at timestamptz,
  started_at      timestamptz NOT NULL,
  finished_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_by_webhook ON webhook_attempts (webhook_id, id);

CREATE FUNCTION webhook_fan_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_deliveries (webhook_id, event_id)
  SELECT w.id, NEW.event_id FROM webhooks w
  WHERE w.active AND EXISTS (
    SELECT 1 FROM unnest(w.events) AS p
    WHERE p = NEW.type OR (right(p, 2) = '.*' AND starts_with(NEW.type, left(p, -1)))
  );
  RETURN NULL;
END
$$;

CREATE TRIGGER events_webhook_fan_out AFTER INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION webhook_fan_out();
