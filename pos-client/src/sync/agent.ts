import { EventEmitter } from 'node:events';
import {
  Ack,
  ChecksumReply,
  type ClientToHubEvents,
  type ClockJump,
  type HandshakeAuth,
  Hello,
  type HubToClientEvents,
  handshakeRefusal,
  LIMITS,
  nextBatchLength,
  PROTOCOL_VERSION,
  ProtocolError,
  PullPage,
  RateLimitedDetails,
  type Reply,
  type RequestEvent,
  ReservationPush,
  replySchema,
  StockPush,
  upgradeHeaders,
} from '@tillsync/sync-protocol';
import { io, type Socket } from 'socket.io-client';
import type { z } from 'zod';
import type { Replica } from '../engine/replica.js';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import { fetchCatalog } from './hub-api.js';

/*
 * The sync agent: one connection to the hub, driven as a state machine.
 *
 *   stopped ──start()──▶ connecting ──hello──▶ catching-up ──▶ live ◀─┐
 *                          │  ▲                  (pull since cursor,   │ push outbox in seq order,
 *                          │  │ backoff (exp.     drift check,          │ one batch in flight;
 *                          │  │ + jitter)         catalogue)            │ apply acks and pushed rows
 *                          ▼  │                                        │
 *                        waiting ◀──── disconnect / timeout / hub error ┘
 *                          │
 *   refused ◀── bad token or protocol version (permanent: needs a person)
 *
 * A transient failure halts the queue (nothing is skipped or reordered) and reconnects after a
 * backoff; the outbox is only trimmed by acknowledgements, so a lost ack means a resend that the
 * hub answers as duplicate. The backoff grows with every failed connection and starts over only
 * on progress (an ack that moved) or a connection that stayed up STABLE_CONNECTION_MS: a hub that
 * answers hello and then refuses every push is retried ever more slowly, not in a hot loop.
 */

export type SyncState = 'stopped' | 'connecting' | 'catching-up' | 'live' | 'waiting' | 'refused';

export interface SyncAgentOptions {
  /** Most ops per push (batches are also bounded by the protocol's lines and bytes limits). */
  batchSize?: number;
  heartbeatMs?: number;
  /** How often a live till compares its rows' checksum with the hub's. */
  checksumMs?: number;
  /** Refresh the catalogue on connect when older than this. */
  catalogMaxAgeMs?: number;
  /** A request without reply after this long counts as a lost connection. */
  requestTimeoutMs?: number;
  backoff?: BackoffOptions;
  appVersion?: string;
  /** Where to log pushed and acknowledged batches (with their op ids); none by default. */
  logger?: SyncLogger;
}

/** The part of a pino logger the agent uses. */
export interface SyncLogger {
  info(fields: Record<string, unknown>, message: string): void;
}

export interface SyncStatus {
  state: SyncState;
  online: boolean;
  /** Why the agent is waiting or refused. */
  lastError: string | null;
  /** Drift repairs since start (rows differed from the hub's and were replaced). */
  driftRepairs: number;
  nextRetryAt: number | null;
}

type HubSocket = Socket<HubToClientEvents, ClientToHubEvents>;

/**
 * The replica's door, as the agent uses it (engine/replica.ts implements it): everything the agent
 * reads or writes on the till goes through these calls, never through the store.
 */
export type SyncReplica = Pick<
  Replica,
  | 'enrolment'
  | 'now'
  | 'journal'
  | 'catchUpFrom'
  | 'applyHello'
  | 'pendingBatch'
  | 'applyAck'
  | 'lastAckedSeq'
  | 'applyStockPush'
  | 'applyReservations'
  | 'cursor'
  | 'baseChecksum'
  | 'replaceStock'
  | 'catalogFetchedAt'
  | 'saveCatalog'
  | 'clockOffsetMs'
  | 'status'
  | 'on'
  | 'off'
>;

const PERMANENT = new Set(['unauthorized', 'protocol_version']);
/** A connection live this long without failing resets the backoff. */
const STABLE_CONNECTION_MS = 10_000;
/** A rate-limited request is retried after the hub's hint, this many times, before a reconnect. */
const RATE_LIMITED_RETRIES = 5;

