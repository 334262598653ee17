import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NotEnrolledError, TillError } from '../engine/errors.js';
import { Till } from '../engine/till.js';

/*
 * `till recover --from <old data dir>`: a till machine died with sales the hub never received, and
 * a replacement was enrolled under the same device id. The replacement has been ringing under seqs
 * the dead machine also used, so the old ops cannot be sent as they are (the hub would refuse them
 * as seq conflicts). They join this till's outbox under new seqs, keeping their op ids: the hub
 * applies the ones it never saw and answers the ones it did (a push whose ack was lost) as
 * duplicates. They then leave the old outbox, so the old disk, booted again, cannot send them twice.
 */
export function recoverOps(till: Till, oldDir: string, out: (line: string) => void): void {
  const current = till.enrolment;
  if (!current) throw new NotEnrolledError();
  if (!existsSync(join(oldDir, 'till.sqlite')))
    throw new TillError('invalid_input', `no till data in ${oldDir}`);
  const old = Till.open({ dataDir: oldDir });
  try {
    const from = old.enrolment;
    if (from?.deviceId !== current.deviceId || from.locationId !== current.locationId)
      throw new TillError(
        'invalid_input',
        `${oldDir} belongs to till ${from?.deviceId ?? '(not enrolled)'} at ${from?.locationId ?? '-'}; ` +
          `this till is ${current.deviceId} at ${current.locationId}: recover a till's data into its own replacement`,
      );
    const entries = old.store.outboxAfter(0, Number.MAX_SAFE_INTEGER);
    const taken = till.adoptOps(entries.map((e) => e.op));
    old.db.transaction(() => {
      for (const e of entries) old.store.deleteOutbox(e.seq);
    })();
    out(
      `recovered ${taken} unsynced op(s) from ${oldDir}` +
        (entries.length > taken ? ` (${entries.length - taken} were already here)` : '') +
        (taken > 0 ? '; run `till sync` to send them' : ''),
    );
  } finally {
    old.close();
  }
}
