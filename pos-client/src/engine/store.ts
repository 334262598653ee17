import type { CatalogProduct, ReservationChange, StockRow, TillOp } from '@tillsync/sync-protocol';
import type { TillDb } from './db.js';

/*
 * Typed access to the till database: prepared statements only. Transactions are the caller's
 * (the Replica wraps related writes in `db.transaction`; the Cashier writes receipts inside one).
 */

export type Product = CatalogProduct;

export interface HeldOrder {
  orderId: string;
  expiresAt: number | null;
  lines: Array<{ sku: string; qty: number }>;
}

export interface OutboxEntry {
  seq: number;
  opId: string;
  op: TillOp;
  createdAt: number;
}

export interface RejectedOp {
  seq: number;
  opId: string;
  type: string;
  op: TillOp;
  code: string;
  reason: string;
  rejectedAt: number;
}

export interface ReceiptLine {
  sku: string;
  name: string;
  qty: number;
  unitPriceMinor: number;
  condition?: 'sellable' | 'damaged' | undefined;
}

export interface Receipt {
  receiptId: string;
  kind: 'sale' | 'return';
  seq: number;
  originalReceiptId: string | null;
  totalMinor: number;
  payments: Array<{ method: string; amountMinor: number }>;
  createdAt: number;
  lines: ReceiptLine[];
}

/** Keys of the meta table and their types. */
export interface Meta {
  deviceId: string;
  locationId: string;
  name: string;
  token: string;
  hubUrl: string;
  /** The seq the next op takes. */
  nextSeq: number;
  /** Highest seq the hub acknowledged (ops up to it are out of the outbox). */
  lastAckedSeq: number;
  /** The hub's stock cursor for this location that `stock_base` is complete up to. */
  cursor: number;
  lastHlc: string;
  lastSyncAt: number;
  /** This till's clock minus the hub's, measured at the last hello. */
  clockOffsetMs: number;
  catalogFetchedAt: number;
}

const NUMERIC: ReadonlySet<keyof Meta> = new Set([
  'nextSeq',
  'lastAckedSeq',
  'cursor',
  'lastSyncAt',
  'clockOffsetMs',
  'catalogFetchedAt',
]);

/** Above this many trigram candidates a search walks the catalogue in name order instead. */
const SEARCH_CANDIDATES_MAX = 2_000;

interface StockRecord {
  sku: string;
  on_hand: number;
  reserved: number;
  incoming: number;
  damaged: number;
  reorder_point: number;
  version: number;
  count_hlc: string | null;
}

export class TillStore {
  private readonly s;

