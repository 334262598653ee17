import { z } from 'zod';
import { Hlc } from './hlc.js';
import { LIMITS, PROTOCOL_VERSION } from './limits.js';
import { TillOp } from './operations.js';
import { DeviceId, LocationId, Seq, Sku } from './primitives.js';
import { StockRow } from './stock.js';

/*
 * Socket.IO sync messages. Event names are the keys of the maps at the bottom; every payload is
 * validated with these schemas on both sides.
 *
 *   till                                   hub
 *    │── connect {token, protocolVersion} ──▶│  refused: error {code: 'protocol_version' | 'unauthorized'}
 *    │◀──────────────── hello ───────────────│  server time, last acked seq, stock cursor
 *    │── push {ops (seq order, bounded)} ───▶│  one transaction per batch
 *    │◀──────────── ack (per-op results) ────│
 *    │◀──────── stock / reservations ────────│  as they commit, for the till's location
 *    │── pull {since cursor} ───────────────▶│  after being away
 *    │── heartbeat {outbox depth, …} ───────▶│  for HQ
 */

/**
 * What a till still holds of its acknowledged history: the hub compares it with its own acked seq
 * to notice it was restored from an older backup (optional: older tills do not send it).
 */
export const TillJournal = z.strictObject({
  /** The highest seq this till was ever acknowledged. */
  lastAckedSeq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** The till holds every op from here to lastAckedSeq (lastAckedSeq + 1: it holds none). */
  heldFrom: Seq,
});
export type TillJournal = z.infer<typeof TillJournal>;

/** Sent by the till in the Socket.IO handshake `auth` field. */
export const HandshakeAuth = z.strictObject({
  token: z.string().min(1).max(200),
  protocolVersion: z.number().int().positive(),
  appVersion: z.string().max(40).optional(),
  journal: TillJournal.optional(),
});
export type HandshakeAuth = z.infer<typeof HandshakeAuth>;

/** A stock-change cursor: opaque to the till, a decimal string on the wire. */
export const Cursor = z.string().regex(/^\d{1,20}$/);

export const Hello = z.strictObject({
  protocolVersion: z.literal(PROTOCOL_VERSION),
  serverTime: z.number().int(),
  serverHlc: Hlc,
  deviceId: DeviceId,
  locationId: LocationId,
  /** Highest contiguous seq the hub has durably applied (or rejected) for this device. */
  lastAckedSeq: z.number().int().nonnegative(),
  /** Latest stock change cursor for the till's location. */
  stockCursor: Cursor,
  /**
   * Only to a till whose journal is ahead of the hub (a restored hub): re-send the ops from
   * `resendFrom` on (same seq, same op id). Seqs `lostFrom`..`lostTo` the till no longer holds are
   * recorded as lost and `lastAckedSeq` already counts past them.
   */
  recovery: z
    .strictObject({
      incidentId: z.number().int().positive(),
      resendFrom: Seq,
      lostFrom: Seq.nullable(),
      lostTo: Seq.nullable(),
    })
    .optional(),
});
export type Hello = z.infer<typeof Hello>;

export const PushBatch = z.strictObject({
  ops: z.array(TillOp).min(1).max(LIMITS.maxOpsPerBatch),
});
export type PushBatch = z.infer<typeof PushBatch>;

/**
 * Why an op was refused. Permanent ones are remembered and acknowledged (the queue moves past
 * them); `seq_gap` is not: the till must first send the missing seqs.
 */
export const RejectCode = z.enum([
  'malformed',
  'unknown_sku',
  'unknown_location',
  'wrong_location',
  /** This seq was already used by a different op (a till whose data was wiped and restarted). */
  'seq_conflict',
  /** This op id was already used by another device or seq. */
  'op_id_reused',
  'seq_gap',
]);
export type RejectCode = z.infer<typeof RejectCode>;

export const OpResult = z.discriminatedUnion('status', [
  z.strictObject({ seq: Seq, opId: z.string().max(100), status: z.literal('applied') }),
  z.strictObject({ seq: Seq, opId: z.string().max(100), status: z.literal('duplicate') }),
  z.strictObject({
    seq: Seq,
    opId: z.string().max(100),
    status: z.literal('rejected'),
    code: RejectCode,
    reason: z.string().max(500),
  }),
]);
export type OpResult = z.infer<typeof OpResult>;

/**
 * Rows changed by one commit at the hub. The commit took the location's cursors
 * (fromCursor, cursor]; a till whose cursor equals fromCursor may advance to cursor, any other
 * till applies the rows (newer versions only) and pulls to fill the gap.
 */
export const StockPush = z.strictObject({
  fromCursor: Cursor,
  cursor: Cursor,
  rows: z.array(StockRow).max(LIMITS.maxRowsPerPage),
});
export type StockPush = z.infer<typeof StockPush>;

export const Ack = z.strictObject({
  /** Everything up to here is durable at the hub: the till may delete it from its outbox. */
  lastAckedSeq: z.number().int().nonnegative(),
  results: z.array(OpResult).max(LIMITS.maxOpsPerBatch),
  /**
   * The rows this batch changed at the till's location. The hub's broadcast skips the pushing
   * connection, so the till applies its own ops' effects and drops them from its outbox at once.
   */
  stock: z.array(StockPush),
});
export type Ack = z.infer<typeof Ack>;

export const Pull = z.strictObject({
  since: Cursor,
  limit: z.number().int().positive().max(LIMITS.maxRowsPerPage).default(LIMITS.maxRowsPerPage),
});
export type Pull = z.infer<typeof Pull>;

