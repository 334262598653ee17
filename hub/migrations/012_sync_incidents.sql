-- A till that knows more of its own history than the hub does: the hub was restored from an older
-- backup (or lost a disk). Recorded at the till's hello by sync/restore-recovery.ts, the one writer.
-- The till re-sends the ops it still holds (seqs resend_from..till_seq); seqs it no longer holds
-- (lost_from..lost_to) are gone, and the device's acked seq was moved past them so new ops flow.
CREATE TABLE sync_incidents (
  location_id text NOT NULL REFERENCES locations (id),
  id          bigint GENERATED ALWAYS AS IDENTITY,
  device_id   text NOT NULL REFERENCES devices (id),
  -- The device's acked seq at the hub, and at the till, when it was detected.
  hub_seq     bigint NOT NULL,
  till_seq    bigint NOT NULL CHECK (till_seq > hub_seq),
  resend_from bigint NOT NULL,
  lost_from   bigint,
  lost_to     bigint,
  ops_lost    integer NOT NULL CHECK (ops_lost >= 0),
  detected_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (location_id, id)
);
CREATE INDEX sync_incidents_newest ON sync_incidents (id);
CREATE INDEX sync_incidents_device ON sync_incidents (device_id, id);

-- The alerts feed's partial index, with the new alert type.
DROP INDEX events_alerts;
CREATE INDEX events_alerts ON events (id)
  WHERE type IN ('till.offline', 'till.online', 'till.lagging', 'conflict.opened', 'stock.low',
                 'sync.incident');
