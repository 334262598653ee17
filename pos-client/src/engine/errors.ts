/** Errors the till engine reports to the cashier (UI) or the operator (CLI). */
export class TillError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class TillLockedError extends TillError {
  constructor(dataDir: string) {
    super('till_locked', `another till process is using ${dataDir}: one till per data directory`);
  }
}

export class NotEnrolledError extends TillError {
  constructor() {
    super('not_enrolled', 'this till is not enrolled: run `till enrol --hub <url> --code <code>` first');
  }
}

/** A command that needs a till was pointed at a directory holding none (it creates nothing there). */
export class NoTillError extends TillError {
  constructor(dataDir: string) {
    super(
      'no_till',
      `no till in ${dataDir}: enrol one there with \`till enrol --hub <url> --code <code>\`, or point --data (or TILL_DATA_DIR) at a till's data directory`,
    );
  }
}

export class UnknownProductError extends TillError {
  constructor(ref: string) {
    super(
      'unknown_product',
      `no product with SKU or barcode ${JSON.stringify(ref)} in this till's catalogue`,
      { ref },
    );
  }
}

/** Selling units promised to online orders needs the cashier's explicit override. */
export class ReservedStockError extends TillError {
  constructor(lines: Array<{ sku: string; requested: number; available: number; reserved: number }>) {
    super(
      'reserved_stock',
      `selling ${lines.map((l) => l.sku).join(', ')} would take units reserved for online orders: confirm an override`,
      { lines },
    );
  }
}

export class InvalidInputError extends TillError {
  constructor(message: string, details?: unknown) {
    super('invalid_input', message, details);
  }
}

/**
 * The till database fails SQLite's integrity check (or is not readable as a database at all). The
 * till refuses to sell on it: a write into a damaged b-tree can lose sales already recorded, and
 * the outbox may be missing some. The way out is a fresh data directory and a salvage.
 */
export class TillDamagedError extends TillError {
  constructor(
    readonly dataDir: string,
    readonly problems: readonly string[],
  ) {
    super(
      'till_damaged',
      `the till database in ${dataDir} is damaged (${problems.slice(0, 3).join('; ')}): this till will not ` +
        'sell on it. Move that directory aside, enrol a new data directory for the same device ' +
        '(POST /v1/devices/<id>/enrolment-code, `till enrol`), then run ' +
        `\`till recover --data <new dir> --from ${dataDir}\` to salvage its unsynced ops`,
      { problems },
    );
  }
}

/** The device token was sealed by a vault this process does not have (the Electron app's safeStorage). */
export class TokenSealedError extends TillError {
  constructor(kind: string) {
    super(
      'token_sealed',
      `this till's device token is sealed by ${kind}, which only the till app can open: sync from the app`,
    );
  }
}
