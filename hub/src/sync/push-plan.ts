import { LIMITS, type OpResult, type RejectCode, TillOp } from '@tillsync/sync-protocol';
import { z } from 'zod';

/*
 * Deciding a till's push batch, without I/O: what the hub read (the device's acked seq, its
 * remembered answers, which SKUs, locations and op ids exist) goes in; every op's answer, the ops
 * to apply and what to write come out. sync/push.ts reads, calls this, and writes.
 *
 *   seq <= last acked   → resend: the remembered answer (duplicate, or the same rejection)
 *   seq == last acked+1 → validate; apply, or reject permanently (recorded, dead-lettered, acked)
 *   seq >  last acked+1 → seq_gap: not recorded, not acked; the till must send the missing seqs
 *
 * Pushes settled in one group commit are planned one after another with one `claimed` set: an op
 * id taken by an earlier member is taken for the later ones, exactly as if the earlier had committed.
 */

/** Just enough of an op to answer for it; the full shape is checked op by op. */
const Envelope = z.object({
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  opId: z.unknown(),
});

export const PushEnvelope = z.object({
  ops: z.array(z.unknown()).min(1).max(LIMITS.maxOpsPerBatch),
});

export class MalformedBatchError extends Error {}

export interface PushingDevice {
  deviceId: string;
  locationId: string;
}

/** One op of a batch, parsed once: the checks and the ledger all take this. */
export interface PushedOp {
  seq: number;
  /** The op id as sent, made storable; null when it is no string. */
  opId: string | null;
  raw: unknown;
  parsed: ReturnType<typeof TillOp.safeParse>;
}

/** A batch's ops, parsed; a batch whose ops do not all carry a valid seq is refused whole. */
export function parsePushedOps(rawOps: readonly unknown[]): PushedOp[] {
  return rawOps.map((raw, i) => {
    const env = Envelope.safeParse(raw);
    if (!env.success) throw new MalformedBatchError(`ops[${i}] has no valid seq`);
    const opId = typeof env.data.opId === 'string' ? storable(env.data.opId.slice(0, 100)) : null;
    return { seq: env.data.seq, opId, raw, parsed: TillOp.safeParse(raw) };
  });
}

/** The well-formed ops of a batch: what the reads look up. */
export function candidatesOf(ops: readonly PushedOp[]): TillOp[] {
  return ops.flatMap((e) => (e.parsed.success ? [e.parsed.data] : []));
}

export interface Remembered {
  opId: string | null;
  status: 'applied' | 'rejected';
  code: RejectCode | null;
  reason: string | null;
}

export interface Known {
  skus: ReadonlySet<string>;
  locations: ReadonlySet<string>;
  /** Op ids already recorded at the hub (remembered for a till op, or in the ledger). */
  usedOpIds: ReadonlySet<string>;
  /** Op ids in the ledger: who applied them, as what, stamped when. */
  ledgered: ReadonlyMap<string, { deviceId: string | null; opType: string; hlc: string }>;
}

/** What the hub read for one device's push. */
export interface PushFacts {
  device: PushingDevice;
  ops: readonly PushedOp[];
  ackedSeq: number;
  /** Remembered answers of the batch's seqs at or below ackedSeq. */
  remembered: ReadonlyMap<number, Remembered>;
  known: Known;
}

/** One row of applied_ops: a seq's answer, remembered for resends. */
export interface Answer {
  seq: number;
  /** Held in the unique applied_ops.op_id (see claimsOpId); null when the op holds no id. */
  opId: string | null;
  /** The id as sent, for answering a resend. */
  sentOpId: string | null;
  status: 'applied' | 'rejected';
  code: RejectCode | null;
  reason: string | null;
}

export interface DeadLetterEntry {
  seq: number;
  opId: string | null;
  raw: unknown;
  code: RejectCode;
  reason: string;
}

export interface PushPlan {
  device: PushingDevice;
  lastAckedSeq: number;
  results: OpResult[];
  /** Ops to apply through the ledger, in seq order. */
  accepted: TillOp[];
  answers: Answer[];
  deadLetters: DeadLetterEntry[];
  activity: { applied: readonly TillOp[]; duplicates: number; rejected: number };
}

/** Decide one push. `claimed`: op ids taken by earlier pushes of the same group; updated. */
export function planPush(facts: PushFacts, claimed: Set<string> = new Set()): PushPlan {
  const { device, known } = facts;
  let acked = facts.ackedSeq;
  const remembered = new Map(facts.remembered);
  const results: OpResult[] = [];
  const accepted: TillOp[] = [];
  const answers: Answer[] = [];
  const deadLetters: DeadLetterEntry[] = [];

  for (const env of facts.ops) {
    const opId = env.opId ?? '';
    if (env.seq <= acked) {
      const prior = remembered.get(env.seq);
      if (prior && prior.opId !== env.opId) {
        results.push(
          reject(env.seq, opId, 'seq_conflict', `seq ${env.seq} was already used by op ${prior.opId}`),
        );
      } else if (prior?.status === 'rejected') {
        results.push(reject(env.seq, opId, prior.code ?? 'malformed', prior.reason ?? ''));
      } else {
        results.push({ seq: env.seq, opId, status: 'duplicate' });
      }
      continue;
    }
    if (env.seq !== acked + 1) {
      results.push(reject(env.seq, opId, 'seq_gap', `expected seq ${acked + 1} before seq ${env.seq}`));
      continue;
    }
    acked = env.seq;
    if (env.parsed.success && isResent(env.parsed.data, device, known)) {
      // Its seq is used up; its op id stays with the seq that applied it (kept in sent_op_id only).
      answers.push(answer(env.seq, null, env.opId, null));
      remembered.set(env.seq, { opId: env.opId, status: 'applied', code: null, reason: null });
      results.push({ seq: env.seq, opId, status: 'duplicate' });
      continue;
    }
    const found = validateTillOp(env.raw, device, known, claimed, env.parsed);
    const refusal = found && { code: found.code, reason: storable(found.reason).slice(0, 500) };
    // A well-formed rejected op holds its id too (applied_ops.op_id), so no later op may take it.
    const claims = env.opId !== null && claimsOpId(refusal?.code ?? null);
    if (claims) claimed.add(env.opId!);
    if (refusal) {
      answers.push(answer(env.seq, claims ? env.opId : null, env.opId, refusal));
      deadLetters.push({ seq: env.seq, opId: env.opId, raw: env.raw, ...refusal });
      results.push(reject(env.seq, opId, refusal.code, refusal.reason));
      remembered.set(env.seq, { opId: env.opId, status: 'rejected', ...refusal });
      continue;
    }
    const op = env.parsed.data!;
    accepted.push(op);
    answers.push(answer(env.seq, op.opId, op.opId, null));
    remembered.set(env.seq, { opId: op.opId, status: 'applied', code: null, reason: null });
    results.push({ seq: env.seq, opId: op.opId, status: 'applied' });
  }
  return {
    device,
    lastAckedSeq: acked,
    results,
    accepted,
    answers,
    deadLetters,
    activity: {
      applied: accepted,
      duplicates: results.filter((r) => r.status === 'duplicate').length,
      rejected: deadLetters.length,
    },
  };
}

