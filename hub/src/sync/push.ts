import {
  type Ack,
  type HybridClock,
  LIMITS,
  type OpResult,
  type RejectCode,
  type StockPush,
  TillOp,
} from '@tillsync/sync-protocol';
import { z } from 'zod';
import { isConnectionLost } from '../db/connection-errors.js';
import type { Queryable } from '../db/database.js';
import { pgErrorCode } from '../errors.js';
import type { LocationCommit, StockWriter } from '../plugins/app/stock-writer.js';
import { ackDeviceSql, readAckedSeq } from '../services/devices.js';
import {
  type AppliedBatch,
  type ApplyOptions,
  createMissingRows,
  type LedgerOp,
  rowsTouched,
} from '../services/ledger.js';
import { reallocateBrokenReservations } from '../services/orders/index.js';
import { type SyncActivityBatch, syncActivityUpsert, syncActivityValues } from './activity.js';
import { applyCheckedTillOps } from './checked-till-ops.js';
import { boundTillClocks } from './clock-bounds.js';
import type { ReservationChangeAt, ReservationFeed } from './reservation-feed.js';

/*
 * Applying a till's push batch: one transaction, ops in seq order.
 *
 *   seq <= last acked   → resend: the remembered answer (duplicate, or the same rejection)
 *   seq == last acked+1 → validate; apply, or reject permanently (recorded, dead-lettered, acked)
 *   seq >  last acked+1 → seq_gap: not recorded, not acked; the till must send the missing seqs
 *
 * The device row is locked first, so two pushes of one device (even on two hub instances) never
 * interleave. Accepted ops go through the ledger in one `apply` call.
 *
 * Cost per batch, whatever its size: each op is parsed once, and the transaction is a fixed
 * handful of round trips. The batch's own bookkeeping (remembered answers, activity, the device's
 * acked seq) is written before the ledger locks stock rows: those locks (and the location's cursor
 * row) are what concurrent tills of one store queue on, so they are held for as little as can be.
 */

/** Just enough of an op to answer for it; the full shape is checked op by op. */
const Envelope = z.object({
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  opId: z.unknown(),
});

export const PushEnvelope = z.object({
  ops: z.array(z.unknown()).min(1).max(LIMITS.maxOpsPerBatch),
});

export interface PushingDevice {
  deviceId: string;
  locationId: string;
}

interface Rejection {
  seq: number;
  opId: string | null;
  raw: unknown;
  code: RejectCode;
  reason: string;
}

export class MalformedBatchError extends Error {}

export interface PushContext {
  stock: StockWriter;
  reservations: ReservationFeed;
}

/** Postgres aborts one of two deadlocked transactions; the batch is simply tried again. */
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * Apply a batch; `origin` is the pushing connection (it gets its rows in the ack, not the
 * broadcast). A batch aborted by a deadlock is retried a few times before the till is told to retry.
 * One whose connection died is retried once on a fresh one: safe even when the lost statement was
 * the COMMIT, as the retry reads the device's acked seq and answers committed ops `duplicate`.
 */
export async function applyPush(
  ctx: PushContext,
  device: PushingDevice,
  rawOps: unknown[],
  origin?: string,
): Promise<Ack> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyPushOnce(ctx, device, rawOps, origin);
    } catch (err) {
      const again = RETRYABLE.has(pgErrorCode(err) ?? '') || (attempt === 1 && isConnectionLost(err));
      if (attempt >= 3 || !again) throw err;
    }
  }
}

