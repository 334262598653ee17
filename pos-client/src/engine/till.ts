import { EventEmitter } from 'node:events';
import { uptime } from 'node:os';
import {
  type Ack,
  type AdjustReason,
  available,
  type ClockJump,
  DEFAULT_MAX_CLOCK_JUMP_MS,
  emptyRow,
  type Hello,
  type Hlc,
  HybridClock,
  newOpId,
  parseHlc,
  type ReservationPush,
  type StockPush,
  type StockRow,
  TillOp,
  type TillOpInput,
  TrustedClock,
} from '@tillsync/sync-protocol';
import { z } from 'zod';
import { type OpenOptions, openTillDb, type TillDb } from './db.js';
import { InvalidInputError, NotEnrolledError, ReservedStockError, UnknownProductError } from './errors.js';
import { applyLocally, rebase, skusTouched } from './stock-view.js';
import {
  type HeldOrder,
  type Meta,
  type OutboxEntry,
  type Product,
  type Receipt,
  type RejectedOp,
  TillStore,
} from './store.js';
import { openToken, parseSealed, plainVault, sealToken, type TokenVault } from './token-vault.js';

export interface TillOptions extends OpenOptions {
  dataDir: string;
  /** Wall clock (tests pass a fake one). */
  now?: () => number;
  /** Keeps the device token (default: plain, protected by the data directory's modes). */
  vault?: TokenVault;
  /**
   * A monotonic clock in ms that counts through OS sleep, to catch the wall clock being set
   * (default os.uptime(); with a fake `now` and none given, `now` itself: no jump is seen).
   */
  monotonic?: () => number;
}

export interface Enrolment {
  deviceId: string;
  locationId: string;
  name: string;
  token: string;
  hubUrl: string;
}

export interface TillStatus {
  deviceId: string | null;
  locationId: string | null;
  outboxDepth: number;
  oldestUnsyncedAgeMs: number | null;
  lastSyncAt: number | null;
  lastAckedSeq: number;
  nextSeq: number;
  cursor: number;
  rejected: RejectedOp[];
  /** The last time the wall clock was seen set (since start); ops are stamped as if it was not. */
  clockJump: ClockJump | null;
}

const LineRef = z.object({ ref: z.string().min(1).max(64), qty: z.number().int().positive().max(1_000_000) });
const Payments = z.array(
  z.object({ method: z.enum(['cash', 'card', 'voucher']), amountMinor: z.number().int().min(0) }),
);

/**
 * A till: its SQLite ledger, durable outbox and the cashier's stock view. Every action writes the
 * op, its receipt (for sales and returns), its outbox entry and the new stock view in ONE SQLite
 * transaction before returning, so an action reported done survives a crash (invariant 4).
 *
 * Emits 'change' after every local or synced change (the UI refreshes on it) and 'op' when a new op
 * waits in the outbox (the sync agent pushes on it).
 */
export class Till extends EventEmitter<{ change: []; op: [TillOp]; clockJump: [ClockJump] }> {
  readonly db: TillDb;
  readonly store: TillStore;
  readonly now: () => number;
  /** Hub time, as this till reckons it: what its ops are stamped with. */
  private readonly time: TrustedClock;
  private clockJump: ClockJump | null = null;
  private clock: HybridClock;
  /** Parsed outbox, seq order: the ops the view applies on top of the hub's rows. */
  private pending: OutboxEntry[];
  /**
   * The enrolment, which the sale path reads several times per sale (a sale read 20 meta rows
   * otherwise). Only this process writes the database (exclusive lock) and only saveEnrolment
   * changes these keys: it drops the copy once its transaction is over.
   */
  private enrolmentCache: Readonly<Enrolment> | null | undefined;

  private readonly vault: TokenVault;

