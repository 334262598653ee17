import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyRow, StockPush, type StockRow } from '@tillsync/sync-protocol';
import type { Enrolment, Product, Till } from '../../src/index.js';

/** Paris till 1, enrolled by hand: its hub address is a closed loopback port that refuses connections. */
export const PARIS_TILL: Enrolment = {
  deviceId: 'paris-1',
  locationId: 'paris',
  name: 'Paris till 1',
  token: 'device-token',
  hubUrl: 'http://127.0.0.1:1',
};

/** A catalogue entry in euros, active, with no barcode or category unless given. */
export function product(
  sku: string,
  name: string,
  priceMinor: number,
  fields: Partial<Product> = {},
): Product {
  return { sku, name, barcode: null, category: null, priceMinor, currency: 'EUR', active: true, ...fields };
}

/** Red lipstick (with a barcode) and mascara, as the cashier searches them. */
export const CATALOG: Product[] = [
  product('LIP-RED', 'Red lipstick', 1500, { barcode: '3600000000017', category: 'lips' }),
  product('MASCARA', 'Mascara', 2200, { category: 'eyes' }),
];

/** A Paris stock row as the hub sends it: every quantity 0 and version 1 unless given. */
export function stockRow(sku: string, fields: Partial<StockRow>): StockRow {
  return { ...emptyRow('paris', sku), version: 1, ...fields };
}

/** A stock push, through the protocol's zod schema as the sync agent does. */
export const stockPush = (fromCursor: string, cursor: string, rows: StockRow[]): StockPush =>
  StockPush.parse({ fromCursor, cursor, rows });

export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), prefix));

export const removeDir = (dir: string): void => rmSync(dir, { recursive: true, force: true });

/**
 * Gives `till` what enrolment and the hub's first messages would: the Paris enrolment (at `hubUrl`
 * if given), the catalogue stamped `at`, then the stock push if any.
 */
export function provision(
  till: Till,
  setup: { catalog: Product[]; at: number; stock?: StockPush; hubUrl?: string },
): Till {
  till.replica.saveEnrolment({ ...PARIS_TILL, hubUrl: setup.hubUrl ?? PARIS_TILL.hubUrl });
  till.replica.saveCatalog(setup.catalog, setup.at);
  if (setup.stock) till.replica.applyStockPush(setup.stock);
  return till;
}
