-- Online orders and the stock they hold. An order (kind 'order') goes through the lifecycle
-- pending → confirmed → processing → shipped → delivered (or canceled / returned); a channel that
-- manages its own orders holds stock through a record of kind 'external' keyed by its own reference.
-- Either way the units held at each location are rows of `allocations`, which tills sync from.

CREATE TABLE orders (
  id                 text PRIMARY KEY,
  kind               text NOT NULL CHECK (kind IN ('order', 'external')),
  -- The channel's own id for an external hold, unique per token that holds it.
  external_ref       text,
  channel            text NOT NULL,
  customer_ref       text,
  status             text NOT NULL CHECK (status IN ('pending', 'confirmed', 'processing', 'shipped',
                       'delivered', 'canceled', 'returned')),
  fulfilment         text NOT NULL CHECK (fulfilment IN ('shipping', 'pickup')),
  pickup_location_id text REFERENCES locations (id),
  shipping_address   jsonb,
  payment            jsonb,
  cancel_reason      text,
  -- Unpaid orders release their reservation at this time (reservation-expiry job).
  expires_at         timestamptz,
  at_risk            boolean NOT NULL DEFAULT false,
  -- The API token that created it: a channel reads its own orders only.
  created_by         text NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK ((fulfilment = 'pickup') = (pickup_location_id IS NOT NULL)),
  CHECK ((kind = 'external') = (external_ref IS NOT NULL)),
  UNIQUE (created_by, external_ref)
);
CREATE INDEX orders_created ON orders (created_at, id);
CREATE INDEX orders_expiring ON orders (expires_at) WHERE status = 'pending';

CREATE TABLE order_lines (
  order_id     text NOT NULL REFERENCES orders (id),
  sku          text NOT NULL REFERENCES products (sku),
  qty          integer NOT NULL CHECK (qty > 0),
  returned_qty integer NOT NULL DEFAULT 0 CHECK (returned_qty >= 0 AND returned_qty <= qty),
  PRIMARY KEY (order_id, sku)
);

CREATE TABLE allocations (
  id          bigint GENERATED ALWAYS AS IDENTITY,
  order_id    text NOT NULL REFERENCES orders (id),
  location_id text NOT NULL REFERENCES locations (id),
  sku         text NOT NULL,
  qty         integer NOT NULL CHECK (qty > 0),
  status      text NOT NULL CHECK (status IN ('held', 'released', 'fulfilled', 'returned')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, id)
);
CREATE INDEX allocations_order ON allocations (order_id);
-- One held row per order × location × SKU: a till keys the holds it shows by (order, SKU).
CREATE UNIQUE INDEX allocations_held ON allocations (location_id, sku, order_id) WHERE status = 'held';

CREATE TABLE order_history (
  order_id    text NOT NULL REFERENCES orders (id),
  id          bigint GENERATED ALWAYS AS IDENTITY,
  from_status text,
  to_status   text NOT NULL,
  reason      text,
  actor       text NOT NULL,
  details     jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, id)
);

-- Idempotency-Key per API token: the first successful response body is replayed for the same
-- request, and the same key with another request is refused (422).
CREATE TABLE idempotency_keys (
  token_id     text NOT NULL,
  key          text NOT NULL,
  request_hash text NOT NULL,
  response     jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (token_id, key)
);
