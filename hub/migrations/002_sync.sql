-- Till sync: ops the hub refused (kept for HQ, never blocking the queue) and live device status.

CREATE TABLE dead_letters (
  location_id text NOT NULL REFERENCES locations (id),
  id          bigint GENERATED ALWAYS AS IDENTITY,
  device_id   text NOT NULL REFERENCES devices (id),
  seq         bigint NOT NULL,
  op_id       text,
  op          jsonb NOT NULL,
  code        text NOT NULL,
  reason      text NOT NULL,
  status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'retried', 'dismissed')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  PRIMARY KEY (location_id, id),
  UNIQUE (device_id, seq)
);
CREATE INDEX dead_letters_open ON dead_letters (status, created_at);

-- What each till last told the hub (heartbeats) and whether it is connected now.
CREATE TABLE device_status (
  device_id              text PRIMARY KEY REFERENCES devices (id),
  connected              boolean NOT NULL DEFAULT false,
  connected_at           timestamptz,
  disconnected_at        timestamptz,
  outbox_depth           integer,
  oldest_unsynced_age_ms bigint,
  clock_offset_ms        integer,
  app_version            text,
  protocol_version       integer,
  last_heartbeat_at      timestamptz
);