  private constructor(db: TillDb, now: () => number, monotonic: () => number, vault: TokenVault) {
    super();
    this.db = db;
    this.now = now;
    this.vault = vault;
    this.store = new TillStore(db, () => this.enrolment?.locationId ?? '');
    this.time = new TrustedClock({
      wall: now,
      monotonic,
      offsetMs: this.store.meta('clockOffsetMs') ?? 0,
      onJump: (jump) => this.clockJumped(jump),
    });
    this.clock = this.makeClock();
    this.pending = this.store.outboxAfter(0, Number.MAX_SAFE_INTEGER);
    this.upgradeTokenSeal();
  }

  static open(options: TillOptions): Till {
    const db = openTillDb(options.dataDir, options);
    const now = options.now ?? Date.now;
    const monotonic = options.monotonic ?? (options.now ? options.now : () => uptime() * 1000);
    try {
      return new Till(db, now, monotonic, options.vault ?? plainVault);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  close(): void {
    this.removeAllListeners();
    this.db.close();
  }

  // ── identity ─────────────────────────────────────────────────────────────────────────────

  get enrolment(): Readonly<Enrolment> | null {
    if (this.enrolmentCache === undefined) this.enrolmentCache = this.readEnrolment();
    return this.enrolmentCache;
  }

  private readEnrolment(): Readonly<Enrolment> | null {
    const m = (k: keyof Meta) => this.store.meta(k);
    const [deviceId, locationId, name, token, hubUrl] = [
      m('deviceId'),
      m('locationId'),
      m('name'),
      m('token'),
      m('hubUrl'),
    ];
    if (!deviceId || !locationId || !token || !hubUrl) return null;
    const vault = this.vault;
    return {
      deviceId: String(deviceId),
      locationId: String(locationId),
      name: String(name ?? ''),
      // Opened when sync needs it: selling, status and recover work without the sealing vault.
      get token() {
        return openToken(vault, String(token));
      },
      hubUrl: String(hubUrl),
    };
  }

  /**
   * A token stored plain (enrolled from the CLI, or before vaults) is sealed by a stronger vault
   * the first time it opens this till, and the plain copy is scrubbed from free pages and the WAL.
   */
  private upgradeTokenSeal(): void {
    const stored = this.store.meta('token');
    if (stored === undefined || this.vault.kind === plainVault.kind) return;
    if (parseSealed(stored).kind !== plainVault.kind) return;
    this.db.pragma('secure_delete = ON');
    try {
      this.store.setMeta('token', sealToken(this.vault, openToken(this.vault, stored)));
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.pragma('secure_delete = OFF');
    }
    this.enrolmentCache = undefined;
  }

  /**
   * `hubAckedSeq`: what the hub already holds for this device id (a replacement till): this till's
   * ops are numbered after it, never reusing a seq the old machine used.
   */
  saveEnrolment(e: Enrolment, hubAckedSeq = 0): void {
    try {
      this.db.transaction(() => {
        // An empty token stays empty: "no token" reads as not enrolled.
        for (const [k, v] of Object.entries(e) as Array<[keyof Enrolment, string]>)
          this.store.setMeta(k, k === 'token' && v ? sealToken(this.vault, v) : v);
        const acked = Math.max(this.store.meta('lastAckedSeq') ?? 0, hubAckedSeq);
        this.store.setMeta('lastAckedSeq', acked);
        this.store.setMeta('nextSeq', Math.max(this.store.meta('nextSeq') ?? 1, acked + 1));
        if (this.store.meta('cursor') === undefined) this.store.setMeta('cursor', 0);
      })();
    } finally {
      // Re-read whatever is committed (the new enrolment, or the old one after a rollback).
      this.enrolmentCache = undefined;
    }
    this.clock = this.makeClock();
  }

  private requireEnrolment(): Enrolment {
    const e = this.enrolment;
    if (!e) throw new NotEnrolledError();
    return e;
  }

  private makeClock(): HybridClock {
    const clock = new HybridClock(this.store.meta('deviceId') ?? 'unenrolled', {
      // Stamp ops with hub-corrected time kept by a monotonic clock: a till whose clock is hours
      // off, or is set while it runs, still orders its ops correctly against counts made elsewhere.
      now: () => this.time.now(),
    });
    const last = this.store.meta('lastHlc');
    if (last) {
      this.time.atLeast(parseHlc(last).wall);
      clock.restore(last);
    }
    return clock;
  }

  /** The wall clock was set: keep the corrected offset (restart, heartbeat) and say so. */
  private clockJumped(jump: ClockJump): void {
    this.clockJump = jump;
    this.store.setMeta('clockOffsetMs', this.time.offsetMs);
    this.emit('clockJump', jump);
  }

  /**
   * With the hub's time known: stop stamping ahead of it (the clock was set ahead before a
   * restart), except that ops still in the outbox keep every later op ordered after them.
   */
  private settleClock(): void {
    const last = this.store.meta('lastHlc');
    if (!last || parseHlc(last).wall - this.time.now() <= DEFAULT_MAX_CLOCK_JUMP_MS) return;
    let floor: Hlc | null = null;
    for (const e of this.pending) if (floor === null || e.op.hlc > floor) floor = e.op.hlc;
    this.clock.rebase(floor);
    this.store.setMeta('lastHlc', this.clock.tick());
  }

  // ── cashier actions ──────────────────────────────────────────────────────────────────────

  /** Ring a sale: lines by SKU or barcode, priced from the catalogue. */
  sell(input: {
    lines: Array<{ ref: string; qty: number }>;
    payments?: Array<{ method: 'cash' | 'card' | 'voucher'; amountMinor: number }>;
    /** Without `payments`: the whole total paid this way (cash by default). */
    paymentMethod?: 'cash' | 'card' | 'voucher';
    /** The cashier confirmed selling units reserved for online orders. */
    reservedOverride?: string;
  }): Receipt {
    const lines = this.resolveLines(input.lines);
    const paid = Payments.safeParse(input.payments ?? []);
    if (!paid.success) {
      const issue = paid.error.issues[0];
      throw new InvalidInputError(
        `payments.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
        paid.error.issues,
      );
    }
    const payments = paid.data;
    if (!input.reservedOverride) this.assertNotReserved(lines);
    const receiptId = this.newReceiptId();
    const totalMinor = lines.reduce((sum, l) => sum + l.qty * l.product.priceMinor, 0);
    let receipt: Receipt | undefined;
    this.record(
      {
        type: 'sale',
        receiptId,
        lines: lines.map((l) => ({ sku: l.product.sku, qty: l.qty, unitPriceMinor: l.product.priceMinor })),
        payments:
          payments.length > 0
            ? payments
            : [{ method: input.paymentMethod ?? 'cash', amountMinor: totalMinor }],
        ...(input.reservedOverride ? { reservedOverride: { reason: input.reservedOverride } } : {}),
      },
      (op) => {
        receipt = {
          receiptId,
          kind: 'sale',
          seq: op.seq,
          originalReceiptId: null,
          totalMinor,
          payments: op.type === 'sale' ? op.payments : [],
          createdAt: this.now(),
          lines: lines.map((l) => ({
            sku: l.product.sku,
            name: l.product.name,
            qty: l.qty,
            unitPriceMinor: l.product.priceMinor,
          })),
        };
        this.store.addReceipt(receipt);
      },
    );
    return receipt!;
  }

  /** Take items back, against an earlier receipt of this till (refunded at its prices) or without one. */
  returnItems(input: {
    originalReceiptId?: string;
    lines: Array<{ ref: string; qty: number; condition?: 'sellable' | 'damaged' }>;
    refundMethod?: 'cash' | 'card' | 'voucher';
  }): Receipt {
    const lines = this.resolveLines(input.lines).map((l, i) => ({
      ...l,
      condition: input.lines[i]?.condition ?? 'sellable',
    }));
    const original = input.originalReceiptId ? this.store.receipt(input.originalReceiptId) : undefined;
    if (input.originalReceiptId) {
      if (original?.kind !== 'sale') {
        throw new InvalidInputError(`no sale receipt ${input.originalReceiptId} on this till`);
      }
      const returned = this.store.returnedAgainst(original.receiptId);
      // The same SKU may come on several lines (by SKU and by barcode): their sum is what comes back.
      const wanted = new Map<string, number>();
      for (const l of lines) wanted.set(l.product.sku, (wanted.get(l.product.sku) ?? 0) + l.qty);
      for (const [sku, qty] of wanted) {
        const sold = original.lines.filter((o) => o.sku === sku).reduce((s, o) => s + o.qty, 0);
        const left = sold - (returned.get(sku) ?? 0);
        if (qty > left) {
          throw new InvalidInputError(`receipt ${original.receiptId} has ${left} × ${sku} left to return`, {
            sku,
            left,
          });
        }
      }
    }
    const price = (sku: string, fallback: number) =>
      original?.lines.find((o) => o.sku === sku)?.unitPriceMinor ?? fallback;
    const receiptId = this.newReceiptId();
    const totalMinor = lines.reduce((s, l) => s + l.qty * price(l.product.sku, l.product.priceMinor), 0);
    let receipt: Receipt | undefined;
    this.record(
      {
        type: 'return',
        receiptId,
        ...(original ? { originalReceiptId: original.receiptId } : {}),
        lines: lines.map((l) => ({
          sku: l.product.sku,
          qty: l.qty,
          unitPriceMinor: price(l.product.sku, l.product.priceMinor),
          condition: l.condition,
        })),
      },
      (op) => {
        receipt = {
          receiptId,
          kind: 'return',
          seq: op.seq,
          originalReceiptId: original?.receiptId ?? null,
          totalMinor,
          payments: [
            {
              method: input.refundMethod ?? original?.payments[0]?.method ?? 'cash',
              amountMinor: totalMinor,
            },
          ],
          createdAt: this.now(),
          lines: lines.map((l) => ({
            sku: l.product.sku,
            name: l.product.name,
            qty: l.qty,
            unitPriceMinor: price(l.product.sku, l.product.priceMinor),
            condition: l.condition,
          })),
        };
        this.store.addReceipt(receipt);
      },
    );
    return receipt!;
  }

  /** A cycle count: on_hand becomes what was counted, as of now. */
  count(lines: Array<{ ref: string; counted: number }>): TillOp {
    const resolved = lines.map((l) => ({ sku: this.productOrThrow(l.ref).sku, counted: l.counted }));
    return this.record({ type: 'count', lines: resolved });
  }

  receive(lines: Array<{ ref: string; qty: number }>, reference?: string): TillOp {
    return this.record({ type: 'receive', lines: this.skuLines(lines), ...(reference ? { reference } : {}) });
  }

  adjust(reason: AdjustReason, lines: Array<{ ref: string; qty: number }>, note?: string): TillOp {
    return this.record({ type: 'adjust', reason, lines: this.skuLines(lines), ...(note ? { note } : {}) });
  }

  transferOut(
    toLocationId: string,
    lines: Array<{ ref: string; qty: number }>,
    transferId = `tr_${newOpId()}`,
  ): TillOp {
    return this.record({ type: 'transfer_out', transferId, toLocationId, lines: this.skuLines(lines) });
  }

  transferIn(transferId: string, fromLocationId: string, lines: Array<{ ref: string; qty: number }>): TillOp {
    return this.record({ type: 'transfer_in', transferId, fromLocationId, lines: this.skuLines(lines) });
  }

  /**
   * Hand an online order's reserved units to the customer collecting it: every line held here for
   * the order unless `lines` says otherwise. Works offline like any other op.
   */
  pickup(orderId: string, lines?: Array<{ ref: string; qty: number }>): TillOp {
    const held = this.store.heldOrders().find((o) => o.orderId === orderId);
    const wanted = lines ?? held?.lines.map((l) => ({ ref: l.sku, qty: l.qty }));
    if (!wanted || wanted.length === 0)
      throw new InvalidInputError(`no units are held here for order ${orderId}`);
    const op = this.record({ type: 'pickup', orderId, lines: this.skuLines(wanted) });
    // Handed over: no longer waiting here (the hub confirms when the op syncs).
    this.db.transaction(() =>
      this.store.applyReservations(
        (held?.lines ?? []).map((l) => ({
          orderId,
          sku: l.sku,
          qty: 0,
          status: 'fulfilled' as const,
          expiresAt: null,
        })),
        false,
      ),
    )();
    return op;
  }

  /** Online orders waiting to be collected at this store. */
  pickupOrders(): HeldOrder[] {
    return this.store.heldOrders();
  }

  applyReservations(push: ReservationPush): void {
    this.db.transaction(() => this.store.applyReservations(push.changes, push.snapshot))();
    this.emit('change');
  }

  // ── reads ────────────────────────────────────────────────────────────────────────────────

  product(ref: string): Product | undefined {
    return this.store.product(ref);
  }

  /** The cashier's view of a SKU's stock here (a zero row for a catalogue SKU never stocked). */
  stock(ref: string): StockRow | undefined {
    const p = this.store.product(ref);
    const sku = p?.sku ?? ref;
    return this.store.stock(sku) ?? (p ? emptyRow(this.requireEnrolment().locationId, sku) : undefined);
  }

  receipt(receiptId: string): Receipt | undefined {
    return this.store.receipt(receiptId);
  }

  status(): TillStatus {
    const { depth, oldestCreatedAt } = this.store.outboxStats();
    return {
      deviceId: this.store.meta('deviceId') ?? null,
      locationId: this.store.meta('locationId') ?? null,
      outboxDepth: depth,
      oldestUnsyncedAgeMs: oldestCreatedAt === null ? null : Math.max(0, this.now() - oldestCreatedAt),
      lastSyncAt: this.store.meta('lastSyncAt') ?? null,
      lastAckedSeq: this.store.meta('lastAckedSeq') ?? 0,
      nextSeq: this.store.meta('nextSeq') ?? 1,
      cursor: this.store.meta('cursor') ?? 0,
      rejected: this.store.rejected(),
      clockJump: this.clockJump,
    };
  }

  // ── what the sync agent calls ────────────────────────────────────────────────────────────

  /** Outbox entries to (re)send: oldest first, at most `limit`. */
  pendingBatch(limit: number): OutboxEntry[] {
    return this.pending.slice(0, limit);
  }

  /**
   * A hello (and the pages pulled right after it) in one transaction: rows newer than ours replace
   * our base; ops the hub already has stop counting in the view (they are in its rows now) but stay
   * in the outbox until a push confirms them as duplicates; never reuse a seq the hub has seen.
   */
  applyHello(hello: Hello, pulled: StockPush[], clockOffsetMs: number): void {
    this.db.transaction(() => {
      this.time.rebase(clockOffsetMs);
      this.store.setMeta('clockOffsetMs', clockOffsetMs);
      const acked = Math.max(this.store.meta('lastAckedSeq') ?? 0, hello.lastAckedSeq);
      this.store.setMeta('lastAckedSeq', acked);
      this.store.setMeta('nextSeq', Math.max(this.store.meta('nextSeq') ?? 1, hello.lastAckedSeq + 1));
      const changed = new Set<string>(this.pending.flatMap((e) => skusTouched(e.op, hello.locationId)));
      for (const page of pulled) for (const sku of this.applyRows(page)) changed.add(sku);
      this.refreshView(changed);
      this.store.setMeta('lastSyncAt', this.now());
    })();
    this.settleClock();
    this.clock.receive(hello.serverHlc);
    this.emit('change');
  }

  /** An ack: drop acknowledged ops, keep permanent rejections for the cashier, take the batch's rows. */
  applyAck(ack: Ack): void {
    this.db.transaction(() => {
      const changed = new Set<string>();
      const locationId = this.requireEnrolment().locationId;
      for (const r of ack.results) {
        if (r.status !== 'rejected' || r.code === 'seq_gap') continue;
        const entry = this.pending.find((e) => e.seq === r.seq);
        if (!entry) continue;
        this.store.addRejected(entry, r.code, r.reason, this.now());
        // A seq conflict is never acknowledged by the hub: drop it here, it is on the rejected list.
        if (r.code === 'seq_conflict') this.store.deleteOutbox(entry.seq);
      }
      const conflicted = new Set(
        ack.results.filter((r) => r.status === 'rejected' && r.code === 'seq_conflict').map((r) => r.seq),
      );
      for (const e of this.pending) {
        if (e.seq <= ack.lastAckedSeq || conflicted.has(e.seq))
          for (const s of skusTouched(e.op, locationId)) changed.add(s);
      }
      this.store.deleteOutboxUpTo(ack.lastAckedSeq);
      this.pending = this.pending.filter((e) => e.seq > ack.lastAckedSeq && !conflicted.has(e.seq));
      this.store.setMeta('lastAckedSeq', Math.max(this.store.meta('lastAckedSeq') ?? 0, ack.lastAckedSeq));
      for (const push of ack.stock) for (const sku of this.applyRows(push)) changed.add(sku);
      this.refreshView(changed);
      this.store.setMeta('lastSyncAt', this.now());
    })();
    this.settleClock();
    this.emit('change');
  }

  /** Rows pushed by the hub. Returns true when they reveal a gap (the agent then pulls). */
  applyStockPush(push: StockPush): boolean {
    let gap = false;
    this.db.transaction(() => {
      gap = Number(push.fromCursor) > (this.store.meta('cursor') ?? 0);
      this.refreshView(this.applyRows(push));
    })();
    this.emit('change');
    return gap;
  }

  /** Replace every row with the hub's snapshot (drift repair), then re-apply unacknowledged ops. */
  replaceStock(snapshot: StockPush[]): void {
    this.db.transaction(() => {
      this.store.clearStock();
      this.store.setMeta('cursor', 0);
      const skus = new Set<string>();
      for (const page of snapshot) for (const sku of this.applyRows(page)) skus.add(sku);
      for (const e of this.pending)
        for (const s of skusTouched(e.op, this.requireEnrolment().locationId)) skus.add(s);
      this.refreshView(skus);
    })();
    this.emit('change');
  }

  /**
   * Take over ops another data directory of this till never got acknowledged (a dead machine's
   * disk): each goes to the end of the outbox under a new seq, keeping its op id, clock and
   * receipt, so the hub recognises one it already applied and counts none twice. Ops already in
   * this outbox are skipped. Returns how many were taken.
   */
  adoptOps(ops: readonly TillOp[]): number {
    const { locationId } = this.requireEnrolment();
    const known = new Set(this.pending.map((e) => e.opId));
    const adopted: OutboxEntry[] = [];
    const before = this.pending;
    try {
      this.db.transaction(() => {
        let seq = this.store.meta('nextSeq') ?? 1;
        for (const op of ops) {
          if (known.has(op.opId)) continue;
          known.add(op.opId);
          const moved = { ...op, seq };
          this.store.appendOutbox(seq, moved, this.now());
          adopted.push({ seq, opId: op.opId, op: moved, createdAt: this.now() });
          seq += 1;
        }
        this.store.setMeta('nextSeq', seq);
        this.pending = [...before, ...adopted];
        this.refreshView(new Set(adopted.flatMap((e) => skusTouched(e.op, locationId))));
      })();
    } catch (err) {
      this.pending = before;
      throw err;
    }
    if (adopted.length > 0) this.emit('change');
    return adopted.length;
  }

  saveCatalog(products: Product[], fetchedAt: number): void {
    this.db.transaction(() => {
      this.store.upsertProducts(products);
      this.store.setMeta('catalogFetchedAt', fetchedAt);
    })();
    this.emit('change');
  }

  // ── internals ────────────────────────────────────────────────────────────────────────────

  /**
   * Take rows newer than ours into the base and move the cursor when the page continues from it.
   * Returns the SKUs whose base changed.
   */
  private applyRows(push: StockPush): string[] {
    const changed: string[] = [];
    const locationId = this.requireEnrolment().locationId;
    for (const row of push.rows) {
      if (row.locationId !== locationId) continue;
      const base = this.store.base(row.sku);
      if (base && base.version >= row.version) continue;
      this.store.putBase(row);
      changed.push(row.sku);
    }
    const cursor = this.store.meta('cursor') ?? 0;
    if (Number(push.fromCursor) <= cursor && Number(push.cursor) > cursor)
      this.store.setMeta('cursor', Number(push.cursor));
    return changed;
  }

  /** Recompute the view of these SKUs: base plus ops the hub has not yet acknowledged. */
  private refreshView(skus: Iterable<string>): void {
    const locationId = this.requireEnrolment().locationId;
    const acked = this.store.meta('lastAckedSeq') ?? 0;
    const ops = this.pending.filter((e) => e.seq > acked).map((e) => e.op);
    const wanted = new Set(skus);
    for (const row of rebase(wanted, locationId, (sku) => this.store.base(sku), ops)) {
      this.store.putView(row);
      wanted.delete(row.sku);
    }
    // Left over: the only thing in the view was an op that is gone now (rejected, say, for a SKU the
    // hub does not stock). Leaving the row would show its effect forever.
    for (const sku of wanted) this.store.deleteViewRow(sku);
  }

  /** Record an op: validate it, stamp it, write it, its side records and the new view atomically. */
  private record(
    body: DistributiveOmit<TillOpInput, 'opId' | 'seq' | 'hlc' | 'locationId'>,
    extra?: (op: TillOp) => void,
  ): TillOp {
    const { locationId } = this.requireEnrolment();
    let op: TillOp | undefined;
    this.db.transaction(() => {
      const seq = this.store.meta('nextSeq') ?? 1;
      const parsed = TillOp.safeParse({ ...body, opId: newOpId(), seq, hlc: this.clock.tick(), locationId });
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new InvalidInputError(
          `${issue?.path.join('.') ?? 'op'}: ${issue?.message ?? 'invalid'}`,
          parsed.error.issues,
        );
      }
      op = parsed.data;
      this.store.appendOutbox(seq, op, this.now());
      for (const row of applyLocally(op, locationId, (sku) => this.store.stock(sku))) this.store.putView(row);
      extra?.(op);
      this.store.setMeta('nextSeq', seq + 1);
      this.store.setMeta('lastHlc', op.hlc);
    })();
    this.pending.push({ seq: op!.seq, opId: op!.opId, op: op!, createdAt: this.now() });
    this.emit('op', op!);
    this.emit('change');
    return op!;
  }

  private productOrThrow(ref: string): Product {
    const p = this.store.product(ref);
    if (!p) throw new UnknownProductError(ref);
    return p;
  }

  private resolveLines(lines: Array<{ ref: string; qty: number }>): Array<{ product: Product; qty: number }> {
    this.requireEnrolment();
    if (lines.length === 0) throw new InvalidInputError('add at least one item');
    return lines.map((l) => {
      const parsed = LineRef.safeParse(l);
      if (!parsed.success)
        throw new InvalidInputError(`quantity must be a whole number of at least 1 (${l.ref})`);
      return { product: this.productOrThrow(l.ref), qty: parsed.data.qty };
    });
  }

  private skuLines(lines: Array<{ ref: string; qty: number }>): Array<{ sku: string; qty: number }> {
    return this.resolveLines(lines).map((l) => ({ sku: l.product.sku, qty: l.qty }));
  }

  /** A sale may take what is free, and even oversell free stock, but not units held for online orders. */
  private assertNotReserved(lines: Array<{ product: Product; qty: number }>): void {
    const wanted = new Map<string, number>();
    for (const l of lines) wanted.set(l.product.sku, (wanted.get(l.product.sku) ?? 0) + l.qty);
    const blocked = [...wanted].flatMap(([sku, qty]) => {
      const row = this.store.stock(sku);
      if (!row || row.reserved <= 0) return [];
      const free = Math.max(0, available(row));
      return qty > free ? [{ sku, requested: qty, available: free, reserved: row.reserved }] : [];
    });
    if (blocked.length > 0) throw new ReservedStockError(blocked);
  }

  private newReceiptId(): string {
    const { deviceId } = this.requireEnrolment();
    return `${deviceId}-${(this.store.meta('nextSeq') ?? 1).toString().padStart(6, '0')}`;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
