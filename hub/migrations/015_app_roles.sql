-- Database roles the hub serves as, granted by `tillsync-hub db grant --role <name>` (db/grants.ts):
-- DML on every table but the append-only ledger, which they may only read and append to. Each
-- migration run re-grants them, so tables added later are covered. Unused on PGlite (one role).
CREATE TABLE app_roles (
  role       text PRIMARY KEY,
  granted_at timestamptz NOT NULL DEFAULT now()
);
