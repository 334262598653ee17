import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { TILL_DB_FILE, tillDbFiles } from '../engine/db.js';
import { NotEnrolledError, TillDamagedError, TillError } from '../engine/errors.js';
import type { Enrolment, Replica } from '../engine/replica.js';
import { salvageOutbox } from '../engine/salvage.js';
import { Till } from '../engine/till.js';

/*
 * `till recover --from <old data dir>`: a till machine died with sales the hub never received, and
 * a replacement was enrolled under the same device id. The replacement has been ringing under seqs
 * the dead machine also used, so the old ops cannot be sent as they are (the hub would refuse them
 * as seq conflicts). They join this till's outbox under new seqs, keeping their op ids: the hub
 * applies the ones it never saw and answers the ones it did (a push whose ack was lost) as
 * duplicates. They then leave the old outbox, so the old disk, booted again, cannot send them twice.
 *
 * A damaged old database (it fails quick_check, or SQLite cannot open it) is salvaged instead: its
 * outbox is read from its pages (engine/salvage.ts), and the file is renamed so that a second
 * recover finds nothing to send again.
 */

/** What a salvaged database file is renamed to: kept for a closer look, never opened as a till. */
export const SALVAGED_SUFFIX = '.salvaged';

export function recoverOps(till: Replica, oldDir: string, out: (line: string) => void): void {
  const current = till.enrolment;
  if (!current) throw new NotEnrolledError();
  if (!existsSync(join(oldDir, TILL_DB_FILE)))
    throw new TillError(
      'invalid_input',
      existsSync(join(oldDir, TILL_DB_FILE + SALVAGED_SUFFIX))
        ? `${oldDir} was already salvaged (its damaged database is ${TILL_DB_FILE}${SALVAGED_SUFFIX}): nothing left to recover`
        : `no till data in ${oldDir}`,
    );
  let old: Till;
  try {
    old = Till.open({ dataDir: oldDir });
  } catch (err) {
    if (!(err instanceof TillDamagedError)) throw err;
    salvageOps(till, current, oldDir, err, out);
    return;
  }
  try {
    const from = old.replica.status();
    refuseOtherTill(oldDir, from.deviceId, from.locationId, current);
    const entries = old.replica.pendingBatch(Number.MAX_SAFE_INTEGER);
    const taken = till.adoptOps(entries.map((e) => e.op));
    // Only once this till holds them (committed): a crash in between leaves them in both, and the
    // hub answers the second copy as a duplicate.
    old.replica.handedOff(entries);
    out(
      `recovered ${taken} unsynced op(s) from ${oldDir}` +
        (entries.length > taken ? ` (${entries.length - taken} were already here)` : '') +
        (taken > 0 ? '; run `till sync` to send them' : ''),
    );
  } finally {
    old.close();
  }
}

function refuseOtherTill(
  oldDir: string,
  deviceId: string | null,
  locationId: string | null,
  current: Readonly<Enrolment>,
): void {
  if (deviceId === current.deviceId && locationId === current.locationId) return;
  throw new TillError(
    'invalid_input',
    `${oldDir} belongs to till ${deviceId ?? '(not enrolled)'} at ${locationId ?? '-'}; ` +
      `this till is ${current.deviceId} at ${current.locationId}: recover a till's data into its own replacement`,
  );
}

function salvageOps(
  till: Replica,
  current: Readonly<Enrolment>,
  oldDir: string,
  damage: TillDamagedError,
  out: (line: string) => void,
): void {
  out(`${oldDir}: ${damage.problems.slice(0, 3).join('; ')}: salvaging its outbox from the file's pages`);
  const s = salvageOutbox(oldDir);
  if (s.deviceId !== null || s.locationId !== null)
    refuseOtherTill(oldDir, s.deviceId, s.locationId, current);
  // Its identity is unreadable: take its ops only if every one was made at this till's store.
  else if (s.ops.some((op) => op.locationId !== current.locationId))
    throw new TillError(
      'invalid_input',
      `${oldDir}: the till's identity is unreadable and some of its ops are another store's: not recovering them here`,
    );
  const taken = till.adoptOps(s.ops);
  for (const file of tillDbFiles(oldDir).slice(0, 2))
    if (existsSync(file)) renameSync(file, file.replace(TILL_DB_FILE, TILL_DB_FILE + SALVAGED_SUFFIX));
  out(
    `salvaged ${taken} unsynced op(s) from ${oldDir}` +
      (s.ops.length > taken ? ` (${s.ops.length - taken} were already here)` : '') +
      (taken > 0 ? '; run `till sync` to send them' : ''),
  );
  const { scan } = s;
  out(
    `read ${scan.pageCount} page(s) of ${scan.pageSize} bytes (size from the ${scan.pageSizeFrom})` +
      (scan.wal ? `, ${scan.wal.committedFrames} committed WAL frame(s)` : '') +
      (scan.unknownPages.length > 0 ? `; unreadable or unused pages: ${ranges(scan.unknownPages)}` : '') +
      (scan.unreadable.length > 0 ? `; ${scan.unreadable.length} unreadable cell(s)` : ''),
  );
  if (s.nextSeq === null)
    out("could not read the till's seq counters: cannot tell whether any unsynced op was lost");
  else if (s.missingSeqs.length > 0)
    out(`LOST: unsynced op(s) with seq ${ranges(s.missingSeqs)} were on damaged pages and could not be read`);
  else {
    const first = (s.lastAckedSeq ?? 0) + 1;
    out(
      first < s.nextSeq
        ? `every unsynced op (seq ${first} to ${s.nextSeq - 1}) was read`
        : 'no unsynced op was waiting',
    );
  }
  out(`the damaged database is kept as ${join(oldDir, TILL_DB_FILE + SALVAGED_SUFFIX)}`);
}

/** 3, 4, 5, 9 → "3-5, 9". */
function ranges(ns: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ns.length; ) {
    let j = i;
    while (j + 1 < ns.length && ns[j + 1] === ns[j]! + 1) j++;
    parts.push(i === j ? `${ns[i]}` : `${ns[i]}-${ns[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}