async function applyPushOnce(
  ctx: PushContext,
  device: PushingDevice,
  rawOps: unknown[],
  origin?: string,
): Promise<Ack> {
  const writer = ctx.stock;
  const reservationChanges: ReservationChangeAt[] = [];
  const envelopes = rawOps.map((raw, i) => {
    const env = Envelope.safeParse(raw);
    if (!env.success) throw new MalformedBatchError(`ops[${i}] has no valid seq`);
    const opId = typeof env.data.opId === 'string' ? storable(env.data.opId.slice(0, 100)) : null;
    // Parsed here, once: the checks below and the ledger all take this result.
    return { seq: env.data.seq, opId, raw, parsed: TillOp.safeParse(raw) };
  });
  const candidates = envelopes.flatMap((e) => (e.parsed.success ? [e.parsed.data] : []));

  const { result, commits } = await writer.writeAndAnnounce(async (tx, apply) => {
    let acked = await readAckedSeq(tx, device.deviceId, true);
    const remembered = await rememberedResults(
      tx,
      device.deviceId,
      envelopes.filter((e) => e.seq <= acked).map((e) => e.seq),
    );
    const known = await knownReferences(tx, candidates);
    const resent = await resentOpIds(tx, device, candidates, known);
    const resentSeqs: Array<{ seq: number; opId: string }> = [];

    const results: OpResult[] = [];
    const acceptedOps: TillOp[] = [];
    const applied: Array<{ seq: number; opId: string }> = [];
    const rejected: Rejection[] = [];
    const batchOpIds = new Set<string>();

    for (const env of envelopes) {
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
      if (env.opId !== null && resent.has(env.opId)) {
        resentSeqs.push({ seq: env.seq, opId: env.opId });
        results.push({ seq: env.seq, opId, status: 'duplicate' });
        continue;
      }
      const found = validateTillOp(env.raw, device, known, batchOpIds, env.parsed);
      const refusal = found && { code: found.code, reason: storable(found.reason).slice(0, 500) };
      // A well-formed rejected op holds its id too (applied_ops.op_id), so no later op may take it.
      if (env.opId !== null && claimsOpId(refusal?.code ?? null)) batchOpIds.add(env.opId);
      if (refusal) {
        rejected.push({ seq: env.seq, opId: env.opId, raw: env.raw, ...refusal });
        results.push(reject(env.seq, opId, refusal.code, refusal.reason));
        remembered.set(env.seq, { opId: env.opId, status: 'rejected', ...refusal });
        continue;
      }
      const op = env.parsed.data!;
      acceptedOps.push(op);
      applied.push({ seq: env.seq, opId: op.opId });
      remembered.set(env.seq, { opId: op.opId, status: 'applied', code: null, reason: null });
      results.push({ seq: env.seq, opId: op.opId, status: 'applied' });
    }

    await remember(tx, device, acked, applied, rejected, resentSeqs, {
      applied: acceptedOps,
      duplicates: results.filter((r) => r.status === 'duplicate').length,
      rejected: rejected.length,
    });
    if (acceptedOps.length > 0) {
      reservationChanges.push(
        ...(await applyTillOps(tx, apply, writer.clock, device, acceptedOps, { rowsCreated: true })),
      );
    }
    return { lastAckedSeq: acked, results };
  }, origin);
  ctx.reservations.publish(reservationChanges);
  const own = commits.filter((c) => c.locationId === device.locationId);
  return { ...result, stock: own.flatMap(stockPushes) };
}

/**
 * Op ids of `ops` this device already had applied, sent again under a new seq: a replacement till
 * passing on a dead machine's unacknowledged ops (`till recover`). Same device, type and clock
 * stamp in the ledger make it the same op, so it is answered as a duplicate, not reused.
 */
async function resentOpIds(
  tx: Queryable,
  device: PushingDevice,
  ops: readonly TillOp[],
  known: Known,
): Promise<Set<string>> {
  const again = ops.filter((op) => known.usedOpIds.has(op.opId));
  if (again.length === 0) return new Set();
  const { rows } = await tx.query<{ op_id: string }>(
    // The ledger, not applied_ops: remembered answers are purged after a while (services/retention.ts).
    `SELECT c.op_id FROM unnest($2::text[], $3::text[], $4::text[]) AS c (op_id, op_type, hlc)
     WHERE EXISTS (SELECT 1 FROM movements m WHERE m.op_id = c.op_id::uuid AND m.device_id = $1
                   AND m.op_type = c.op_type AND m.hlc = c.hlc)`,
    [device.deviceId, again.map((op) => op.opId), again.map((op) => op.type), again.map((op) => op.hlc)],
  );
  return new Set(rows.map((r) => r.op_id));
}

