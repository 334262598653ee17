import { encodeHlc, newOpId } from '@tillsync/sync-protocol';
import { describe, expect, it } from 'vitest';
import {
  type Known,
  MalformedBatchError,
  type PushFacts,
  parsePushedOps,
  planPush,
  planPushes,
} from '../src/sync/push-plan.js';

/* The push decision without a database: what was read goes in, answers and writes come out. */

const device = { deviceId: 't1', locationId: 'l1' };
const hlc = (i: number, node = 't1') => encodeHlc({ wall: 1_700_000_000_000 + i, counter: 0, node });
const sale = (seq: number, opId = newOpId(), over: Record<string, unknown> = {}) => ({
  type: 'sale',
  opId,
  seq,
  hlc: hlc(seq),
  locationId: 'l1',
  receiptId: `r${seq}`,
  lines: [{ sku: 'A', qty: 1, unitPriceMinor: 100 }],
  ...over,
});
const known = (over: Partial<Known> = {}): Known => ({
  skus: new Set(['A']),
  locations: new Set(['l1', 'l2']),
  usedOpIds: new Set(),
  ledgered: new Map(),
  ...over,
});
const facts = (raw: unknown[], over: Partial<PushFacts> = {}): PushFacts => ({
  device,
  ops: parsePushedOps(raw),
  ackedSeq: 0,
  remembered: new Map(),
  known: known(),
  ...over,
});

describe('planning a push', () => {
  it('applies the next seqs, refuses a gap without acking it', () => {
    const plan = planPush(facts([sale(1), sale(2), sale(4)]));
    expect(plan.results.map((r) => r.status)).toEqual(['applied', 'applied', 'rejected']);
    expect(plan.results[2]).toMatchObject({ code: 'seq_gap', reason: 'expected seq 3 before seq 4' });
    expect(plan.lastAckedSeq).toBe(2);
    expect(plan.accepted.map((op) => op.seq)).toEqual([1, 2]);
    expect(plan.answers.map((a) => [a.seq, a.status])).toEqual([
      [1, 'applied'],
      [2, 'applied'],
    ]);
    expect(plan.activity).toMatchObject({ duplicates: 0, rejected: 0 });
  });

  it('answers resent seqs from what was remembered, and a different op on a used seq as a conflict', () => {
    const first = sale(1);
    const refused = sale(2);
    const plan = planPush(
      facts([first, refused, sale(2), sale(3)], {
        ackedSeq: 2,
        remembered: new Map([
          [1, { opId: first.opId, status: 'applied', code: null, reason: null }],
          [2, { opId: refused.opId, status: 'rejected', code: 'unknown_sku', reason: 'unknown SKU Z' }],
        ]),
      }),
    );
    expect(plan.results.map((r) => (r.status === 'rejected' ? r.code : r.status))).toEqual([
      'duplicate',
      'unknown_sku',
      'seq_conflict',
      'applied',
    ]);
    expect(plan.lastAckedSeq).toBe(3);
    expect(plan.answers.map((a) => a.seq)).toEqual([3]);
    expect(plan.activity.duplicates).toBe(1);
  });

  it('refuses bad ops for good: recorded, dead-lettered, acked; malformed ones hold no op id', () => {
    const reused = newOpId();
    const plan = planPush(
      facts(
        [
          { seq: 1, opId: 'x', type: 'sale' },
          sale(2, reused),
          sale(3, newOpId(), { lines: [{ sku: 'Z', qty: 1, unitPriceMinor: 1 }] }),
          sale(4, newOpId(), { locationId: 'l2' }),
          {
            type: 'transfer_out',
            opId: newOpId(),
            seq: 5,
            hlc: hlc(5),
            locationId: 'l1',
            transferId: 'T',
            toLocationId: 'l9',
            lines: [{ sku: 'A', qty: 1 }],
          },
        ],
        { known: known({ usedOpIds: new Set([reused]) }) },
      ),
    );
    expect(plan.results.map((r) => (r.status === 'rejected' ? r.code : r.status))).toEqual([
      'malformed',
      'op_id_reused',
      'unknown_sku',
      'wrong_location',
      'unknown_location',
    ]);
    expect(plan.lastAckedSeq).toBe(5);
    expect(plan.accepted).toEqual([]);
    expect(plan.deadLetters.map((d) => d.seq)).toEqual([1, 2, 3, 4, 5]);
    // The unique applied_ops.op_id holds only ids the op owns.
    expect(plan.answers.map((a) => a.opId === null)).toEqual([true, true, false, false, false]);
    expect(plan.activity.rejected).toBe(5);
  });

  it('answers an op this device already ledgered, resent under a new seq, as a duplicate', () => {
    const op = sale(1);
    const plan = planPush(
      facts([op], {
        known: known({
          usedOpIds: new Set([op.opId]),
          ledgered: new Map([[op.opId, { deviceId: 't1', opType: 'sale', hlc: op.hlc }]]),
        }),
      }),
    );
    expect(plan.results).toEqual([{ seq: 1, opId: op.opId, status: 'duplicate' }]);
    expect(plan.answers).toEqual([
      { seq: 1, opId: null, sentOpId: op.opId, status: 'applied', code: null, reason: null },
    ]);
    expect(plan.accepted).toEqual([]);
  });

  it('refuses a second op with an id taken earlier in the batch', () => {
    const id = newOpId();
    const plan = planPush(facts([sale(1, id), sale(2, id)]));
    expect(plan.results.map((r) => r.status)).toEqual(['applied', 'rejected']);
  });

  it('plans a group in order: an id taken by an earlier member is taken for the later ones', () => {
    const id = newOpId();
    const other = { deviceId: 't2', locationId: 'l1' };
    const [a, b] = planPushes([
      facts([sale(1, id)]),
      facts([{ ...sale(1, id), hlc: hlc(1, 't2') }], { device: other }),
    ]);
    expect(a!.results[0]!.status).toBe('applied');
    expect(b!.results[0]).toMatchObject({ status: 'rejected', code: 'op_id_reused' });
  });

  it('refuses a whole batch whose ops do not all carry a seq', () => {
    expect(() => parsePushedOps([sale(1), { opId: 'x' }])).toThrow(MalformedBatchError);
  });
});
