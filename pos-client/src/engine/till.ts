import { uptime } from 'node:os';
import { Cashier } from './cashier.js';
import { type OpenOptions, openTillDb, type TillDb } from './db.js';
import { DEFAULT_JOURNAL, type JournalRetention, Replica } from './replica.js';
import { TillStore } from './store.js';
import { plainVault, type TokenVault } from './token-vault.js';

export interface TillOptions extends OpenOptions {
  dataDir: string;
  /** Wall clock (tests pass a fake one). */
  now?: () => number;
  /** Keeps the device token (default: plain, protected by the data directory's modes). */
  vault?: TokenVault;
  /**
   * A monotonic clock in ms that counts through OS sleep, to catch the wall clock being set
   * (default os.uptime(); with a fake `now` and none given, `now` itself: no jump is seen).
   */
  monotonic?: () => number;
  /** How long acknowledged ops stay in the journal a restored hub can ask for (default 30 days, 100,000 ops). */
  journal?: JournalRetention;
}

/**
 * A till's data directory, opened: one SQLite database (exclusive lock: one process) and its two
 * doors over one store.
 *  - `cashier` (engine/cashier.ts): selling and reading, for the UI server, the CLI and the
 *    cashier service;
 *  - `replica` (engine/replica.ts): the local replica the sync agent drives (outbox batches, acks,
 *    hello and catch-up, stock pushes, catalogue, reservations, enrolment, clock).
 */
export class Till {
  /** The raw database: for tools and tests that inspect or damage the file, never for the app. */
  readonly db: TillDb;
  readonly replica: Replica;
  readonly cashier: Cashier;

  private constructor(db: TillDb, options: TillOptions) {
    this.db = db;
    const store = new TillStore(db, () => this.replica.enrolment?.locationId ?? '');
    const now = options.now ?? Date.now;
    this.replica = new Replica(db, store, {
      now,
      monotonic: options.monotonic ?? (options.now ? options.now : () => uptime() * 1000),
      vault: options.vault ?? plainVault,
      retention: options.journal ?? DEFAULT_JOURNAL,
    });
    this.cashier = new Cashier(this.replica, store);
  }

  static open(options: TillOptions): Till {
    const db = openTillDb(options.dataDir, options);
    try {
      return new Till(db, options);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  close(): void {
    this.replica.removeAllListeners();
    this.db.close();
  }
}