  constructor(
    readonly db: TillDb,
    private readonly locationId: () => string,
  ) {
    const stockCols = 'sku, on_hand, reserved, incoming, damaged, reorder_point, version, count_hlc';
    const upsert = (table: string) =>
      db.prepare(
        `INSERT INTO ${table} (${stockCols}) VALUES (@sku, @onHand, @reserved, @incoming, @damaged, @reorderPoint, @version, @countHlc)
         ON CONFLICT (sku) DO UPDATE SET on_hand = excluded.on_hand, reserved = excluded.reserved,
           incoming = excluded.incoming, damaged = excluded.damaged, reorder_point = excluded.reorder_point,
           version = excluded.version, count_hlc = excluded.count_hlc`,
      );
    this.s = {
      metaGet: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      metaSet: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      product: db.prepare<[string, string], ProductRecord>(
        'SELECT * FROM products WHERE sku = ? OR barcode = ?',
      ),
      searchProducts: db.prepare<[string, string, number], ProductRecord>(
        `SELECT * FROM products WHERE active = 1 AND (name LIKE ? ESCAPE '\\' OR sku LIKE ? ESCAPE '\\')
         ORDER BY name, sku LIMIT ?`,
      ),
      // Rows the trigram index gives for a query of 3+ characters (a superset of the LIKE's).
      searchCandidates: db
        .prepare<[string, number], number>(
          'SELECT rowid FROM products_search WHERE products_search MATCH ? LIMIT ?',
        )
        .pluck(),
      // The same search over those candidates only: the LIKE still decides, so the answer is
      // exactly the scan's.
      searchProductsIndexed: db.prepare<[string, string, string, number], ProductRecord>(
        `SELECT * FROM products
         WHERE rowid IN (SELECT rowid FROM products_search WHERE products_search MATCH ?)
           AND active = 1 AND (name LIKE ? ESCAPE '\\' OR sku LIKE ? ESCAPE '\\')
         ORDER BY name, sku LIMIT ?`,
      ),
      upsertProduct: db.prepare(
        `INSERT INTO products (sku, name, barcode, category, price_minor, currency, active)
         VALUES (@sku, @name, @barcode, @category, @priceMinor, @currency, @active)
         ON CONFLICT (sku) DO UPDATE SET name = excluded.name, barcode = excluded.barcode,
           category = excluded.category, price_minor = excluded.price_minor, currency = excluded.currency,
           active = excluded.active`,
      ),
      clearBarcode: db.prepare('UPDATE products SET barcode = NULL WHERE barcode = ? AND sku <> ?'),
      view: db.prepare<[string], StockRecord>(`SELECT ${stockCols} FROM stock WHERE sku = ?`),
      base: db.prepare<[string], StockRecord>(`SELECT ${stockCols} FROM stock_base WHERE sku = ?`),
      allBase: db.prepare<[], StockRecord>(`SELECT ${stockCols} FROM stock_base`),
      allView: db.prepare<[], StockRecord>(`SELECT ${stockCols} FROM stock ORDER BY sku`),
      upsertView: upsert('stock'),
      upsertBase: upsert('stock_base'),
      deleteBase: db.prepare('DELETE FROM stock_base'),
      deleteView: db.prepare('DELETE FROM stock'),
      deleteViewRow: db.prepare('DELETE FROM stock WHERE sku = ?'),
      outboxAdd: db.prepare('INSERT INTO outbox (seq, op_id, type, op, created_at) VALUES (?, ?, ?, ?, ?)'),
      outboxAfter: db.prepare<
        [number, number],
        { seq: number; op_id: string; op: string; created_at: number }
      >('SELECT seq, op_id, op, created_at FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      outboxDeleteUpTo: db.prepare('DELETE FROM outbox WHERE seq <= ?'),
      outboxDelete: db.prepare('DELETE FROM outbox WHERE seq = ?'),
      journalAcked: db.prepare(
        `INSERT OR IGNORE INTO sent_ops (seq, op_id, type, op, created_at, acked_at)
         SELECT seq, op_id, type, op, created_at, ? FROM outbox WHERE seq <= ?`,
      ),
      journalPurgeBefore: db.prepare('DELETE FROM sent_ops WHERE acked_at < ?'),
      journalPurgeBeyond: db.prepare('DELETE FROM sent_ops WHERE seq <= (SELECT max(seq) FROM sent_ops) - ?'),
      // The start of the unbroken run of journaled seqs ending at `acked` (acked + 1: none).
      journalHeldFrom: db
        .prepare<{ acked: number }, number>(
          `SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM sent_ops WHERE seq = @acked) THEN @acked + 1
             ELSE (SELECT max(a.seq) FROM sent_ops a WHERE a.seq <= @acked
                   AND NOT EXISTS (SELECT 1 FROM sent_ops b WHERE b.seq = a.seq - 1)) END`,
        )
        .pluck(),
      journalRequeue: db.prepare(
        `INSERT OR IGNORE INTO outbox (seq, op_id, type, op, created_at)
         SELECT seq, op_id, type, op, created_at FROM sent_ops WHERE seq >= ?`,
      ),
      journalDeleteFrom: db.prepare('DELETE FROM sent_ops WHERE seq >= ?'),
      outboxStats: db.prepare<[], { depth: number; oldest: number | null }>(
        'SELECT count(*) AS depth, min(created_at) AS oldest FROM outbox',
      ),
      rejectedAdd: db.prepare(
        'INSERT OR IGNORE INTO rejected_ops (seq, op_id, type, op, code, reason, rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      rejectedList: db.prepare<[number], RejectedRecord>(
        'SELECT * FROM rejected_ops ORDER BY seq DESC LIMIT ?',
      ),
      receiptAdd: db.prepare(
        `INSERT INTO receipts (receipt_id, kind, seq, original_receipt_id, total_minor, payments, created_at)
         VALUES (@receiptId, @kind, @seq, @originalReceiptId, @totalMinor, @payments, @createdAt)`,
      ),
      receiptLineAdd: db.prepare(
        `INSERT INTO receipt_lines (receipt_id, line_no, sku, name, qty, unit_price_minor, condition)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      receipt: db.prepare<[string], ReceiptRecord>('SELECT * FROM receipts WHERE receipt_id = ?'),
      receiptLines: db.prepare<[string], ReceiptLineRecord>(
        'SELECT * FROM receipt_lines WHERE receipt_id = ? ORDER BY line_no',
      ),
      reservationPut: db.prepare(
        `INSERT INTO reservations (order_id, sku, qty, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (order_id, sku) DO UPDATE SET qty = excluded.qty, expires_at = excluded.expires_at`,
      ),
      reservationDelete: db.prepare('DELETE FROM reservations WHERE order_id = ? AND sku = ?'),
      reservationsClear: db.prepare('DELETE FROM reservations'),
      reservations: db.prepare<[], { order_id: string; sku: string; qty: number; expires_at: number | null }>(
        'SELECT order_id, sku, qty, expires_at FROM reservations ORDER BY order_id, sku',
      ),
      returnedQty: db.prepare<[string], { sku: string; qty: number }>(
        `SELECT l.sku, sum(l.qty) AS qty FROM receipts r JOIN receipt_lines l USING (receipt_id)
         WHERE r.kind = 'return' AND r.original_receipt_id = ? GROUP BY l.sku`,
      ),
    };
  }

  meta<K extends keyof Meta>(key: K): Meta[K] | undefined {
    const row = this.s.metaGet.get(key);
    if (!row) return undefined;
    return (NUMERIC.has(key) ? Number(row.value) : row.value) as Meta[K];
  }

  setMeta<K extends keyof Meta>(key: K, value: Meta[K]): void {
    this.s.metaSet.run(key, String(value));
  }

  product(ref: string): Product | undefined {
    const r = this.s.product.get(ref, ref);
    return r && toProduct(r);
  }

  searchProducts(query: string, limit = 20): Product[] {
    const like = `%${query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    // A rare term (few trigram candidates): check only those. A common one or one too short for
    // trigrams: walk products in name order, where matches are dense enough to fill a page fast.
    const phrase = `"${query.replaceAll('"', '""')}"`;
    const rare =
      [...query].length >= 3 &&
      this.s.searchCandidates.all(phrase, SEARCH_CANDIDATES_MAX + 1).length <= SEARCH_CANDIDATES_MAX;
    const rows = rare
      ? this.s.searchProductsIndexed.all(phrase, like, like, limit)
      : this.s.searchProducts.all(like, like, limit);
    return rows.map(toProduct);
  }

  upsertProducts(products: readonly Product[]): void {
    for (const p of products) {
      // A barcode moved to another SKU at the hub: free it here first.
      if (p.barcode) this.s.clearBarcode.run(p.barcode, p.sku);
      this.s.upsertProduct.run({ ...p, active: p.active ? 1 : 0 });
    }
  }

  stock(sku: string): StockRow | undefined {
    const r = this.s.view.get(sku);
    return r && this.toRow(r);
  }

  allStock(): StockRow[] {
    return this.s.allView.all().map((r) => this.toRow(r));
  }

  base(sku: string): StockRow | undefined {
    const r = this.s.base.get(sku);
    return r && this.toRow(r);
  }

  allBase(): StockRow[] {
    return this.s.allBase.all().map((r) => this.toRow(r));
  }

  putBase(row: StockRow): void {
    this.s.upsertBase.run(row);
  }

  putView(row: StockRow): void {
    this.s.upsertView.run(row);
  }

  /** Forget the view of a SKU the hub holds no row for and no pending op touches. */
  deleteViewRow(sku: string): void {
    this.s.deleteViewRow.run(sku);
  }

  clearStock(): void {
    this.s.deleteBase.run();
    this.s.deleteView.run();
  }

  appendOutbox(seq: number, op: TillOp, now: number): void {
    this.s.outboxAdd.run(seq, op.opId, op.type, JSON.stringify(op), now);
  }

  /** Unacknowledged ops after `seq`, in seq order. */
  outboxAfter(seq: number, limit: number): OutboxEntry[] {
    return this.s.outboxAfter.all(seq, limit).map(toEntry);
  }

  deleteOutboxUpTo(seq: number): number {
    return this.s.outboxDeleteUpTo.run(seq).changes;
  }

  deleteOutbox(seq: number): void {
    this.s.outboxDelete.run(seq);
  }

  /** Keep the outbox's ops up to `seq` in the journal of acknowledged ops (before deleting them). */
  journalAcked(seq: number, now: number): void {
    this.s.journalAcked.run(now, seq);
  }

  /** Forget journaled ops acknowledged before `before`, and all but the newest `keep`. */
  purgeJournal(before: number, keep: number): void {
    this.s.journalPurgeBefore.run(before);
    this.s.journalPurgeBeyond.run(keep);
  }

  /** Lowest seq from which the journal holds every op up to `acked` (acked + 1 when it holds none). */
  journalHeldFrom(acked: number): number {
    return this.s.journalHeldFrom.get({ acked }) ?? acked + 1;
  }

  /** Move journaled ops from `seq` on back into the outbox (same seq, op id, creation time). */
  requeueJournal(seq: number): number {
    const moved = this.s.journalRequeue.run(seq).changes;
    this.s.journalDeleteFrom.run(seq);
    return moved;
  }

  outboxStats(): { depth: number; oldestCreatedAt: number | null } {
    const r = this.s.outboxStats.get()!;
    return { depth: r.depth, oldestCreatedAt: r.oldest };
  }

  addRejected(entry: OutboxEntry, code: string, reason: string, now: number): void {
    this.s.rejectedAdd.run(entry.seq, entry.opId, entry.op.type, JSON.stringify(entry.op), code, reason, now);
  }

  rejected(limit = 50): RejectedOp[] {
    return this.s.rejectedList.all(limit).map((r) => ({
      seq: r.seq,
      opId: r.op_id,
      type: r.type,
      op: JSON.parse(r.op) as TillOp,
      code: r.code,
      reason: r.reason,
      rejectedAt: r.rejected_at,
    }));
  }

  addReceipt(receipt: Receipt): void {
    this.s.receiptAdd.run({ ...receipt, payments: JSON.stringify(receipt.payments) });
    receipt.lines.forEach((l, i) => {
      this.s.receiptLineAdd.run(
        receipt.receiptId,
        i + 1,
        l.sku,
        l.name,
        l.qty,
        l.unitPriceMinor,
        l.condition ?? null,
      );
    });
  }

  receipt(receiptId: string): Receipt | undefined {
    const r = this.s.receipt.get(receiptId);
    if (!r) return undefined;
    return {
      receiptId: r.receipt_id,
      kind: r.kind,
      seq: r.seq,
      originalReceiptId: r.original_receipt_id,
      totalMinor: r.total_minor,
      payments: JSON.parse(r.payments) as Receipt['payments'],
      createdAt: r.created_at,
      lines: this.s.receiptLines.all(receiptId).map((l) => ({
        sku: l.sku,
        name: l.name,
        qty: l.qty,
        unitPriceMinor: l.unit_price_minor,
        condition: (l.condition as ReceiptLine['condition']) ?? undefined,
      })),
    };
  }

  /** Units of each SKU already returned against a sale receipt. */
  returnedAgainst(receiptId: string): Map<string, number> {
    return new Map(this.s.returnedQty.all(receiptId).map((r) => [r.sku, r.qty]));
  }

  /** Replace (snapshot) or update the held reservations; a change to qty 0 or not held removes the line. */
  applyReservations(changes: readonly ReservationChange[], snapshot: boolean): void {
    if (snapshot) this.s.reservationsClear.run();
    for (const c of changes) {
      if (c.status === 'held' && c.qty > 0) this.s.reservationPut.run(c.orderId, c.sku, c.qty, c.expiresAt);
      else this.s.reservationDelete.run(c.orderId, c.sku);
    }
  }

  /** Held reservations grouped by order. */
  heldOrders(): HeldOrder[] {
    const orders = new Map<string, HeldOrder>();
    for (const r of this.s.reservations.all()) {
      const o = orders.get(r.order_id) ?? { orderId: r.order_id, expiresAt: r.expires_at, lines: [] };
      o.lines.push({ sku: r.sku, qty: r.qty });
      orders.set(r.order_id, o);
    }
    return [...orders.values()];
  }

  private toRow(r: StockRecord): StockRow {
    return {
      locationId: this.locationId(),
      sku: r.sku,
      onHand: r.on_hand,
      reserved: r.reserved,
      incoming: r.incoming,
      damaged: r.damaged,
      reorderPoint: r.reorder_point,
      version: r.version,
      countHlc: r.count_hlc,
    };
  }
}

interface ProductRecord {
  sku: string;
  name: string;
  barcode: string | null;
  category: string | null;
  price_minor: number;
  currency: string;
  active: number;
}
interface RejectedRecord {
  seq: number;
  op_id: string;
  type: string;
  op: string;
  code: string;
  reason: string;
  rejected_at: number;
}
interface ReceiptRecord {
  receipt_id: string;
  kind: 'sale' | 'return';
  seq: number;
  original_receipt_id: string | null;
  total_minor: number;
  payments: string;
  created_at: number;
}
interface ReceiptLineRecord {
  sku: string;
  name: string;
  qty: number;
  unit_price_minor: number;
  condition: string | null;
}

function toProduct(r: ProductRecord): Product {
  return {
    sku: r.sku,
    name: r.name,
    barcode: r.barcode,
    category: r.category,
    priceMinor: r.price_minor,
    currency: r.currency,
    active: r.active === 1,
  };
}

function toEntry(r: { seq: number; op_id: string; op: string; created_at: number }): OutboxEntry {
  return { seq: r.seq, opId: r.op_id, op: JSON.parse(r.op) as TillOp, createdAt: r.created_at };
}
