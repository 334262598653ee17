import { type Ack, LIMITS, type StockPush, type TillOp } from '@tillsync/sync-protocol';
import type { Database, Queryable } from '../db/database.js';
import { GroupCommit } from '../db/group-commit.js';
import { named } from '../db/named.js';
import { retryTransaction } from '../db/retry.js';
import {
  type AppliedBatch,
  type ApplyOptions,
  CREATE_MISSING_ROWS,
  type LedgerOp,
  lockRowsAndCursors,
  missingRowsValues,
} from '../ledger/apply.js';
import type { ReservationChangeAt, ReservationFeed } from '../ledger/reservation-feed.js';
import type { LocationCommit, StockWriter } from '../ledger/writer.js';
import { recordDeadLetters } from '../services/dead-letters.js';
import { ACK_DEVICES, ackDevicesValues, lockDevices } from '../services/devices.js';
import { reallocateBrokenReservations } from '../services/orders/index.js';
import { SYNC_ACTIVITY_UPSERT, syncActivityValues } from './activity.js';
import { answerValues, REMEMBER_ANSWERS } from './applied-ops.js';
import { applyCheckedTillOps } from './checked-till-ops.js';
import { boundTillClocks } from './clock-bounds.js';
import {
  candidatesOf,
  type PushedOp,
  type PushingDevice,
  type PushPlan,
  parsePushedOps,
  planPushes,
  storableJson,
} from './push-plan.js';
import { readDecisionFacts } from './push-reads.js';

/*
 * Settling tills' push batches: read → decide (push-plan.ts, no I/O) → write, in one transaction.
 * Pushes of many tills that arrive while a transaction is in flight are settled together in the
 * next one (group commit, db/group-commit.ts): one COMMIT for many, each device's answers exactly
 * as if its push had been settled alone, at most one push per device in a group.
 *
 *   read    lock the devices' rows (sorted), then one statement: known SKUs, locations, op ids,
 *           remembered answers of resent seqs
 *   decide  per-op answers, the ops to apply, the answers and dead letters to record
 *   write   one bookkeeping statement (answers, activity, acks, missing stock rows), dead letters,
 *           then the ledger: clock bounds, transfers and pickups checked, every device's ops in
 *           one `apply` per run, reservations broken by offline sales reallocated
 *
 * Lock order is global: devices sorted, then stock rows sorted (one ledger call locks them all;
 * a group holding transfers, which splits the calls, locks them up front), then cursor rows
 * sorted. The bookkeeping comes before the stock locks, which are what concurrent tills of one
 * store queue on, so they are held for as little as can be.
 */

export interface PushContext {
  stock: StockWriter;
  reservations: ReservationFeed;
}

/** One push to settle: `origin` is the pushing connection (it gets its rows in the ack). */
export interface PushInput {
  device: PushingDevice;
  ops: readonly PushedOp[];
  origin?: string | undefined;
}

/**
 * Settle pushes of distinct devices in one transaction; answers in input order. A transaction
 * aborted by a deadlock is tried again, one whose connection died once more on a fresh one: safe
 * even when the lost statement was the COMMIT, as the retry reads the acked seqs again and answers
 * committed ops `duplicate`.
 */
export function settlePushes(ctx: PushContext, pushes: readonly PushInput[]): Promise<Ack[]> {
  return retryTransaction(() => settleOnce(ctx, pushes), { onConnectionLost: true });
}

/** One push, settled alone (a test's or a tool's; the socket server goes through `PushSettler`). */
export async function applyPush(
  ctx: PushContext,
  device: PushingDevice,
  rawOps: unknown[],
  origin?: string,
): Promise<Ack> {
  const [ack] = await settlePushes(ctx, [{ device, ops: parsePushedOps(rawOps), origin }]);
  return ack!;
}

async function settleOnce(ctx: PushContext, pushes: readonly PushInput[]): Promise<Ack[]> {
  const writer = ctx.stock;
  const reservationChanges: ReservationChangeAt[] = [];
  const origins = pushes.flatMap((p) => (p.origin ? [p.origin] : []));
  const { result: plans, commits } = await writer.writeAndAnnounce(async (tx, apply) => {
    const acked = await lockDevices(
      tx,
      pushes.map((p) => p.device.deviceId),
    );
    const resent = pushes.flatMap((p) => {
      const seq = acked.get(p.device.deviceId)!;
      return p.ops.filter((o) => o.seq <= seq).map((o) => ({ deviceId: p.device.deviceId, seq: o.seq }));
    });
    const facts = await readDecisionFacts(
      tx,
      pushes.flatMap((p) => candidatesOf(p.ops)),
      resent,
    );
    const plans = planPushes(
      pushes.map((p) => ({
        device: p.device,
        ops: p.ops,
        ackedSeq: acked.get(p.device.deviceId)!,
        remembered: facts.remembered.get(p.device.deviceId) ?? new Map(),
        known: facts.known,
      })),
    );
    await recordPlans(tx, plans);
    reservationChanges.push(
      ...(await applyTillOps(
        tx,
        apply,
        writer.clock,
        plans.map((p) => ({ device: p.device, ops: p.accepted })),
        { rowsCreated: true },
      )),
    );
    return plans;
  }, origins);
  ctx.reservations.publish(reservationChanges);
  return plans.map((plan) => ({
    lastAckedSeq: plan.lastAckedSeq,
    results: plan.results,
    stock: commits.filter((c) => c.locationId === plan.device.locationId).flatMap(stockPushes),
  }));
}

