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
