-- Socket.IO's Postgres adapter (several hubs on one database) sends broadcasts through
-- NOTIFY; a payload over NOTIFY's size limit, or with binary data, goes through this table and
-- the notification carries its id. The adapter does not create the table: this is its documented
-- DDL. Each hub instance deletes rows older than its cleanup interval (30 s). Unused on PGlite.
CREATE TABLE IF NOT EXISTS socket_io_attachments (
  id bigserial UNIQUE,
  created_at timestamptz DEFAULT now(),
  payload bytea
);
