-- Tillsync hub schema. Every hot table is keyed by location first so it can shard by location.
-- HLC timestamps are compared as strings: COLLATE "C" makes string order byte order.

CREATE TABLE locations (
  id           text PRIMARY KEY,
  name         text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('store', 'warehouse')),
  timezone     text NOT NULL DEFAULT 'UTC',
  -- Order routing (lower first) and units never promised online from this location.
  priority     integer NOT NULL DEFAULT 100,
  safety_stock integer NOT NULL DEFAULT 0 CHECK (safety_stock >= 0),
  active       boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
  sku          text PRIMARY KEY,
  name         text NOT NULL,
  barcode      text UNIQUE,
  category     text,
  price_minor  bigint NOT NULL CHECK (price_minor >= 0),
  currency     text NOT NULL DEFAULT 'EUR',
  active       boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_name ON products (name, sku);
CREATE INDEX products_price ON products (price_minor, sku);
CREATE INDEX products_created ON products (created_at, sku);
CREATE INDEX products_category ON products (category, sku);

-- Per-location change counter: every stock row change takes the location's next value, and a till
-- pulls "everything since cursor N" for its location. The counter row is locked until commit, so
-- changes of one location commit in cursor order and a pull never skips a change that was still
-- in flight (a global sequence would allow that).
CREATE TABLE stock_cursors (
  location_id text PRIMARY KEY REFERENCES locations (id),
  last_seq    bigint NOT NULL DEFAULT 0
);

CREATE TABLE stock (
  location_id   text NOT NULL REFERENCES locations (id),
  sku           text NOT NULL REFERENCES products (sku),
  on_hand       integer NOT NULL DEFAULT 0,
  reserved      integer NOT NULL DEFAULT 0,
  incoming      integer NOT NULL DEFAULT 0,
  damaged       integer NOT NULL DEFAULT 0,
  reorder_point integer NOT NULL DEFAULT 0 CHECK (reorder_point >= 0),
  version       integer NOT NULL DEFAULT 0,
  count_hlc     text COLLATE "C",
  change_seq    bigint NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, sku)
);
CREATE INDEX stock_location_change ON stock (location_id, change_seq);
CREATE INDEX stock_sku ON stock (sku);

-- The append-only movement ledger: one row per effect of an op on a stock row. Summing a row's
-- movements gives the row; version_after numbers them 1..n per row.
CREATE TABLE movements (
  location_id      text NOT NULL,
  id               bigint GENERATED ALWAYS AS IDENTITY,
  sku              text NOT NULL,
  op_id            uuid NOT NULL,
  op_type          text NOT NULL,
  reason           text NOT NULL,
  outcome          text NOT NULL CHECK (outcome IN ('applied', 'absorbed', 'superseded')),
  d_on_hand        integer NOT NULL,
  d_reserved       integer NOT NULL,
  d_incoming       integer NOT NULL,
  d_damaged        integer NOT NULL,
  absorbed_on_hand integer NOT NULL,
  counted          integer,
  on_hand_after    integer NOT NULL,
  version_after    integer NOT NULL,
  oversell         boolean NOT NULL,
  hlc              text COLLATE "C" NOT NULL,
  hub_time         timestamptz NOT NULL DEFAULT clock_timestamp(),
  device_id        text,
  actor            text NOT NULL,
  reference        text,
  PRIMARY KEY (location_id, id),
  UNIQUE (location_id, sku, version_after),
  FOREIGN KEY (location_id, sku) REFERENCES stock (location_id, sku)
);
CREATE INDEX movements_row_hlc ON movements (location_id, sku, hlc);
CREATE INDEX movements_op ON movements (op_id);
CREATE INDEX movements_time ON movements (hub_time, location_id);
CREATE INDEX movements_sku_time ON movements (sku, hub_time);

CREATE FUNCTION movements_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'movements is an append-only ledger (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER movements_append_only BEFORE UPDATE OR DELETE ON movements
  FOR EACH ROW EXECUTE FUNCTION movements_append_only();

-- Conflicts the hub settled but a human should see: oversells, broken reservations.
CREATE TABLE conflicts (
  location_id  text NOT NULL REFERENCES locations (id),
  id           bigint GENERATED ALWAYS AS IDENTITY,
  kind         text NOT NULL,
  sku          text,
  op_id        uuid,
  details      jsonb NOT NULL DEFAULT '{}',
  status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  resolved_at  timestamptz,
  PRIMARY KEY (location_id, id)
);
CREATE INDEX conflicts_open ON conflicts (status, created_at);

-- Stock sent from one location to another; in transit until received at the destination.
CREATE TABLE transfers (
  id               text PRIMARY KEY,
  from_location_id text NOT NULL REFERENCES locations (id),
  to_location_id   text NOT NULL REFERENCES locations (id),
  status           text NOT NULL CHECK (status IN ('in_transit', 'partially_received', 'received')),
  reference        text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  received_at      timestamptz,
  CHECK (from_location_id <> to_location_id)
);
CREATE TABLE transfer_lines (
  transfer_id  text NOT NULL REFERENCES transfers (id),
  sku          text NOT NULL REFERENCES products (sku),
  qty          integer NOT NULL CHECK (qty > 0),
  received_qty integer NOT NULL DEFAULT 0 CHECK (received_qty >= 0 AND received_qty <= qty),
  PRIMARY KEY (transfer_id, sku)
);

-- Tills. A device is created with a one-time enrolment code and exchanges it for a token.
CREATE TABLE devices (
  id                   text PRIMARY KEY,
  location_id          text NOT NULL REFERENCES locations (id),
  name                 text NOT NULL,
  enrolment_code_hash  text UNIQUE,
  enrolment_expires_at timestamptz,
  token_hash           text,
  enrolled_at          timestamptz,
  last_acked_seq       bigint NOT NULL DEFAULT 0,
  last_seen_at         timestamptz,
  revoked_at           timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_location ON devices (location_id);

-- Idempotency for till ops: each (device, seq) applied at most once, its result remembered.
-- op_id is text: a malformed op's id is remembered as sent (NULL when it had none).
CREATE TABLE applied_ops (
  device_id   text NOT NULL REFERENCES devices (id),
  seq         bigint NOT NULL,
  op_id       text UNIQUE,
  location_id text NOT NULL,
  status      text NOT NULL CHECK (status IN ('applied', 'rejected')),
  code        text,
  reason      text,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, seq)
);

-- REST API tokens: "tsk_<id>_<secret>"; only a SHA-256 of the secret is kept.
CREATE TABLE api_tokens (
  id           text PRIMARY KEY,
  name         text NOT NULL,
  role         text NOT NULL CHECK (role IN ('admin', 'hq', 'store_manager', 'channel')),
  location_id  text REFERENCES locations (id),
  secret_hash  text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz,
  CHECK ((role = 'store_manager') = (location_id IS NOT NULL))
);
