import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { newOpId } from './ids.js';
import { LIMITS } from './limits.js';
import { PushBatch } from './messages.js';
import { HubOp, TillOp } from './operations.js';

const HLC = '000001763912345:00000:till-7';
const HUB_HLC = '000001763912345:00003:hub';

function base() {
  return { opId: newOpId(), seq: 1, hlc: HLC, locationId: 'store-paris-1' };
}

function hubBase() {
  return { opId: newOpId(), hlc: HUB_HLC, locationId: 'store-paris-1' };
}

const validTillOps: Record<string, Record<string, unknown>> = {
  sale: {
    type: 'sale',
    receiptId: 'R-0001',
    lines: [
      { sku: 'LIP-RED.01', qty: 2, unitPriceMinor: 1299 },
      { sku: 'mascara_black', qty: 1, unitPriceMinor: 0 },
    ],
    payments: [{ method: 'card', amountMinor: 2598 }],
    baseVersions: { 'LIP-RED.01': 4, mascara_black: 0 },
  },
  'sale with a reserved-stock override': {
    type: 'sale',
    receiptId: 'R-0002',
    lines: [{ sku: 'LIP-RED.01', qty: 1, unitPriceMinor: 1299 }],
    reservedOverride: { reason: 'customer in store, order will be re-routed' },
  },
  return: {
    type: 'return',
    receiptId: 'R-0003',
    originalReceiptId: 'R-0001',
    lines: [
      { sku: 'LIP-RED.01', qty: 1, unitPriceMinor: 1299 },
      { sku: 'mascara_black', qty: 1, unitPriceMinor: 0, condition: 'damaged' },
    ],
  },
  receive: {
    type: 'receive',
    reference: 'PO-2024-17',
    lines: [{ sku: 'LIP-RED.01', qty: LIMITS.maxLineQuantity }],
  },
  adjust: { type: 'adjust', reason: 'shrink', note: 'shoplifting', lines: [{ sku: 'LIP-RED.01', qty: 1 }] },
  count: {
    type: 'count',
    lines: [
      { sku: 'LIP-RED.01', counted: 0 },
      { sku: 'mascara_black', counted: 12 },
    ],
  },
  transfer_out: {
    type: 'transfer_out',
    transferId: 'T-9',
    toLocationId: 'warehouse-north',
    lines: [{ sku: 'LIP-RED.01', qty: 6 }],
  },
  transfer_in: {
    type: 'transfer_in',
    transferId: 'T-9',
    fromLocationId: 'warehouse-north',
    lines: [{ sku: 'LIP-RED.01', qty: 6 }],
  },
  pickup: { type: 'pickup', orderId: 'ORD-42', lines: [{ sku: 'LIP-RED.01', qty: 1 }] },
};

/** The issues of a failed parse, reduced to path and code, for readable assertions. */
function issuesOf(schema: z.ZodType, input: unknown) {
  const result = schema.safeParse(input);
  expect(result.success).toBe(false);
  return (result.error?.issues ?? []).map((i) => ({ path: i.path, code: i.code }));
}

function sale(overrides: Record<string, unknown> = {}, line: Record<string, unknown> = {}) {
  return {
    ...base(),
    type: 'sale',
    receiptId: 'R-1',
    lines: [{ sku: 'LIP-RED', qty: 1, unitPriceMinor: 100, ...line }],
    ...overrides,
  };
}