export const PullPage = z.strictObject({
  cursor: Cursor,
  rows: z.array(StockRow).max(LIMITS.maxRowsPerPage),
  /** More rows past `cursor`: pull again. */
  more: z.boolean(),
});
export type PullPage = z.infer<typeof PullPage>;

export const ReservationChange = z.strictObject({
  orderId: z.string().min(1).max(64),
  sku: Sku,
  /** Units now held at the till's location for this order line (0: released or fulfilled). */
  qty: z.number().int().nonnegative(),
  status: z.enum(['held', 'released', 'fulfilled']),
  expiresAt: z.number().int().nullable(),
});
export type ReservationChange = z.infer<typeof ReservationChange>;

/** Reservation changes at the till's location; a snapshot (sent after hello) replaces all the till holds. */
export const ReservationPush = z.strictObject({
  snapshot: z.boolean(),
  changes: z.array(ReservationChange).max(10_000),
});
export type ReservationPush = z.infer<typeof ReservationPush>;

export const Heartbeat = z.strictObject({
  outboxDepth: z.number().int().nonnegative(),
  /** Age of the oldest op not yet acknowledged, or null when the outbox is empty. */
  oldestUnsyncedAgeMs: z.number().int().nonnegative().nullable(),
  /** Till clock minus hub clock, as the till measured it. */
  clockOffsetMs: z.number().int(),
  appVersion: z.string().max(40).optional(),
});
export type Heartbeat = z.infer<typeof Heartbeat>;

export const ChecksumRequest = z.strictObject({});
/** The hub's checksum of the till's location, valid at `cursor`: compare only at the same cursor. */
export const ChecksumReply = z.strictObject({
  checksum: z.string(),
  rows: z.number().int().nonnegative(),
  cursor: Cursor,
});
export type ChecksumReply = z.infer<typeof ChecksumReply>;

export const ErrorCode = z.enum([
  'protocol_version',
  'unauthorized',
  'device_in_use',
  'malformed',
  'batch_too_large',
  /** Too many requests of one kind on this connection; `details.retryAfterMs` says when to retry. */
  'rate_limited',
  'internal',
  /** The hub's database is out of reach for now: nothing was applied or acked; retry later. */
  'unavailable',
  /**
   * A request event (push, pull, checksum) sent without an acknowledgement callback: the hub has
   * nowhere to answer, so it did nothing and says so in an `error` event (`details.event`).
   */
  'ack_required',
]);
export const ProtocolError = z.strictObject({
  code: ErrorCode,
  message: z.string(),
  details: z.unknown().optional(),
});
export type ProtocolError = z.infer<typeof ProtocolError>;

/** The details of a `rate_limited` error. */
export const RateLimitedDetails = z.object({ retryAfterMs: z.number().int().nonnegative() });

/** A request answered through a Socket.IO acknowledgement: either the reply or an error. */
export type Reply<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

/** The schema of a `Reply` carrying `value` (what an acknowledgement's one argument must match). */
export function replySchema<T>(value: z.ZodType<T>) {
  return z.discriminatedUnion('ok', [
    z.strictObject({ ok: z.literal(true), value }),
    z.strictObject({ ok: z.literal(false), error: ProtocolError }),
  ]);
}

/** The details of an `ack_required` error: the event that came without a callback. */
export const AckRequiredDetails = z.strictObject({ event: z.string() });

/*
 * Every event of the protocol, with its schemas: the one list the hub registers, the till speaks
 * and the AsyncAPI document (asyncapi.ts) is generated from.
 */

/** Till → hub events answered through an acknowledgement callback: payload, and the reply's value. */
export const REQUEST_EVENTS = {
  push: { payload: PushBatch, reply: Ack },
  pull: { payload: Pull, reply: PullPage },
  checksum: { payload: ChecksumRequest, reply: ChecksumReply },
} as const;
export type RequestEvent = keyof typeof REQUEST_EVENTS;

/** Till → hub events without a reply (a bad one is answered by an `error` event). */
export const NOTICE_EVENTS = { heartbeat: Heartbeat } as const;

/** Hub → till events. */
export const HUB_EVENTS = {
  hello: Hello,
  stock: StockPush,
  reservations: ReservationPush,
  error: ProtocolError,
} as const;

export const CLIENT_EVENT_NAMES = [
  ...(Object.keys(REQUEST_EVENTS) as RequestEvent[]),
  ...(Object.keys(NOTICE_EVENTS) as Array<keyof typeof NOTICE_EVENTS>),
];
export const HUB_EVENT_NAMES = Object.keys(HUB_EVENTS) as Array<keyof typeof HUB_EVENTS>;

/** Events the till emits: requests (each answered by an acknowledgement callback) and notices. */
export interface ClientToHubEvents {
  push: (batch: PushBatch, reply: (r: Reply<Ack>) => void) => void;
  pull: (req: z.input<typeof Pull>, reply: (r: Reply<PullPage>) => void) => void;
  checksum: (req: z.infer<typeof ChecksumRequest>, reply: (r: Reply<ChecksumReply>) => void) => void;
  heartbeat: (hb: Heartbeat) => void;
}

/** Events the hub emits. */
export interface HubToClientEvents {
  hello: (hello: Hello) => void;
  stock: (push: StockPush) => void;
  reservations: (push: ReservationPush) => void;
  error: (err: ProtocolError) => void;
}

// The typed interfaces and the lists above name the same events (a compile error otherwise).
type SameKeys<A, B> = [Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never] ? true : never;
export const EVENT_LISTS_MATCH: [
  SameKeys<ClientToHubEvents, typeof REQUEST_EVENTS & typeof NOTICE_EVENTS>,
  SameKeys<HubToClientEvents, typeof HUB_EVENTS>,
] = [true, true];
