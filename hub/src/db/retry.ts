import { pgErrorCode } from '../errors.js';
import { isConnectionLost } from './connection-errors.js';

/*
 * The one retry of a whole transaction. Postgres aborts one of two deadlocked transactions
 * (40P01), or a serializable one that lost a race (40001): run again, it normally passes. A
 * connection lost mid-transaction is retried once on a fresh one, when the caller says its write
 * is safe to repeat (a push is: the retry reads the device's acked seq and answers committed ops
 * `duplicate`, even when the lost statement was the COMMIT).
 */

const RETRYABLE = new Set(['40P01', '40001']);
const ATTEMPTS = 3;

export async function retryTransaction<T>(
  write: () => Promise<T>,
  options: { onConnectionLost?: boolean } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      const again =
        RETRYABLE.has(pgErrorCode(err) ?? '') ||
        (options.onConnectionLost === true && attempt === 1 && isConnectionLost(err));
      if (attempt >= ATTEMPTS || !again) throw err;
    }
  }
}