describe('TillOp', () => {
  it.each(Object.entries(validTillOps))('parses a valid %s', (_, op) => {
    const input = { ...base(), ...op };
    const parsed = TillOp.parse(input);
    expect(parsed).toMatchObject(input);
  });

  it('fills the defaults: no payments, sellable returns', () => {
    const s = TillOp.parse(sale());
    expect(s.type === 'sale' && s.payments).toEqual([]);
    const r = TillOp.parse({
      ...base(),
      type: 'return',
      receiptId: 'R-2',
      lines: [{ sku: 'LIP-RED', qty: 1, unitPriceMinor: 100 }],
    });
    expect(r.type === 'return' && r.lines[0]?.condition).toBe('sellable');
  });

  it.each([
    ['zero', 0, 'too_small'],
    ['negative', -1, 'too_small'],
    ['fractional', 1.5, 'invalid_type'],
    ['above the line limit', LIMITS.maxLineQuantity + 1, 'too_big'],
    ['a string', '1', 'invalid_type'],
  ])('rejects a %s quantity at lines[0].qty', (_, qty, code) => {
    expect(issuesOf(TillOp, sale({}, { qty }))).toEqual([{ path: ['lines', 0, 'qty'], code }]);
  });

  it('rejects a negative count but accepts zero', () => {
    const count = (counted: number) => ({ ...base(), type: 'count', lines: [{ sku: 'A', counted }] });
    expect(issuesOf(TillOp, count(-1))).toEqual([{ path: ['lines', 0, 'counted'], code: 'too_small' }]);
    expect(TillOp.safeParse(count(0)).success).toBe(true);
  });

  it('rejects unknown fields on the op and on a line (schemas are strict)', () => {
    expect(issuesOf(TillOp, sale({ discount: 10 }))).toEqual([{ path: [], code: 'unrecognized_keys' }]);
    expect(issuesOf(TillOp, sale({}, { colour: 'red' }))).toEqual([
      { path: ['lines', 0], code: 'unrecognized_keys' },
    ]);
    expect(issuesOf(TillOp, sale({ payments: [{ method: 'cash', amountMinor: 100, change: 0 }] }))).toEqual([
      { path: ['payments', 0], code: 'unrecognized_keys' },
    ]);
    expect(
      issuesOf(TillOp, {
        ...base(),
        type: 'return',
        receiptId: 'R-2',
        lines: [{ sku: 'A', qty: 1, unitPriceMinor: 1, condition: 'sellable', restock: true }],
      }),
    ).toEqual([{ path: ['lines', 0], code: 'unrecognized_keys' }]);
  });

  it.each(['', 'lip red', '-LIP', '.LIP', 'LIP/RED', 'LIP|RED', 'é', 'x'.repeat(65)])(
    'rejects the SKU %j',
    (sku) => {
      const issues = issuesOf(TillOp, sale({}, { sku }));
      expect(issues.length).toBeGreaterThan(0);
      for (const issue of issues) expect(issue.path).toEqual(['lines', 0, 'sku']);
    },
  );

  it('rejects a bad SKU in a baseVersions key', () => {
    const issues = issuesOf(TillOp, sale({ baseVersions: { 'bad sku': 1 } }));
    expect(issues[0]?.path.slice(0, 1)).toEqual(['baseVersions']);
  });

  it.each([
    ['a v4 uuid', '0f8fad5b-d9cb-469f-a165-70867728950e'],
    ['a v1 uuid', 'c232ab00-9414-11ec-b3c8-9f6bdeced846'],
    ['a v7 with a bad variant', '01890000-0000-7000-c000-000000000001'],
    ['not a uuid', 'op-1'],
  ])('rejects %s as opId', (_, opId) => {
    expect(issuesOf(TillOp, sale({ opId }))).toEqual([{ path: ['opId'], code: 'invalid_format' }]);
  });

  it('accepts the ids newOpId makes', () => {
    expect(TillOp.safeParse(sale({ opId: newOpId() })).success).toBe(true);
  });

  it.each([
    ['no node', '000001763912345:00000:'],
    ['a short wall', '1763912345:00000:till-7'],
    ['a short counter', '000001763912345:0:till-7'],
    ['a colon in the node', '000001763912345:00000:till:7'],
    ['a space in the node', '000001763912345:00000:till 7'],
    ['an ISO date', '2025-01-01T00:00:00Z'],
    ['a number', 1763912345000],
  ])('rejects an HLC with %s', (_, hlc) => {
    const issues = issuesOf(TillOp, sale({ hlc }));
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toEqual(['hlc']);
  });

  it('rejects a bad location id, seq and device-side fields', () => {
    expect(issuesOf(TillOp, sale({ locationId: 'Store Paris' }))).toEqual([
      { path: ['locationId'], code: 'invalid_format' },
    ]);
    expect(issuesOf(TillOp, sale({ seq: 0 }))).toEqual([{ path: ['seq'], code: 'too_small' }]);
    expect(issuesOf(TillOp, sale({ seq: 1.5 }))).toEqual([{ path: ['seq'], code: 'invalid_type' }]);
    expect(issuesOf(TillOp, sale({ receiptId: '' }))).toEqual([{ path: ['receiptId'], code: 'too_small' }]);
    expect(issuesOf(TillOp, sale({}, { unitPriceMinor: -1 }))).toEqual([
      { path: ['lines', 0, 'unitPriceMinor'], code: 'too_small' },
    ]);
    expect(issuesOf(TillOp, sale({ payments: [{ method: 'cheque', amountMinor: 1 }] }))).toEqual([
      { path: ['payments', 0, 'method'], code: 'invalid_value' },
    ]);
  });

  it('rejects an op without lines and one with more lines than the limit', () => {
    expect(issuesOf(TillOp, sale({ lines: [] }))).toEqual([{ path: ['lines'], code: 'too_small' }]);
    const lines = Array.from({ length: LIMITS.maxLinesPerOp + 1 }, (_, i) => ({ sku: `SKU-${i}`, qty: 1 }));
    expect(issuesOf(TillOp, { ...base(), type: 'receive', lines })).toEqual([
      { path: ['lines'], code: 'too_big' },
    ]);
    expect(TillOp.safeParse({ ...base(), type: 'receive', lines: lines.slice(1) }).success).toBe(true);
  });

  it('rejects a count naming the same SKU twice', () => {
    const op = {
      ...base(),
      type: 'count',
      lines: [
        { sku: 'LIP-RED', counted: 3 },
        { sku: 'MASCARA', counted: 1 },
        { sku: 'LIP-RED', counted: 4 },
      ],
    };
    expect(issuesOf(TillOp, op)).toEqual([{ path: ['lines'], code: 'custom' }]);
    // Other ops may repeat a SKU: a basket can hold the same item on two lines.
    expect(
      TillOp.safeParse(
        sale({
          lines: [
            { sku: 'LIP-RED', qty: 1, unitPriceMinor: 1 },
            { sku: 'LIP-RED', qty: 2, unitPriceMinor: 1 },
          ],
        }),
      ).success,
    ).toBe(true);
  });

  it('rejects an unknown op type, and hub-only types from a till', () => {
    expect(issuesOf(TillOp, { ...base(), type: 'teleport', lines: [{ sku: 'A', qty: 1 }] })).toEqual([
      { path: ['type'], code: 'invalid_union' },
    ]);
    expect(
      issuesOf(TillOp, { ...base(), type: 'reserve', orderId: 'o', lines: [{ sku: 'A', qty: 1 }] }),
    ).toEqual([{ path: ['type'], code: 'invalid_union' }]);
  });

  it('rejects an adjustment for an unknown reason and a return in an unknown condition', () => {
    expect(
      issuesOf(TillOp, { ...base(), type: 'adjust', reason: 'gift', lines: [{ sku: 'A', qty: 1 }] }),
    ).toEqual([{ path: ['reason'], code: 'invalid_value' }]);
    expect(
      issuesOf(TillOp, {
        ...base(),
        type: 'return',
        receiptId: 'R',
        lines: [{ sku: 'A', qty: 1, unitPriceMinor: 1, condition: 'used' }],
      }),
    ).toEqual([{ path: ['lines', 0, 'condition'], code: 'invalid_value' }]);
  });

  it('requires the fields each type needs', () => {
    expect(
      issuesOf(TillOp, { ...base(), type: 'transfer_out', transferId: 'T', lines: [{ sku: 'A', qty: 1 }] }),
    ).toEqual([{ path: ['toLocationId'], code: 'invalid_type' }]);
    expect(issuesOf(TillOp, { ...base(), type: 'pickup', lines: [{ sku: 'A', qty: 1 }] })).toEqual([
      { path: ['orderId'], code: 'invalid_type' },
    ]);
    const { opId: _, ...withoutId } = sale();
    expect(issuesOf(TillOp, withoutId)).toEqual([{ path: ['opId'], code: 'invalid_type' }]);
  });
});

