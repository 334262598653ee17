/*
 * The till's own SQLite schema, migrated with PRAGMA user_version. Stock is kept twice:
 * `stock_base` is the hub's authoritative row (with its version), `stock` is what the cashier sees:
 * base plus this till's ops the hub has not acknowledged yet, recomputed with the shared reducer.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

  CREATE TABLE products (
    sku TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    barcode TEXT UNIQUE,
    category TEXT,
    price_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    active INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE stock_base (
    sku TEXT PRIMARY KEY,
    on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL, incoming INTEGER NOT NULL,
    damaged INTEGER NOT NULL, reorder_point INTEGER NOT NULL, version INTEGER NOT NULL, count_hlc TEXT
  ) STRICT;

  CREATE TABLE stock (
    sku TEXT PRIMARY KEY,
    on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL, incoming INTEGER NOT NULL,
    damaged INTEGER NOT NULL, reorder_point INTEGER NOT NULL, version INTEGER NOT NULL, count_hlc TEXT
  ) STRICT;

  -- Ops not yet acknowledged by the hub, in seq order. Deleted only once acknowledged.
  CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    op_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    op TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;

  -- Ops the hub refused for good, with its reason: shown to the cashier, never resent.
  CREATE TABLE rejected_ops (
    seq INTEGER PRIMARY KEY,
    op_id TEXT NOT NULL,
    type TEXT NOT NULL,
    op TEXT NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_at INTEGER NOT NULL
  ) STRICT;

  -- Receipts: sales and returns as the customer got them.
  CREATE TABLE receipts (
    receipt_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('sale', 'return')),
    seq INTEGER NOT NULL,
    original_receipt_id TEXT,
    total_minor INTEGER NOT NULL,
    payments TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE receipt_lines (
    receipt_id TEXT NOT NULL REFERENCES receipts (receipt_id),
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    qty INTEGER NOT NULL,
    unit_price_minor INTEGER NOT NULL,
    condition TEXT,
    PRIMARY KEY (receipt_id, line_no)
  ) STRICT;
  `,
  `
  -- Units the hub holds at this store for online orders (pickup orders are handed over here).
  CREATE TABLE reservations (
    order_id TEXT NOT NULL,
    sku TEXT NOT NULL,
    qty INTEGER NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (order_id, sku)
  ) STRICT;
  `,
  `
  -- The cashier's product search (substring of name or SKU) without scanning the catalogue: a
  -- trigram index over products finds the few rows of a rare term, keyed by products.rowid
  -- (stable: the till never VACUUMs; after one, run
  -- INSERT INTO products_search (products_search) VALUES ('rebuild')); a common term walks
  -- products in name order and stops at the first page of matches.
  CREATE INDEX products_by_name ON products (name, sku);
  CREATE VIRTUAL TABLE products_search USING fts5 (
    name, sku, content = 'products', content_rowid = 'rowid', tokenize = 'trigram'
  );
  INSERT INTO products_search (products_search) VALUES ('rebuild');
  CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_search (rowid, name, sku) VALUES (new.rowid, new.name, new.sku);
  END;
  CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_search (products_search, rowid, name, sku) VALUES ('delete', old.rowid, old.name, old.sku);
  END;
  -- A catalogue refresh rewrites every product: re-index only those whose name or SKU changed.
  CREATE TRIGGER products_search_update AFTER UPDATE OF name, sku ON products
  WHEN old.name IS NOT new.name OR old.sku IS NOT new.sku BEGIN
    INSERT INTO products_search (products_search, rowid, name, sku) VALUES ('delete', old.rowid, old.name, old.sku);
    INSERT INTO products_search (rowid, name, sku) VALUES (new.rowid, new.name, new.sku);
  END;
  `,
  `
  -- Ops the hub acknowledged, kept for a while (store.ts purges by age and count): a hub restored
  -- from an older backup has lost them, and asks for them again at hello.
  CREATE TABLE sent_ops (
    seq INTEGER PRIMARY KEY,
    op_id TEXT NOT NULL,
    type TEXT NOT NULL,
    op TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    acked_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX sent_ops_acked_at ON sent_ops (acked_at);
  `,
];
