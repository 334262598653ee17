import { describe, expect, it } from 'vitest';
import { batchLines, nextBatchLength, opLines } from './batch.js';
import { LIMITS } from './limits.js';

const sale = (lines: number, sku = 'LIP-1') => ({
  type: 'sale',
  lines: Array.from({ length: lines }, () => ({ sku, qty: 1, unitPriceMinor: 1000 })),
});
const bytes = (ops: unknown[]) => Buffer.byteLength(JSON.stringify({ ops }));

describe('push batches', () => {
  it('count the lines of each op', () => {
    expect(opLines(sale(3))).toBe(3);
    expect(opLines({ type: 'sale' })).toBe(0);
    expect(opLines(null)).toBe(0);
    expect(batchLines([sale(3), sale(4)])).toBe(7);
  });

  it('take as many small ops as the op limit allows', () => {
    const ops = Array.from({ length: 700 }, () => sale(1));
    expect(nextBatchLength(ops)).toBe(LIMITS.maxOpsPerBatch);
    expect(nextBatchLength(ops.slice(0, 3))).toBe(3);
    expect(nextBatchLength([])).toBe(0);
  });

  it('stop before the lines limit: 500 sales of 500 lines go 4 to a batch', () => {
    const ops = Array.from({ length: 500 }, () => sale(LIMITS.maxLinesPerOp));
    const n = nextBatchLength(ops);
    expect(n).toBe(Math.floor(LIMITS.maxLinesPerBatch / LIMITS.maxLinesPerOp));
    expect(batchLines(ops.slice(0, n))).toBeLessThanOrEqual(LIMITS.maxLinesPerBatch);
    expect(batchLines(ops.slice(0, n + 1))).toBeGreaterThan(LIMITS.maxLinesPerBatch);
  });

  it('stop before the bytes limit, counting the JSON exactly as it goes on the wire', () => {
    // One line, a long multi-byte note: bytes bind before lines do.
    const ops = Array.from({ length: 500 }, () => ({ ...sale(1), note: 'é'.repeat(2000) }));
    const n = nextBatchLength(ops);
    expect(n).toBeGreaterThan(1);
    expect(n).toBeLessThan(500);
    expect(bytes(ops.slice(0, n))).toBeLessThanOrEqual(LIMITS.maxBatchBytes);
    expect(bytes(ops.slice(0, n + 1))).toBeGreaterThan(LIMITS.maxBatchBytes);
  });

  it('fill the byte limit exactly: the count is the JSON length', () => {
    const op = sale(1);
    const limits = { maxOpsPerBatch: 100, maxLinesPerBatch: 100, maxBatchBytes: bytes([op, op, op]) };
    expect(nextBatchLength([op, op, op, op], limits)).toBe(3);
  });

  it('always send at least one op, and the largest legal op fits the byte limit alone', () => {
    expect(nextBatchLength([sale(3)], { maxOpsPerBatch: 10, maxLinesPerBatch: 1, maxBatchBytes: 1 })).toBe(1);
    const largest = {
      ...sale(LIMITS.maxLinesPerOp, 'S'.repeat(64)),
      opId: '0192d3f0-0000-7000-8000-000000000000',
      baseVersions: Object.fromEntries(
        Array.from({ length: LIMITS.maxLinesPerOp }, (_, i) => [`${'S'.repeat(60)}${i}`, 2 ** 31]),
      ),
    };
    expect(bytes([largest])).toBeLessThan(LIMITS.maxBatchBytes / 4);
  });
});
