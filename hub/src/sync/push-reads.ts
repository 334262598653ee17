import type { TillOp } from '@tillsync/sync-protocol';
import type { Queryable } from '../db/database.js';
import { named } from '../db/named.js';
import type { Known, Remembered } from './push-plan.js';

/*
 * What deciding pushes needs to read (after their devices' rows are locked): which SKUs,
 * locations and op ids the ops name already exist, and the remembered answers of resent seqs.
 * One statement for a whole push group.
 */

const DECISION_FACTS = `SELECT
  ARRAY(SELECT sku FROM products WHERE sku = ANY($skus::text[])) AS skus,
  ARRAY(SELECT id FROM locations WHERE id = ANY($locations::text[])) AS locations,
  -- One index probe per op id (LATERAL … LIMIT 1): left to itself the planner may hash a scan of
  -- all of applied_ops or movements, which grow with every sale.
  ARRAY(SELECT k.id FROM unnest($opIds::text[]) AS k (id), LATERAL (
          SELECT FROM applied_ops a WHERE a.op_id = k.id
            AND (a.device_id, a.seq) IS DISTINCT FROM ($ownDevice::text, $ownSeq::bigint) LIMIT 1) AS r
  ) AS remembered_ids,
  -- The ledger, not applied_ops, tells a resent op: remembered answers are purged after a while.
  (SELECT coalesce(json_agg(json_build_object('opId', k.id, 'deviceId', m.device_id, 'opType', m.op_type,
            'hlc', m.hlc)), '[]'::json)
   FROM unnest($opIds::text[]) AS k (id), LATERAL (
     SELECT device_id, op_type, hlc FROM movements m WHERE m.op_id = k.id::uuid LIMIT 1) AS m) AS ledgered,
  (SELECT coalesce(json_agg(json_build_object('deviceId', a.device_id, 'seq', a.seq, 'opId', a.sent_op_id,
            'status', a.status, 'code', a.code, 'reason', a.reason)), '[]'::json)
   FROM unnest($rememberDevices::text[], $rememberSeqs::bigint[]) AS r (device_id, seq)
   JOIN applied_ops a ON a.device_id = r.device_id AND a.seq = r.seq) AS remembered`;

export interface DecisionFacts {
  known: Known;
  /** Remembered answers by device, then seq. */
  remembered: Map<string, Map<number, Remembered>>;
}

/**
 * Read the facts for `ops` and the remembered answers of `resent` (device, seq) pairs. `own`: the
 * (device, seq) a dead letter is retried for: its own remembered rejection does not use its id.
 */
export async function readDecisionFacts(
  tx: Queryable,
  ops: readonly TillOp[],
  resent: ReadonlyArray<{ deviceId: string; seq: number }> = [],
  own?: { deviceId: string; seq: number },
): Promise<DecisionFacts> {
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
  const { rows } = await tx.query<{
    skus: string[];
    locations: string[];
    remembered_ids: string[];
    ledgered: Array<{ opId: string; deviceId: string | null; opType: string; hlc: string }>;
    remembered: Array<Remembered & { deviceId: string; seq: number }>;
  }>(
    ...named(DECISION_FACTS, {
      skus,
      locations,
      opIds: ops.map((op) => op.opId),
      ownDevice: own?.deviceId ?? null,
      ownSeq: own?.seq ?? null,
      rememberDevices: resent.map((r) => r.deviceId),
      rememberSeqs: resent.map((r) => r.seq),
    }),
  );
  const found = rows[0]!;
  const ledgered = new Map(found.ledgered.map(({ opId, ...m }) => [opId, m]));
  const remembered = new Map<string, Map<number, Remembered>>();
  for (const { deviceId, seq, ...answer } of found.remembered) {
    const mine = remembered.get(deviceId) ?? new Map<number, Remembered>();
    mine.set(Number(seq), answer);
    remembered.set(deviceId, mine);
  }
  return {
    known: {
      skus: new Set(found.skus),
      locations: new Set(found.locations),
      usedOpIds: new Set([...found.remembered_ids, ...ledgered.keys()]),
      ledgered,
    },
    remembered,
  };
}