const BOOKKEEPING = `WITH rows_created AS (${CREATE_MISSING_ROWS}),
     answers AS (${REMEMBER_ANSWERS}),
     activity AS (${SYNC_ACTIVITY_UPSERT})
     ${ACK_DEVICES}`;

/**
 * The group's bookkeeping in one statement: each seq's answer, the tills' activity, their acked
 * seqs, and the stock rows the applied ops will need that do not exist yet (the ledger's first
 * step, done here to save it a round trip). Then the rejected ops' dead letters, if any.
 */
async function recordPlans(tx: Queryable, plans: readonly PushPlan[]): Promise<void> {
  await tx.query(
    ...named(BOOKKEEPING, {
      ...missingRowsValues(plans.flatMap((p) => p.accepted)),
      ...answerValues(plans),
      ...syncActivityValues(plans.map((p) => ({ ...p.device, ...p.activity }))),
      ...ackDevicesValues(plans.map((p) => ({ deviceId: p.device.deviceId, seq: p.lastAckedSeq }))),
    }),
  );
  await recordDeadLetters(
    tx,
    plans.flatMap((p) =>
      p.deadLetters.map((d) => ({
        ...p.device,
        seq: d.seq,
        opId: d.opId,
        op: JSON.stringify(d.raw, storableJson),
        code: d.code,
        reason: d.reason,
      })),
    ),
  );
}

/**
 * Apply accepted ops as their devices', with what follows from them: clock stamps bounded, till
 * transfers and pickups checked first (checked-till-ops.ts), and reservations broken by offline
 * sales reallocated. Returns the reservation changes to publish after commit. Also how a retried
 * dead letter is applied (sync/dead-letter-retry.ts).
 */
export async function applyTillOps(
  tx: Queryable,
  apply: (ops: LedgerOp[], options?: ApplyOptions) => Promise<AppliedBatch>,
  clock: StockWriter['clock'],
  pushes: ReadonlyArray<{ device: PushingDevice; ops: readonly TillOp[] }>,
  options?: ApplyOptions,
): Promise<ReservationChangeAt[]> {
  const entries: Array<{ deviceId: string; op: TillOp }> = [];
  for (const { device, ops } of pushes) {
    if (ops.length === 0) continue;
    for (const op of await boundTillClocks(tx, clock, device, ops))
      entries.push({ deviceId: device.deviceId, op });
  }
  if (entries.length === 0) return [];
  const checked = entries.some(({ op }) => isChecked(op));
  // Checked ops split the ledger calls; a group's then locks its rows first, in the global order.
  if (checked && pushes.length > 1)
    await lockRowsAndCursors(
      tx,
      entries.map((e) => e.op),
    );
  const changes = await applyCheckedTillOps(tx, apply, entries, options);
  // Offline sales may have eaten units promised online: move those promises or flag them.
  const locations = [...new Set(pushes.filter((p) => p.ops.length > 0).map((p) => p.device.locationId))];
  changes.push(...(await reallocateBrokenReservations(tx, apply, locations, clock)));
  return changes;
}

function isChecked(op: TillOp): boolean {
  return op.type === 'transfer_out' || op.type === 'transfer_in' || op.type === 'pickup';
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
 * Group commit tuning. PGlite is one connection: a second group in flight would only queue on its
 * lock, so one group at a time, and whatever arrives meanwhile rides the next. Postgres: two
 * groups in flight keep both the hub's CPU and the server busy (one group is planned while the
 * other's statements run), without stretching lock waits across many open transactions; groups
 * are capped so one transaction's row locks stay short.
 */
export function pushGroupTuning(kind: Database['kind']): { concurrency: number; maxMembers: number } {
  return kind === 'pglite' ? { concurrency: 1, maxMembers: 128 } : { concurrency: 2, maxMembers: 64 };
}

/** Pushes from the socket server, settled in group commits (one push per device per group). */
export class PushSettler {
  private readonly groups: GroupCommit<PushInput, Ack>;

  constructor(ctx: PushContext, tuning: { concurrency: number; maxMembers: number }) {
    this.groups = new GroupCommit({
      settle: (inputs) => settlePushes(ctx, inputs),
      keyOf: (input) => input.device.deviceId,
      ...tuning,
    });
  }

  get stats() {
    return this.groups.stats;
  }

  /** Settle a push; a batch whose ops do not all carry a valid seq throws MalformedBatchError. */
  async submit(device: PushingDevice, rawOps: readonly unknown[], origin?: string): Promise<Ack> {
    const ops = parsePushedOps(rawOps);
    return await this.groups.submit({ device, ops, origin });
  }
}
