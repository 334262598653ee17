import { EventEmitter } from 'node:events';
import {
  type Ack,
  type ClockJump,
  DEFAULT_MAX_CLOCK_JUMP_MS,
  type Hello,
  type Hlc,
  HybridClock,
  newOpId,
  parseHlc,
  type ReservationPush,
  type StockPush,
  stockChecksum,
  type TillJournal,
  TillOp,
  type TillOpInput,
  TrustedClock,
} from '@tillsync/sync-protocol';
import type { TillDb } from './db.js';
import { InvalidInputError, NotEnrolledError } from './errors.js';
import { applyLocally, rebase, skusTouched } from './stock-view.js';
import type { Meta, OutboxEntry, Product, RejectedOp, TillStore } from './store.js';
import { openToken, parseSealed, plainVault, sealToken, type TokenVault } from './token-vault.js';

export interface JournalRetention {
  maxAgeMs: number;
  maxOps: number;
}

export const DEFAULT_JOURNAL: JournalRetention = { maxAgeMs: 30 * 24 * 3_600_000, maxOps: 100_000 };

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

/** An op as the cashier hands it over: the replica stamps its id, seq, clock and location. */
export type OpBody = DistributiveOmit<TillOpInput, 'opId' | 'seq' | 'hlc' | 'locationId'>;

export interface ReplicaOptions {
  now: () => number;
  monotonic: () => number;
  vault: TokenVault;
  retention: JournalRetention;
}

/**
 * The till's local replica of its location: the hub's rows (stock_base) up to a cursor, the ops
 * the hub has not acknowledged (outbox, mirrored in `pending`), the cashier's view (stock = base +
 * pending through the reducer), the journal of acknowledged ops, rejections, catalogue,
 * reservations, enrolment and the clock. It is the ONE writer of all those tables; the cashier
 * (engine/cashier.ts) writes only receipts, inside `record`'s transaction.
 *
 * The sync agent drives it (SyncReplica in sync/agent.ts names what it may call); the cashier
 * records ops into it. Emits 'change' after every local or synced change (the UI refreshes on it),
 * 'op' when a new op waits in the outbox (the agent pushes on it), 'clockJump' when the wall clock
 * was seen set.
 */
export class Replica extends EventEmitter<{ change: []; op: [TillOp]; clockJump: [ClockJump] }> {
  readonly now: () => number;
  /** Hub time, as this till reckons it: what its ops are stamped with. */
  private readonly time: TrustedClock;
  private lastClockJump: ClockJump | null = null;
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
  private readonly retention: JournalRetention;

  constructor(
    private readonly db: TillDb,
    private readonly store: TillStore,
    options: ReplicaOptions,
  ) {
    super();
    this.now = options.now;
    this.vault = options.vault;
    this.retention = options.retention;
    this.time = new TrustedClock({
      wall: options.now,
      monotonic: options.monotonic,
      offsetMs: this.store.meta('clockOffsetMs') ?? 0,
      onJump: (jump) => this.clockJumped(jump),
    });
    this.clock = this.makeClock();
    this.pending = this.store.outboxAfter(0, Number.MAX_SAFE_INTEGER);
    this.upgradeTokenSeal();
  }

  // ── identity ─────────────────────────────────────────────────────────────────────────────

  get enrolment(): Readonly<Enrolment> | null {
    if (this.enrolmentCache === undefined) this.enrolmentCache = this.readEnrolment();
    return this.enrolmentCache;
  }

  requireEnrolment(): Readonly<Enrolment> {
    const e = this.enrolment;
    if (!e) throw new NotEnrolledError();
    return e;
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

  // ── the clock ────────────────────────────────────────────────────────────────────────────

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
    this.lastClockJump = jump;
    this.store.setMeta('clockOffsetMs', this.time.offsetMs);
    this.emit('clockJump', jump);
  }

