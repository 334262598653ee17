import { describe, expect, it } from 'vitest';
import { stockChecksum } from './checksum.js';
import type { StockRow } from './stock.js';

const rows: StockRow[] = [
  {
    locationId: 'store-1',
    sku: 'LIP-RED',
    onHand: 12,
    reserved: 2,
    incoming: 0,
    damaged: 1,
    reorderPoint: 4,
    version: 17,
    countHlc: '000001763912345:00000:till-7',
  },
  {
    locationId: 'store-1',
    sku: 'MASCARA',
    onHand: -1,
    reserved: 0,
    incoming: 6,
    damaged: 0,
    reorderPoint: 0,
    version: 3,
    countHlc: null,
  },
  {
    locationId: 'store-1',
    sku: 'BLUSH',
    onHand: 0,
    reserved: 0,
    incoming: 0,
    damaged: 0,
    reorderPoint: 2,
    version: 1,
    countHlc: null,
  },
];

/** One changed value per field of a row, each different from every row's current value. */
const changes: Array<[keyof StockRow, StockRow[keyof StockRow]]> = [
  ['locationId', 'store-2'],
  ['sku', 'LIP-ROSE'],
  ['onHand', 13],
  ['reserved', 3],
  ['incoming', 1],
  ['damaged', 2],
  ['reorderPoint', 5],
  ['version', 18],
  ['countHlc', '000001763912346:00000:till-7'],
];

describe('stockChecksum', () => {
  it('is a sha-256 hex digest, that of nothing for no rows', () => {
    expect(stockChecksum(rows)).toMatch(/^[0-9a-f]{64}$/);
    expect(stockChecksum([])).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('does not depend on the order of the rows', () => {
    const [a, b, c] = rows as [StockRow, StockRow, StockRow];
    const expected = stockChecksum(rows);
    for (const order of [
      [a, c, b],
      [b, a, c],
      [b, c, a],
      [c, a, b],
      [c, b, a],
    ]) {
      expect(stockChecksum(order)).toBe(expected);
    }
  });

  it('takes any iterable, such as the values of a map', () => {
    const map = new Map(rows.map((r) => [r.sku, r]));
    expect(stockChecksum(map.values())).toBe(stockChecksum(rows));
  });

  it('does not depend on row order when rows of several locations share a SKU', () => {
    const other = rows.map((r) => ({ ...r, locationId: 'warehouse-1', onHand: r.onHand + 100 }));
    expect(stockChecksum([...rows, ...other])).toBe(stockChecksum([...other, ...rows]));
    expect(stockChecksum([...rows, ...other])).toBe(stockChecksum([...rows, ...other].reverse()));
  });

  it.each(changes)('changes when %s changes', (field, value) => {
    const before = stockChecksum(rows);
    for (let i = 0; i < rows.length; i += 1) {
      const changed = rows.map((r, j) => (j === i ? { ...r, [field]: value } : r));
      expect(stockChecksum(changed), `row ${i}`).not.toBe(before);
    }
  });

  it('changes when countHlc is cleared', () => {
    const changed = rows.map((r) => ({ ...r, countHlc: null }));
    expect(stockChecksum(changed)).not.toBe(stockChecksum(rows));
  });

  it('changes when values move between fields or rows', () => {
    const [a, b, c] = rows as [StockRow, StockRow, StockRow];
    const swapped = { ...a, onHand: a.reserved, reserved: a.onHand };
    expect(stockChecksum([swapped, b, c])).not.toBe(stockChecksum(rows));
    const traded = [{ ...a, onHand: b.onHand }, { ...b, onHand: a.onHand }, c];
    expect(stockChecksum(traded)).not.toBe(stockChecksum(rows));
  });

  it('changes when a row is added or removed', () => {
    expect(stockChecksum(rows.slice(1))).not.toBe(stockChecksum(rows));
    expect(stockChecksum([...rows, { ...rows[0]!, sku: 'NEW-1' }])).not.toBe(stockChecksum(rows));
  });
});
