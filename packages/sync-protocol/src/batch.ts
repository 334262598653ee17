import { LIMITS } from './limits.js';

/*
 * How a till cuts its outbox into push batches, and what the hub counts to refuse a batch: one
 * definition for both sides, so a batch the till forms is never too large for the hub.
 */

export interface BatchLimits {
  maxOpsPerBatch: number;
  maxLinesPerBatch: number;
  maxBatchBytes: number;
}

/** Lines an op carries (its `lines` array; anything else counts none). */
export function opLines(op: unknown): number {
  const lines = (op as { lines?: unknown } | null)?.lines;
  return Array.isArray(lines) ? lines.length : 0;
}

export function batchLines(ops: readonly unknown[]): number {
  let n = 0;
  for (const op of ops) n += opLines(op);
  return n;
}

const utf8 = new TextEncoder();
/** `{"ops":[` + `]}`: the envelope around the ops' JSON. */
const ENVELOPE_BYTES = 10;

/**
 * How many of `ops` (in seq order) form the next batch: as many as fit every limit, and always at
 * least one (a legal op alone is within every limit, see LIMITS).
 */
export function nextBatchLength(ops: readonly unknown[], limits: BatchLimits = LIMITS): number {
  const max = Math.min(ops.length, limits.maxOpsPerBatch);
  let lines = 0;
  let bytes = ENVELOPE_BYTES;
  for (let i = 0; i < max; i++) {
    lines += opLines(ops[i]);
    bytes += utf8.encode(JSON.stringify(ops[i])).length + (i > 0 ? 1 : 0); // the comma between ops
    if (i > 0 && (lines > limits.maxLinesPerBatch || bytes > limits.maxBatchBytes)) return i;
  }
  return max;
}
