import { describe, expect, it } from 'vitest';
import { decideTransferIn, decideTransferOut } from '../src/sync/till-transfers.js';

// The pure decisions behind a till's transfer ops (no database): see till-transfers-checks.test.ts.
const base = {
  opId: '0190a3c4-0000-7000-8000-000000000001',
  seq: 1,
  hlc: '0001:0000:till',
  locationId: 'store-b',
};
const out = (lines: Array<{ sku: string; qty: number }>) =>
  ({ ...base, type: 'transfer_out', transferId: 't-1', toLocationId: 'store-a', lines }) as const;
const transfer = {
  id: 't-1',
  fromLocationId: 'store-b',
  toLocationId: 'store-a',
  status: 'in_transit' as const,
  reference: null,
  createdAt: '',
  receivedAt: null,
  lines: [{ sku: 'A', qty: 3, receivedQty: 0 }],
};

describe('till transfer decisions', () => {
  it('records the same shipment twice as one: nothing moves, no conflict', () => {
    const plan = decideTransferOut(
      out([
        { sku: 'A', qty: 1 },
        { sku: 'A', qty: 2 },
      ]),
      transfer,
      new Map(),
    );
    expect(plan).toEqual({ ops: [], record: [], mismatch: null });
  });

  it('ships per SKU what was on hand, lines merged, and says what it claimed', () => {
    const plan = decideTransferOut(
      out([
        { sku: 'A', qty: 2 },
        { sku: 'B', qty: 5 },
        { sku: 'A', qty: 2 },
      ]),
      null,
      new Map([
        ['A', 10],
        ['B', -1],
      ]),
    );
    expect(plan.record).toEqual([{ sku: 'A', qty: 4 }]);
    expect(plan.ops).toEqual([
      expect.objectContaining({ type: 'transfer_out', lines: [{ sku: 'A', qty: 4 }] }),
    ]);
    expect(plan.mismatch?.lines).toEqual([
      { sku: 'A', qty: 4, applied: 4 },
      { sku: 'B', qty: 5, applied: 0 },
    ]);
  });

  it('books a receipt from the wrong source as a plain receipt, keeping the op id', () => {
    const plan = decideTransferIn(
      {
        ...base,
        locationId: 'store-a',
        type: 'transfer_in',
        transferId: 't-1',
        fromLocationId: 'wh',
        lines: [{ sku: 'A', qty: 3 }],
      },
      transfer,
    );
    expect(plan.record).toEqual([]);
    expect(plan.ops).toEqual([
      {
        opId: base.opId,
        hlc: base.hlc,
        locationId: 'store-a',
        type: 'receive',
        reference: 't-1',
        lines: [{ sku: 'A', qty: 3 }],
      },
    ]);
    expect(plan.mismatch?.code).toBe('wrong_source');
  });
});
