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
  /**
   * Lines across all ops of one push batch: the hub's work on a batch grows with its lines, and a
   * batch is one transaction (on PGlite, one event-loop block). At least maxLinesPerOp.
   */
  maxLinesPerBatch: 2000,
  /**
   * Serialized size (UTF-8 JSON of the ops) of one push batch. The hub's transport message limit
   * is this plus headroom, so a batch the till forms always arrives. A single legal op (500 lines
   * of the longest SKUs) is about 110 KB, well under it.
   */
  maxBatchBytes: 1_048_576,
} as const;