/** A location commit as stock messages of at most LIMITS.maxRowsPerPage rows, cursors chained. */
export function stockPushes(commit: LocationCommit): StockPush[] {
  const rows = [...commit.rows].sort((a, b) => a.changeSeq - b.changeSeq);
  const pushes: StockPush[] = [];
  let from = commit.fromCursor;
  for (let i = 0; i < rows.length; i += LIMITS.maxRowsPerPage) {
    const chunk = rows.slice(i, i + LIMITS.maxRowsPerPage);
    const cursor =
      i + LIMITS.maxRowsPerPage >= rows.length ? commit.cursor : chunk[chunk.length - 1]!.changeSeq;
    pushes.push({
      fromCursor: String(from),
      cursor: String(cursor),
      rows: chunk.map(({ changeSeq: _, ...row }) => row),
    });
    from = cursor;
  }
  return pushes;
}

/**
 * Apply accepted ops as `device`'s, with what follows from them: till transfers and pickups
 * (checked first, checked-till-ops.ts), and reservations broken by offline sales. Returns the reservation changes to publish after commit.
 * Also how a retried dead letter is applied (sync/dead-letter-retry.ts).
 */
export async function applyTillOps(
  tx: Queryable,
  apply: (ops: LedgerOp[], options?: ApplyOptions) => Promise<AppliedBatch>,
  clock: HybridClock,
  device: PushingDevice,
  stamped: readonly TillOp[],
  options?: ApplyOptions,
): Promise<ReservationChangeAt[]> {
  const ops = await boundTillClocks(tx, clock, device, stamped);
  const changes = await applyCheckedTillOps(tx, apply, device.deviceId, ops, options);
  // Offline sales may have eaten units promised online: move those promises or flag them.
  changes.push(...(await reallocateBrokenReservations(tx, apply, [device.locationId], clock)));
  return changes;
}

function reject(seq: number, opId: string, code: RejectCode, reason: string): OpResult {
  return { seq, opId, status: 'rejected', code, reason };
}

export interface Known {
  skus: Set<string>;
  locations: Set<string>;
  /** Op ids already recorded at the hub (remembered for a till op, or in the ledger). */
  usedOpIds: Set<string>;
}

/**
 * Which SKUs, locations and op ids named by the ops the hub already knows: one query. `own` is
 * the (device, seq) being retried: its own remembered rejection does not count as a use of its id.
 */
export async function knownReferences(
  tx: Queryable,
  ops: readonly TillOp[],
  own?: { deviceId: string; seq: number },
): Promise<Known> {
  const skus = [...new Set(ops.flatMap((op) => op.lines.map((l) => l.sku)))];
  const locations = [
    ...new Set(
      ops.flatMap((op) => [
        op.locationId,
        ...(op.type === 'transfer_out'
          ? [op.toLocationId]
          : op.type === 'transfer_in'
            ? [op.fromLocationId]
            : []),
      ]),
    ),
  ];
  // Op ids: one index probe per id (LATERAL … LIMIT 1). Left to itself the planner may hash a
  // scan of all of applied_ops or movements, which grow with every sale.
  const { rows } = await tx.query<{ skus: string[]; locations: string[]; op_ids: string[] }>(
    `SELECT ARRAY(SELECT sku FROM products WHERE sku = ANY($1::text[])) AS skus,
       ARRAY(SELECT id FROM locations WHERE id = ANY($2::text[])) AS locations,
       ARRAY(SELECT k.id FROM unnest($3::text[]) AS k (id), LATERAL (
               SELECT FROM applied_ops a WHERE a.op_id = k.id
                 AND (a.device_id, a.seq) IS DISTINCT FROM ($4::text, $5::bigint) LIMIT 1) AS remembered
             UNION
             SELECT k.id FROM unnest($3::text[]) AS k (id), LATERAL (
               SELECT FROM movements m WHERE m.op_id = k.id::uuid LIMIT 1) AS in_ledger) AS op_ids`,
    [skus, locations, ops.map((op) => op.opId), own?.deviceId ?? null, own?.seq ?? null],
  );
  const found = rows[0]!;
  return {
    skus: new Set(found.skus),
    locations: new Set(found.locations),
    usedOpIds: new Set(found.op_ids),
  };
}

/**
 * The push path's checks of one op: null when it may be applied, else why not. `parsed`: the
 * caller's `TillOp.safeParse(raw)`, when it has it already.
 */