export class SyncAgent extends EventEmitter<{ state: [SyncStatus]; synced: []; drift: [number] }> {
  private readonly opts: Required<Omit<SyncAgentOptions, 'logger'>>;
  private readonly log: SyncLogger | undefined;
  private socket: HubSocket | null = null;
  private current: SyncState = 'stopped';
  private lastError: string | null = null;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private nextRetryAt: number | null = null;
  private timers: NodeJS.Timeout[] = [];
  private pushing = false;
  /** The current connection's hello and catch-up pull are applied. */
  private caughtUp = false;
  private pulling: Promise<void> | null = null;
  private driftRepairs = 0;
  private readonly onOp = () => void this.pushLoop();
  private readonly onClockJump = (jump: ClockJump) =>
    this.log?.info(
      { clockJumpMs: jump.byMs, at: jump.at },
      'till clock was set: stamping by the monotonic clock',
    );

  constructor(
    private readonly replica: SyncReplica,
    options: SyncAgentOptions = {},
  ) {
    super();
    this.opts = {
      batchSize: Math.min(options.batchSize ?? LIMITS.maxOpsPerBatch, LIMITS.maxOpsPerBatch),
      heartbeatMs: options.heartbeatMs ?? 10_000,
      checksumMs: options.checksumMs ?? 60_000,
      catalogMaxAgeMs: options.catalogMaxAgeMs ?? 10 * 60_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      appVersion: options.appVersion ?? '0.1.0',
    };
    this.log = options.logger;
  }

  get state(): SyncState {
    return this.current;
  }

  status(): SyncStatus {
    return {
      state: this.current,
      online: this.current === 'live' || this.current === 'catching-up',
      lastError: this.lastError,
      driftRepairs: this.driftRepairs,
      nextRetryAt: this.nextRetryAt,
    };
  }

  /** Start syncing (idempotent). */
  start(): void {
    if (this.current !== 'stopped' && this.current !== 'refused') return;
    this.replica.on('op', this.onOp);
    this.replica.on('clockJump', this.onClockJump);
    this.connect();
  }

  /** Stop syncing and close the connection (idempotent). Unsent ops stay in the outbox. */
  async stop(): Promise<void> {
    this.replica.off('op', this.onOp);
    this.replica.off('clockJump', this.onClockJump);
    this.teardown();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.nextRetryAt = null;
    this.setState('stopped');
  }

