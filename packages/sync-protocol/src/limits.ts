/** Wire protocol version. A till announcing any other version is refused with a clear message. */
export const PROTOCOL_VERSION = 1;

/** Bounds every side enforces, so one message can never exhaust the other side. */
export const LIMITS = {
  /** Operations in one push batch. */
  maxOpsPerBatch: 500,
  /** Lines in one operation (a very large basket or a whole-aisle count). */
  maxLinesPerOp: 500,
  /** Largest quantity a single line may move; far above any real basket, far below 2^31. */
  maxLineQuantity: 1_000_000,
  /** Rows in one stock push or pull page. */
  maxRowsPerPage: 1000,
} as const;
