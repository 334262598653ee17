-- Domain events (order status changes, stock changes, alerts), written in the same transaction as
-- the change they describe: a durable outbox that webhook delivery (and later the HQ dashboard)
-- reads. event_id is the id receivers de-duplicate on.
CREATE TABLE events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id    uuid NOT NULL UNIQUE,
  type        text NOT NULL,
  location_id text,
  payload     jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_type_time ON events (type, created_at);
