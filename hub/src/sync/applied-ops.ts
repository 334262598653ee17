import type { Queryable } from '../db/database.js';
import type { Answer } from './push-plan.js';

/*
 * Each till seq's remembered answer (table applied_ops; this module is its one writer, retention
 * purges old ones): what a resent op is answered with. Written in the push group's bookkeeping
 * statement; a retried dead letter turns its seq's answer into "applied".
 */

/** The insert, named parameters `$answer…` (values: `answerValues`), a fragment of one statement. */
export const REMEMBER_ANSWERS = `INSERT INTO applied_ops (device_id, seq, op_id, location_id, status, code, reason, sent_op_id)
     SELECT * FROM unnest($answerDevices::text[], $answerSeqs::bigint[], $answerOpIds::text[],
       $answerLocations::text[], $answerStatuses::text[], $answerCodes::text[], $answerReasons::text[],
       $answerSentOpIds::text[])`;

export function answerValues(
  pushes: ReadonlyArray<{ device: { deviceId: string; locationId: string }; answers: readonly Answer[] }>,
): Record<string, unknown> {
  const all = pushes.flatMap((p) => p.answers.map((a) => ({ ...a, ...p.device })));
  return {
    answerDevices: all.map((a) => a.deviceId),
    answerSeqs: all.map((a) => a.seq),
    answerOpIds: all.map((a) => a.opId),
    answerLocations: all.map((a) => a.locationId),
    answerStatuses: all.map((a) => a.status),
    answerCodes: all.map((a) => a.code),
    answerReasons: all.map((a) => a.reason),
    answerSentOpIds: all.map((a) => a.sentOpId),
  };
}

/** A retried dead letter was applied: its seq's remembered answer says so now (a resend is a duplicate). */
export async function markRetriedApplied(
  tx: Queryable,
  deviceId: string,
  seq: number,
  opId: string,
): Promise<void> {
  const remembered = await tx.query(
    `UPDATE applied_ops SET status = 'applied', op_id = $3, code = NULL, reason = NULL
     WHERE device_id = $1 AND seq = $2`,
    [deviceId, seq, opId],
  );
  if (remembered.rowCount !== 1) throw new Error(`no remembered answer for ${deviceId} seq ${seq}`);
}