describe('PushBatch', () => {
  const receive = (seq: number) => ({ ...base(), seq, type: 'receive', lines: [{ sku: 'A', qty: 1 }] });

  it('accepts up to LIMITS.maxOpsPerBatch ops', () => {
    const ops = Array.from({ length: LIMITS.maxOpsPerBatch }, (_, i) => receive(i + 1));
    expect(PushBatch.parse({ ops }).ops).toHaveLength(500);
  });

  it('rejects a batch over LIMITS.maxOpsPerBatch and an empty one', () => {
    const ops = Array.from({ length: LIMITS.maxOpsPerBatch + 1 }, (_, i) => receive(i + 1));
    expect(issuesOf(PushBatch, { ops })).toEqual([{ path: ['ops'], code: 'too_big' }]);
    expect(issuesOf(PushBatch, { ops: [] })).toEqual([{ path: ['ops'], code: 'too_small' }]);
  });

  it('points at the malformed op inside a batch', () => {
    const ops = [receive(1), { ...receive(2), lines: [{ sku: 'A', qty: 0 }] }, receive(3)];
    expect(issuesOf(PushBatch, { ops })).toEqual([
      { path: ['ops', 1, 'lines', 0, 'qty'], code: 'too_small' },
    ]);
  });
});

describe('HubOp', () => {
  it.each(['reserve', 'release', 'ship'] as const)('parses %s', (type) => {
    const input = { ...hubBase(), type, orderId: 'ORD-42', lines: [{ sku: 'LIP-RED', qty: 2 }] };
    expect(HubOp.parse(input)).toEqual(input);
  });

  it.each(['sellable', 'damaged'] as const)('parses a %s restock', (condition) => {
    const input = {
      ...hubBase(),
      type: 'restock',
      orderId: 'ORD-42',
      condition,
      lines: [{ sku: 'LIP-RED', qty: 1 }],
    };
    expect(HubOp.parse(input)).toEqual(input);
  });

  it('parses set_stock of on_hand, reorder point or both', () => {
    for (const fields of [{ onHand: 0 }, { reorderPoint: 5 }, { onHand: 12, reorderPoint: 4 }]) {
      const input = { ...hubBase(), type: 'set_stock', sku: 'LIP-RED', ...fields };
      expect(HubOp.parse(input)).toEqual(input);
    }
  });

  it('rejects set_stock with a negative or fractional value', () => {
    const set = (fields: Record<string, unknown>) => ({
      ...hubBase(),
      type: 'set_stock',
      sku: 'LIP-RED',
      ...fields,
    });
    expect(issuesOf(HubOp, set({ onHand: -1 }))).toEqual([{ path: ['onHand'], code: 'too_small' }]);
    expect(issuesOf(HubOp, set({ reorderPoint: 2.5 }))).toEqual([
      { path: ['reorderPoint'], code: 'invalid_type' },
    ]);
  });

  it('requires a restock condition', () => {
    expect(
      issuesOf(HubOp, { ...hubBase(), type: 'restock', orderId: 'o', lines: [{ sku: 'A', qty: 1 }] }),
    ).toEqual([{ path: ['condition'], code: 'invalid_value' }]);
  });

  it('parses REST receipts, adjustments, counts and transfers without a seq', () => {
    for (const type of ['receive', 'adjust', 'count', 'transfer_out', 'transfer_in']) {
      const input = { ...hubBase(), ...validTillOps[type] };
      expect(HubOp.parse(input)).toEqual(input);
      // A device seq has no place on a hub op.
      expect(issuesOf(HubOp, { ...input, seq: 1 })).toEqual([{ path: [], code: 'unrecognized_keys' }]);
    }
  });

  it('rejects till-only op types', () => {
    // (A pickup exists on both sides: a till hands an order over, or the hub records one handed over at HQ.)
    for (const type of ['sale', 'return']) {
      const input = { ...hubBase(), ...validTillOps[type] };
      expect(issuesOf(HubOp, input)).toEqual([{ path: ['type'], code: 'invalid_union' }]);
    }
  });

  it('keeps the count rule on hub counts', () => {
    const op = {
      ...hubBase(),
      type: 'count',
      lines: [
        { sku: 'A', counted: 1 },
        { sku: 'A', counted: 2 },
      ],
    };
    expect(issuesOf(HubOp, op)).toEqual([{ path: ['lines'], code: 'custom' }]);
  });
});