/** Plan a group's pushes in order, each seeing the op ids the earlier ones take. */
export function planPushes(group: readonly PushFacts[]): PushPlan[] {
  const claimed = new Set<string>();
  return group.map((facts) => planPush(facts, claimed));
}

/**
 * An op this device already had applied, sent again under a new seq: a replacement till passing
 * on a dead machine's unacknowledged ops (`till recover`). Same device, type and clock stamp in the
 * ledger make it the same op, so it is answered as a duplicate, not reused.
 */
function isResent(op: TillOp, device: PushingDevice, known: Known): boolean {
  const m = known.ledgered.get(op.opId);
  return m !== undefined && m.deviceId === device.deviceId && m.opType === op.type && m.hlc === op.hlc;
}

function answer(
  seq: number,
  opId: string | null,
  sentOpId: string | null,
  refusal: { code: RejectCode; reason: string } | null,
): Answer {
  return {
    seq,
    opId,
    sentOpId,
    status: refusal ? 'rejected' : 'applied',
    code: refusal?.code ?? null,
    reason: refusal?.reason ?? null,
  };
}

function reject(seq: number, opId: string, code: RejectCode, reason: string): OpResult {
  return { seq, opId, status: 'rejected', code, reason };
}

/**
 * The push path's checks of one op: null when it may be applied, else why not. `parsed`: the
 * caller's `TillOp.safeParse(raw)`, when it has it already.
 */
export function validateTillOp(
  raw: unknown,
  device: PushingDevice,
  known: Known,
  claimed: ReadonlySet<string> = new Set(),
  parsed: ReturnType<typeof TillOp.safeParse> = TillOp.safeParse(raw),
): { code: RejectCode; reason: string } | null {
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { code: 'malformed', reason: `${issue?.path.join('.') || 'op'}: ${issue?.message ?? 'invalid'}` };
  }
  const op = parsed.data;
  const text = unstorableText(op);
  if (text !== null) {
    return { code: 'malformed', reason: `${text}: text may not hold NUL or unpaired surrogate characters` };
  }
  // First: any other refusal would remember the id (applied_ops.op_id is unique) and fail the batch.
  if (known.usedOpIds.has(op.opId) || claimed.has(op.opId)) {
    return { code: 'op_id_reused', reason: `op id ${op.opId} was already used` };
  }
  if (op.locationId !== device.locationId) {
    return {
      code: 'wrong_location',
      reason: `this till belongs to ${device.locationId} and may not change stock at ${op.locationId}`,
    };
  }
  const unknownSku = op.lines.find((l) => !known.skus.has(l.sku));
  if (unknownSku) return { code: 'unknown_sku', reason: `unknown SKU ${unknownSku.sku}` };
  const other =
    op.type === 'transfer_out' ? op.toLocationId : op.type === 'transfer_in' ? op.fromLocationId : null;
  if (other !== null && !known.locations.has(other)) {
    return { code: 'unknown_location', reason: `unknown location ${other}` };
  }
  return null;
}

/**
 * Whether an op answered with `code` (null: applied) holds its id in the unique applied_ops.op_id.
 * A malformed op's "id" may be anything, an op_id_reused one's is someone else's: neither claims it
 * (their sent id is kept in sent_op_id, for answering a resend).
 */
function claimsOpId(code: RejectCode | null): boolean {
  return code !== 'malformed' && code !== 'op_id_reused';
}

/** Postgres text holds neither NUL nor unpaired surrogates: a hostile till's text is made storable. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what it must find.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function storable(text: string): string {
  return text.replace(UNSTORABLE, '\ufffd');
}

/** JSON.stringify replacer for a rejected op's dead letter (jsonb): storable keys and strings. */
export function storableJson(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return storable(value);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), v]));
}

/** The path of the first string of a parsed op that Postgres could not store verbatim, else null. */
function unstorableText(value: unknown, path = 'op'): string | null {
  if (typeof value === 'string') return storable(value) === value ? null : path;
  if (typeof value !== 'object' || value === null) return null;
  for (const [k, v] of Object.entries(value)) {
    const found = storable(k) === k ? unstorableText(v, `${path}.${k}`) : `${path}.${k}`;
    if (found !== null) return found;
  }
  return null;
}
