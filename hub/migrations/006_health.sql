-- HQ sync health: per-minute sync activity per till, alert episodes, and alert events raised by
-- the database itself so that no code path that opens a conflict or lowers stock can forget them.

-- One row per till per minute, upserted by each push batch (one statement per batch): health and
-- the dashboard's charts read at most 60 rows per till per hour instead of scanning applied_ops.
-- lag = hub time when applied − the op's HLC wall time (the till's hub-corrected clock).
CREATE TABLE sync_activity (
  device_id   text NOT NULL REFERENCES devices (id),
  minute      timestamptz NOT NULL,
  location_id text NOT NULL,
  applied     integer NOT NULL DEFAULT 0,
  duplicates  integer NOT NULL DEFAULT 0,
  rejected    integer NOT NULL DEFAULT 0,
  lag_sum_ms  bigint NOT NULL DEFAULT 0,
  lag_max_ms  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, minute)
);
CREATE INDEX sync_activity_minute ON sync_activity (minute);

-- An alert is raised once per episode: set when raised, cleared when the till recovers.
ALTER TABLE device_status
  ADD COLUMN offline_alerted_at timestamptz,
  ADD COLUMN lag_alerted_at     timestamptz;

-- Rows at or below their reorder point (the definition of services/inventory.ts), per location.
CREATE INDEX stock_low ON stock (location_id, sku)
  WHERE reorder_point > 0 AND on_hand - reserved <= reorder_point;

-- The alerts feed reads events of these types newest first; stock.changed would bury them.
CREATE INDEX events_alerts ON events (id)
  WHERE type IN ('till.offline', 'till.online', 'till.lagging', 'conflict.opened', 'stock.low');

CREATE FUNCTION conflict_opened_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (event_id, type, location_id, payload)
  VALUES (gen_random_uuid(), 'conflict.opened', NEW.location_id, jsonb_build_object(
    'conflictId', NEW.id, 'locationId', NEW.location_id, 'kind', NEW.kind, 'sku', NEW.sku,
    'opId', NEW.op_id, 'details', NEW.details));
  RETURN NULL;
END
$$;
CREATE TRIGGER conflicts_opened_event AFTER INSERT ON conflicts
  FOR EACH ROW EXECUTE FUNCTION conflict_opened_event();

-- Fires only when stock moves a row from above its reorder point to at or below it: one alert per
-- crossing, not one per sale while it stays low, and none for setting a reorder point.
CREATE FUNCTION stock_low_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (event_id, type, location_id, payload)
  VALUES (gen_random_uuid(), 'stock.low', NEW.location_id, jsonb_build_object(
    'locationId', NEW.location_id, 'sku', NEW.sku, 'onHand', NEW.on_hand, 'reserved', NEW.reserved,
    'available', NEW.on_hand - NEW.reserved, 'reorderPoint', NEW.reorder_point));
  RETURN NULL;
END
$$;
CREATE TRIGGER stock_low_event AFTER UPDATE ON stock
  FOR EACH ROW
  WHEN (NEW.reorder_point > 0 AND NEW.on_hand - NEW.reserved <= NEW.reorder_point
        AND OLD.on_hand - OLD.reserved > NEW.reorder_point)
  EXECUTE FUNCTION stock_low_event();
