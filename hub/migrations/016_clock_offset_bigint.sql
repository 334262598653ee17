-- A till whose clock is set 30 days off reports an offset of 2.6e9 ms: more than an integer holds,
-- so its heartbeat was not recorded and the health rules never saw the clock they exist to flag.
ALTER TABLE device_status ALTER COLUMN clock_offset_ms TYPE bigint;