export function validateTillOp(
  raw: unknown,
  device: PushingDevice,
  known: Known,
  batchOpIds: ReadonlySet<string> = new Set(),
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
  if (known.usedOpIds.has(op.opId) || batchOpIds.has(op.opId)) {
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

interface Remembered {
  opId: string | null;
  status: 'applied' | 'rejected';
  code: RejectCode | null;
  reason: string | null;
}

async function rememberedResults(
  tx: Queryable,
  deviceId: string,
  seqs: readonly number[],
): Promise<Map<number, Remembered>> {
  const out = new Map<number, Remembered>();
  if (seqs.length === 0) return out;
  const { rows } = await tx.query<{
    seq: number;
    op_id: string | null;
    status: 'applied' | 'rejected';
    code: RejectCode | null;
    reason: string | null;
  }>(
    `SELECT seq, sent_op_id AS op_id, status, code, reason FROM applied_ops
     WHERE device_id = $1 AND seq = ANY($2::bigint[])`,
    [deviceId, seqs],
  );
  for (const r of rows) out.set(r.seq, { opId: r.op_id, status: r.status, code: r.code, reason: r.reason });
  return out;
}

/**
 * The batch's bookkeeping in one statement: each seq's answer (applied, rejected, or a resent op's
 * used-up seq, whose op id stays with the seq that applied it: kept in sent_op_id only), the
 * till's activity, its acked seq, and the stock rows the applied ops will need that do not exist
 * yet (the ledger's first step, done here to save it a round trip). Then the rejected ops' dead
 * letters, if any.
 */
async function remember(
  tx: Queryable,
  device: PushingDevice,
  acked: number,
  applied: ReadonlyArray<{ seq: number; opId: string }>,
  rejected: readonly Rejection[],
  resent: ReadonlyArray<{ seq: number; opId: string }>,
  activity: SyncActivityBatch,
): Promise<void> {
  const all = [
    ...applied.map((a) => ({
      seq: a.seq,
      opId: a.opId as string | null,
      claimed: true,
      status: 'applied',
      code: null as RejectCode | null,
      reason: null as string | null,
    })),
    ...rejected.map((r) => ({
      seq: r.seq,
      opId: r.opId,
      claimed: claimsOpId(r.code),
      status: 'rejected',
      code: r.code,
      reason: r.reason,
    })),
    ...resent.map((r) => ({
      seq: r.seq,
      opId: r.opId as string | null,
      claimed: false,
      status: 'applied',
      code: null,
      reason: null,
    })),
  ];
  const rows = rowsTouched(activity.applied);
  await tx.query(
    `WITH rows_created AS (${createMissingRows(18)}),
     answers AS (
       INSERT INTO applied_ops (device_id, seq, op_id, location_id, status, code, reason, sent_op_id)
       SELECT $1, r.seq, r.op_id, $2, r.status, r.code, r.reason, r.sent_op_id
       FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
         AS r (seq, op_id, status, code, reason, sent_op_id)),
     activity AS (${syncActivityUpsert(10)})
     ${ackDeviceSql(1, 9)}`,
    [
      device.deviceId,
      device.locationId,
      all.map((a) => a.seq),
      all.map((a) => (a.claimed ? a.opId : null)),
      all.map((a) => a.status),
      all.map((a) => a.code),
      all.map((a) => a.reason),
      all.map((a) => a.opId),
      acked,
      ...syncActivityValues(device, activity),
      rows.locationIds,
      rows.skus,
    ],
  );
  if (rejected.length === 0) return;
  await tx.query(
    `INSERT INTO dead_letters (location_id, device_id, seq, op_id, op, code, reason)
     SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::jsonb[], $6::text[], $7::text[])`,
    [
      device.locationId,
      device.deviceId,
      rejected.map((r) => r.seq),
      rejected.map((r) => r.opId),
      rejected.map((r) => JSON.stringify(r.raw, storableJson)),
      rejected.map((r) => r.code),
      rejected.map((r) => r.reason),
    ],
  );
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

function storable(text: string): string {
  return text.replace(UNSTORABLE, '\ufffd');
}

/** JSON.stringify replacer for a rejected op's dead letter (jsonb): storable keys and strings. */
function storableJson(_key: string, value: unknown): unknown {
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