  /** Resolves once the outbox is empty and the agent is live (tests and the CLI's `sync --once`). */
  async drained(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(this.current === 'live' && this.replica.status().outboxDepth === 0 && !this.pushing)) {
      if (Date.now() > deadline)
        throw new Error(`outbox not drained within ${timeoutMs} ms (state ${this.current})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  // ── connection ───────────────────────────────────────────────────────────────────────────

  private connect(): void {
    const enrolment = this.replica.enrolment;
    if (!enrolment) {
      this.lastError = 'not enrolled';
      this.setState('refused');
      return;
    }
    this.teardown();
    this.setState('connecting');
    const socket: HubSocket = io(enrolment.hubUrl, {
      path: '/sync',
      transports: ['websocket'],
      reconnection: false,
      timeout: this.opts.requestTimeoutMs,
      // The token also on the upgrade request: the hub checks it before accepting the WebSocket.
      extraHeaders: upgradeHeaders(enrolment.token),
      auth: {
        token: enrolment.token,
        protocolVersion: PROTOCOL_VERSION,
        appVersion: this.opts.appVersion,
        journal: this.replica.journal(),
      } satisfies HandshakeAuth,
    });
    this.socket = socket;

    socket.on('connect_error', (err: Error & { data?: unknown; description?: unknown }) => {
      const refusal = handshakeRefusal(err);
      if (refusal && PERMANENT.has(refusal.code)) {
        this.lastError = refusal.message;
        this.teardown();
        this.setState('refused');
        return;
      }
      this.retryLater(refusal ? refusal.message : `hub unreachable: ${err.message}`);
    });
    // What the hub said last on this connection: a hub shutting down says so before it disconnects.
    let hubSaid: string | null = null;
    socket.on('disconnect', (reason) => {
      if (this.socket !== socket) return;
      this.retryLater(
        reason === 'io server disconnect' && hubSaid
          ? `the hub closed the connection: ${hubSaid}`
          : `disconnected: ${reason}`,
      );
    });
    socket.on('hello', (payload) => {
      const hello = Hello.safeParse(payload);
      if (!hello.success) return this.retryLater('hub sent a malformed hello');
      void this.catchUp(socket, hello.data, this.replica.now()).catch((err: unknown) =>
        this.retryLater(errorText(err)),
      );
    });
    socket.on('stock', (payload) => {
      const push = StockPush.safeParse(payload);
      // Before the hello is applied the pull in progress covers these rows.
      if (!push.success || !this.caughtUp) return;
      if (this.replica.applyStockPush(push.data)) void this.pullMissing(socket);
    });
    socket.on('reservations', (payload) => {
      const push = ReservationPush.safeParse(payload);
      if (push.success) this.replica.applyReservations(push.data);
    });
    socket.on('error', (payload) => {
      const e = ProtocolError.safeParse(payload);
      this.lastError = e.success ? e.data.message : 'hub reported an error';
      hubSaid = this.lastError;
    });
  }

  /** After hello: pull what we missed, apply it with the hello atomically, then go live. */
  private async catchUp(socket: HubSocket, hello: Hello, receivedAt: number): Promise<void> {
    this.setState('catching-up');
    const pages = await this.pullAll(socket, this.replica.catchUpFrom(hello));
    if (this.socket !== socket) return;
    this.replica.applyHello(hello, pages, receivedAt - hello.serverTime);
    if (hello.recovery) this.log?.info({ recovery: hello.recovery }, 'hub is behind this till: re-sending');
    this.caughtUp = true;
    await this.refreshCatalog();
    await this.checkDrift(socket);
    if (this.socket !== socket) return;
    this.lastError = null;
    this.setState('live');
    this.startTimers(socket);
    // The backoff starts over only once this connection proves itself (an ack that moved, or a
    // while without failing): a hub that refuses every push must not be retried at once each time.
    this.timers.push(setTimeout(() => (this.attempt = 0), STABLE_CONNECTION_MS));
    await this.pushLoop();
  }

  private retryLater(reason: string): void {
    if (this.current === 'stopped' || this.current === 'refused') return;
    this.lastError = reason;
    this.teardown();
    // Several failure signals of one connection (disconnect, a failed request) mean one retry.
    if (this.retryTimer) return;
    const delay = backoffDelay(this.attempt++, this.opts.backoff);
    this.nextRetryAt = Date.now() + delay;
    this.setState('waiting');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.nextRetryAt = null;
      this.connect();
    }, delay);
  }

  private teardown(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const socket = this.socket;
    this.socket = null;
    this.pushing = false;
    this.caughtUp = false;
    socket?.removeAllListeners();
    socket?.disconnect();
  }

  private startTimers(socket: HubSocket): void {
    const beat = () => {
      const s = this.replica.status();
      socket.emit('heartbeat', {
        outboxDepth: s.outboxDepth,
        oldestUnsyncedAgeMs: s.oldestUnsyncedAgeMs,
        clockOffsetMs: this.replica.clockOffsetMs(),
        appVersion: this.opts.appVersion,
      });
    };
    beat();
    this.timers.push(setInterval(beat, this.opts.heartbeatMs));
    this.timers.push(
      setInterval(
        () => void this.checkDrift(socket).catch((e: unknown) => this.retryLater(errorText(e))),
        this.opts.checksumMs,
      ),
    );
  }

  // ── the push loop ────────────────────────────────────────────────────────────────────────

  private async pushLoop(): Promise<void> {
    if (this.pushing) return;
    this.pushing = true;
    try {
      while (this.current === 'live' && this.socket) {
        const socket = this.socket;
        const pending = this.replica.pendingBatch(this.opts.batchSize);
        if (pending.length === 0) break;
        const batch = pending.slice(0, nextBatchLength(pending.map((e) => e.op)));
        const range = { seqFrom: batch[0]!.seq, seqTo: batch[batch.length - 1]!.seq };
        this.log?.info({ ...range, opIds: batch.map((e) => e.opId) }, 'batch pushed');
        const reply = await this.request(socket, 'push', { ops: batch.map((e) => e.op) }, Ack);
        if (this.socket !== socket) return;
        const before = this.replica.lastAckedSeq();
        this.replica.applyAck(reply);
        if (reply.lastAckedSeq > before) this.attempt = 0;
        this.log?.info({ ...range, ...ackSummary(reply) }, 'batch acked');
        if (batch.length > 0 && reply.results.every((r) => r.status === 'rejected' && r.code === 'seq_gap')) {
          // The hub is missing seqs this till no longer has: nothing more can be sent.
          throw new Error(`the hub expects seq ${reply.lastAckedSeq + 1}, which this till no longer holds`);
        }
        this.emit('synced');
      }
    } catch (err) {
      this.retryLater(errorText(err));
    } finally {
      this.pushing = false;
    }
  }

  // ── pulls and drift ──────────────────────────────────────────────────────────────────────

  private async pullAll(socket: HubSocket, since: number): Promise<StockPush[]> {
    const pages: StockPush[] = [];
    let cursor = String(since);
    for (;;) {
      const page = await this.request(
        socket,
        'pull',
        { since: cursor, limit: LIMITS.maxRowsPerPage },
        PullPage,
      );
      pages.push({ fromCursor: cursor, cursor: page.cursor, rows: page.rows });
      cursor = page.cursor;
      if (!page.more) return pages;
    }
  }

  /** A pushed page showed a gap: fetch everything after our cursor (one pull at a time). */
  private pullMissing(socket: HubSocket): Promise<void> {
    this.pulling ??= (async () => {
      try {
        const pages = await this.pullAll(socket, this.replica.cursor());
        for (const page of pages) this.replica.applyStockPush(page);
      } catch (err) {
        this.retryLater(errorText(err));
      } finally {
        this.pulling = null;
      }
    })();
    return this.pulling;
  }

  /**
   * Compare our rows with the hub's at the same cursor; on a mismatch replace them with a full
   * snapshot and re-apply unacknowledged ops. Returns true when a repair happened.
   */
  async checkDrift(socket: HubSocket | null = this.socket): Promise<boolean> {
    if (!socket || !this.caughtUp) return false;
    const reply = await this.request(socket, 'checksum', {}, ChecksumReply);
    if (Number(reply.cursor) !== this.replica.cursor()) {
      // Not comparable yet: catch up first; the next check compares.
      await this.pullMissing(socket);
      return false;
    }
    if (reply.checksum === this.replica.baseChecksum()) return false;
    const snapshot = await this.pullAll(socket, 0);
    this.replica.replaceStock(snapshot);
    this.driftRepairs += 1;
    this.emit('drift', reply.rows);
    return true;
  }

  private async refreshCatalog(): Promise<void> {
    const e = this.replica.enrolment;
    const fetchedAt = this.replica.catalogFetchedAt();
    if (!e || Date.now() - fetchedAt < this.opts.catalogMaxAgeMs) return;
    try {
      this.replica.saveCatalog(await fetchCatalog(e.hubUrl, e.token), Date.now());
    } catch (err) {
      // The till keeps selling from the catalogue it has; the next connect retries.
      this.lastError = `catalogue not refreshed: ${errorText(err)}`;
    }
  }

  /**
   * One request with an acknowledgement: times out, validates the reply, unwraps hub errors, and
   * waits out a `rate_limited` answer as the hub says before asking again.
   */
  private async request<E extends RequestEvent, T>(
    socket: HubSocket,
    event: E,
    payload: Parameters<ClientToHubEvents[E]>[0],
    schema: z.ZodType<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const raw: unknown = await (
        socket.timeout(this.opts.requestTimeoutMs) as unknown as RawEmitter
      ).emitWithAck(event, payload);
      const reply = replySchema(schema).safeParse(raw);
      if (!reply.success) throw new Error(`hub sent a malformed ${event} reply`);
      const value = reply.data as Reply<T>;
      if (value.ok) return value.value;
      const hint = RateLimitedDetails.safeParse(value.error.details);
      if (value.error.code !== 'rate_limited' || !hint.success || attempt >= RATE_LIMITED_RETRIES)
        throw new Error(`hub refused ${event}: ${value.error.message}`);
      await new Promise((r) => setTimeout(r, Math.min(hint.data.retryAfterMs, this.opts.requestTimeoutMs)));
      if (this.socket !== socket) throw new Error(`disconnected while ${event} waited out a rate limit`);
    }
  }

  private setState(state: SyncState): void {
    this.current = state;
    this.emit('state', this.status());
  }
}

interface RawEmitter {
  emitWithAck(event: string, payload: unknown): Promise<unknown>;
}

/** An ack for the log: op ids by result, rejections with their reason. */
function ackSummary(ack: Ack) {
  const ids = (status: Ack['results'][number]['status']) =>
    ack.results.filter((r) => r.status === status).map((r) => r.opId);
  return {
    lastAckedSeq: ack.lastAckedSeq,
    applied: ids('applied'),
    duplicate: ids('duplicate'),
    rejected: ack.results.flatMap((r) =>
      r.status === 'rejected' ? [{ opId: r.opId, seq: r.seq, code: r.code, reason: r.reason }] : [],
    ),
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
