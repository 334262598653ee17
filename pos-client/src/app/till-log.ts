import { join } from 'node:path';
import type { TillOp } from '@tillsync/sync-protocol';
import pino, { type Logger } from 'pino';
import type { TillDamagedError } from '../engine/errors.js';
import { ensurePrivateFile } from '../engine/private-files.js';
import type { Till } from '../engine/till.js';

/*
 * The till's own log: pino JSON lines in <dataDir>/till.log, written by the till app and the CLI
 * (the engine and the agent stay free of log I/O; they take a logger or emit events). The op id is
 * the correlation id: "op recorded" here, "batch pushed" / "batch acked" from the sync agent, the
 * hub's "push batch applied" line, and the hub's ledger (GET /v1/movements?opId=…) all name it.
 */

export const TILL_LOG_FILE = 'till.log';

export interface TillLog {
  logger: Logger;
  /** Stop logging the till's ops and close the file. */
  close(): void;
}

/** Open <dataDir>/till.log (appending) and log every op the till records. */
export function openTillLog(till: Till, dataDir: string): TillLog {
  // Synchronous writes: a line is in the file before the action it describes returns, and
  // nothing is left in a buffer when the process ends. A till logs a few lines per sale.
  const dest = join(dataDir, TILL_LOG_FILE);
  ensurePrivateFile(dest); // op ids and receipt ids are the till's business only
  const file = pino.destination({ dest, append: true, sync: true });
  const logger = pino({ base: { device: till.replica.enrolment?.deviceId ?? null } }, file);
  const onOp = (op: TillOp) =>
    logger.info(
      {
        opId: op.opId,
        seq: op.seq,
        type: op.type,
        location: op.locationId,
        ...('receiptId' in op ? { receiptId: op.receiptId } : {}),
        lines: op.lines.length,
      },
      'op recorded',
    );
  till.replica.on('op', onOp);
  return {
    logger,
    close() {
      till.replica.off('op', onOp);
      file.end();
    },
  };
}

/** The alert for log shipping when the till refuses a damaged database (it cannot open a Till). */
export function logTillDamaged(err: TillDamagedError): void {
  const dest = join(err.dataDir, TILL_LOG_FILE);
  ensurePrivateFile(dest);
  const file = pino.destination({ dest, append: true, sync: true });
  pino(file).fatal({ code: err.code, problems: err.problems }, 'till database damaged: refusing to sell');
  file.end();
}