  /** This till's clock minus the hub's, as last measured (the heartbeat reports it). */
  clockOffsetMs(): number {
    return this.store.meta('clockOffsetMs') ?? 0;
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

  // ── the cashier's door in: recording an op ───────────────────────────────────────────────

  /**
   * Record an op: validate it, stamp it, and write it to the outbox with the new view, its local
   * consequences and the caller's side records (`extra`: the receipt) in ONE transaction, so an
   * action reported done survives a crash (invariant 4).
   */
  record(body: OpBody, extra?: (op: TillOp) => void): TillOp {
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
      // Handed over: no longer waiting here (the hub confirms when the op syncs).
      if (op.type === 'pickup') this.handOver(op.orderId);
      extra?.(op);
      this.store.setMeta('nextSeq', seq + 1);
      this.store.setMeta('lastHlc', op.hlc);
    })();
    this.pending.push({ seq: op!.seq, opId: op!.opId, op: op!, createdAt: this.now() });
    this.emit('op', op!);
    this.emit('change');
    return op!;
  }

  /** The seq the next op takes (receipt ids are numbered by it). */
  nextSeq(): number {
    return this.store.meta('nextSeq') ?? 1;
  }

  private handOver(orderId: string): void {
    const held = this.store.heldOrders().find((o) => o.orderId === orderId);
    this.store.applyReservations(
      (held?.lines ?? []).map((l) => ({
        orderId,
        sku: l.sku,
        qty: 0,
        status: 'fulfilled' as const,
        expiresAt: null,
      })),
      false,
    );
  }

  status(): TillStatus {
    const { depth, oldestCreatedAt } = this.store.outboxStats();
    return {
      deviceId: this.store.meta('deviceId') ?? null,
      locationId: this.store.meta('locationId') ?? null,
      outboxDepth: depth,
      oldestUnsyncedAgeMs: oldestCreatedAt === null ? null : Math.max(0, this.now() - oldestCreatedAt),
      lastSyncAt: this.store.meta('lastSyncAt') ?? null,
      lastAckedSeq: this.lastAckedSeq(),
      nextSeq: this.nextSeq(),
      cursor: this.cursor(),
      rejected: this.store.rejected(),
      clockJump: this.lastClockJump,
    };
  }

  // ── the sync agent's door ────────────────────────────────────────────────────────────────

  /** Highest seq the hub acknowledged. */
  lastAckedSeq(): number {
    return this.store.meta('lastAckedSeq') ?? 0;
  }

  /** The hub's stock cursor the base is complete up to. */
  cursor(): number {
    return this.store.meta('cursor') ?? 0;
  }

  /** The checksum of the hub's rows as this till holds them, to compare with the hub's (drift). */
  baseChecksum(): string {
    return stockChecksum(this.store.allBase());
  }

  /** When the catalogue was last fetched (0: never). */
  catalogFetchedAt(): number {
    return this.store.meta('catalogFetchedAt') ?? 0;
  }

  /** What this till still holds of its acknowledged ops, for the handshake. */
  journal(): TillJournal {
    const lastAckedSeq = this.lastAckedSeq();
    return { lastAckedSeq, heldFrom: this.store.journalHeldFrom(lastAckedSeq) };
  }

  /** Where the catch-up pull after `hello` starts: from scratch when the hub is behind us (restored). */
  catchUpFrom(hello: Hello): number {
    const cursor = this.cursor();
    return Number(hello.stockCursor) < cursor ? 0 : cursor;
  }

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
      const changed = new Set<string>();
      if (hello.recovery) {
        // The hub lost what it had acknowledged from resendFrom on: those ops are pending again.
        this.store.requeueJournal(hello.recovery.resendFrom);
        this.pending = this.store.outboxAfter(0, Number.MAX_SAFE_INTEGER);
        this.store.setMeta('lastAckedSeq', hello.lastAckedSeq);
      } else {
        this.store.setMeta('lastAckedSeq', Math.max(this.lastAckedSeq(), hello.lastAckedSeq));
      }
      this.store.setMeta('nextSeq', Math.max(this.nextSeq(), hello.lastAckedSeq + 1));
      if (this.catchUpFrom(hello) === 0 && this.cursor() > 0) {
        // Rows and versions went back with the hub's restore: ours are not comparable any more,
        // the pull (from scratch) replaces them.
        for (const row of this.store.allBase()) changed.add(row.sku);
        this.store.clearStock();
        this.store.setMeta('cursor', 0);
      }
      for (const e of this.pending) for (const sku of skusTouched(e.op, hello.locationId)) changed.add(sku);
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
      this.store.journalAcked(ack.lastAckedSeq, this.now());
      this.store.purgeJournal(this.now() - this.retention.maxAgeMs, this.retention.maxOps);
      this.store.deleteOutboxUpTo(ack.lastAckedSeq);
      this.pending = this.pending.filter((e) => e.seq > ack.lastAckedSeq && !conflicted.has(e.seq));
      this.store.setMeta('lastAckedSeq', Math.max(this.lastAckedSeq(), ack.lastAckedSeq));
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
      gap = Number(push.fromCursor) > this.cursor();
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

  applyReservations(push: ReservationPush): void {
    this.db.transaction(() => this.store.applyReservations(push.changes, push.snapshot))();
    this.emit('change');
  }

  saveCatalog(products: Product[], fetchedAt: number): void {
    this.db.transaction(() => {
      this.store.upsertProducts(products);
      this.store.setMeta('catalogFetchedAt', fetchedAt);
    })();
    this.emit('change');
  }

  // ── recovery (till recover): ops moving between two data directories of one till ────────

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
        let seq = this.nextSeq();
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

  /**
   * Forget these outbox entries without an ack: another data directory adopted them (the old disk
   * of a recovered till), so this one must never send them again.
   */
  handedOff(entries: readonly OutboxEntry[]): void {
    const seqs = new Set(entries.map((e) => e.seq));
    this.db.transaction(() => {
      for (const seq of seqs) this.store.deleteOutbox(seq);
      this.pending = this.pending.filter((e) => !seqs.has(e.seq));
      this.refreshView(
        new Set(entries.flatMap((e) => skusTouched(e.op, this.requireEnrolment().locationId))),
      );
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
    const cursor = this.cursor();
    if (Number(push.fromCursor) <= cursor && Number(push.cursor) > cursor)
      this.store.setMeta('cursor', Number(push.cursor));
    return changed;
  }

  /** Recompute the view of these SKUs: base plus ops the hub has not yet acknowledged. */
  private refreshView(skus: Iterable<string>): void {
    const locationId = this.requireEnrolment().locationId;
    const acked = this.lastAckedSeq();
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
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
