import type { Hello, TillJournal } from '@tillsync/sync-protocol';
import type { Database, Queryable } from '../db/database.js';
import { readAckedSeq, rebaseAckedSeq } from '../services/devices.js';
import { emitEvent } from '../services/events.js';

/*
 * A till ahead of the hub: the hub was restored from a backup older than the till's last ack, so
 * ops the till was told were safe are not in the ledger any more (the till dropped them from its
 * outbox, but keeps them in its journal for a while). At the till's hello:
 *
 *   till acked ≤ hub acked  → nothing to do (the normal case)
 *   till acked  > hub acked → the till re-sends what it still holds (resendFrom..till acked, same
 *                             seqs and op ids: they apply once); seqs it no longer holds are lost:
 *                             recorded, and the device's acked seq moved past them so its later
 *                             ops are not refused as seq_gap for ever. One incident (table
 *                             sync_incidents, written only here) and one `sync.incident` alert.
 */

export interface RecoveryPlan {
  hubSeq: number;
  tillSeq: number;
  resendFrom: number;
  /** Seqs nobody holds any more (null: none). */
  lost: { from: number; to: number } | null;
  /** The device's acked seq from now on: just before the first op the till re-sends. */
  rebaseTo: number;
}

/** What to do about a till's journal, given the hub's acked seq for it (pure). */
export function planRecovery(hubSeq: number, journal: TillJournal): RecoveryPlan | null {
  if (journal.lastAckedSeq <= hubSeq) return null;
  const resendFrom = Math.max(hubSeq + 1, Math.min(journal.heldFrom, journal.lastAckedSeq + 1));
  return {
    hubSeq,
    tillSeq: journal.lastAckedSeq,
    resendFrom,
    lost: resendFrom > hubSeq + 1 ? { from: hubSeq + 1, to: resendFrom - 1 } : null,
    rebaseTo: resendFrom - 1,
  };
}

interface IncidentRow {
  id: number;
  hub_seq: number;
  resend_from: number;
  lost_from: number | null;
  lost_to: number | null;
}

/**
 * Compare a connecting till's journal with the device's acked seq and, when the till is ahead,
 * record the incident and re-base the device. Returns the acked seq and recovery for the hello.
 */
export async function reconcileJournal(
  db: Database,
  device: { deviceId: string; locationId: string },
  journal: TillJournal | undefined,
): Promise<Pick<Hello, 'lastAckedSeq' | 'recovery'>> {
  if (!journal) return { lastAckedSeq: await readAckedSeq(db, device.deviceId, false) };
  return db.transaction(async (tx) => {
    // Locked: a push of this device (on any hub instance) waits for the re-base.
    const hubSeq = await readAckedSeq(tx, device.deviceId, true);
    const plan = planRecovery(hubSeq, journal);
    if (!plan) return { lastAckedSeq: hubSeq };
    const incident = (await sameEpisode(tx, device.deviceId, plan)) ?? (await record(tx, device, plan));
    if (plan.rebaseTo > hubSeq) await rebaseAckedSeq(tx, device.deviceId, plan.rebaseTo);
    return {
      lastAckedSeq: plan.rebaseTo,
      recovery: {
        incidentId: incident.id,
        resendFrom: plan.resendFrom,
        lostFrom: incident.lost_from,
        lostTo: incident.lost_to,
      },
    };
  });
}

/**
 * The till reconnected before it took the recovery hello in (it crashed, or the connection
 * dropped): the incident recorded then, already re-based, not a new one.
 */
async function sameEpisode(tx: Queryable, deviceId: string, plan: RecoveryPlan): Promise<IncidentRow | null> {
  const { rows } = await tx.query<IncidentRow>(
    `SELECT id::int AS id, hub_seq::int AS hub_seq, resend_from::int AS resend_from,
       lost_from::int AS lost_from, lost_to::int AS lost_to
     FROM sync_incidents WHERE device_id = $1 AND till_seq = $2 AND resend_from = $3
     ORDER BY id DESC LIMIT 1`,
    [deviceId, plan.tillSeq, plan.hubSeq + 1],
  );
  return rows[0] ?? null;
}

async function record(
  tx: Queryable,
  device: { deviceId: string; locationId: string },
  plan: RecoveryPlan,
): Promise<IncidentRow> {
  const opsLost = plan.lost ? plan.lost.to - plan.lost.from + 1 : 0;
  const { rows } = await tx.query<IncidentRow>(
    `INSERT INTO sync_incidents (location_id, device_id, hub_seq, till_seq, resend_from, lost_from, lost_to, ops_lost)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     RETURNING id::int AS id, hub_seq::int AS hub_seq, resend_from::int AS resend_from,
       lost_from::int AS lost_from, lost_to::int AS lost_to`,
    [
      device.locationId,
      device.deviceId,
      plan.hubSeq,
      plan.tillSeq,
      plan.resendFrom,
      plan.lost?.from ?? null,
      plan.lost?.to ?? null,
      opsLost,
    ],
  );
  const row = rows[0]!;
  await emitEvent(
    tx,
    'sync.incident',
    {
      incidentId: row.id,
      deviceId: device.deviceId,
      locationId: device.locationId,
      hubSeq: plan.hubSeq,
      tillSeq: plan.tillSeq,
      resendFrom: plan.resendFrom,
      opsResent: plan.tillSeq - plan.resendFrom + 1,
      opsLost,
      lostFrom: plan.lost?.from ?? null,
      lostTo: plan.lost?.to ?? null,
    },
    device.locationId,
  );
  return row;
}
