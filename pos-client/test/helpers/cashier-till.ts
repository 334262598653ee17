import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StockPush, type StockRow } from '@tillsync/sync-protocol';
import { type Product, SyncAgent, Till } from '../../src/index.js';

export const CATALOG: Product[] = [
  {
    sku: 'LIP-RED',
    name: 'Red lipstick',
    barcode: '3600000000017',
    category: 'lips',
    priceMinor: 1500,
    currency: 'EUR',
    active: true,
  },
  {
    sku: 'MASCARA',
    name: 'Mascara',
    barcode: null,
    category: 'eyes',
    priceMinor: 2200,
    currency: 'EUR',
    active: true,
  },
];

export interface CashierTill {
  till: Till;
  /** Never started: these tills have no hub (state 'stopped'). */
  agent: SyncAgent;
  close(): void;
}

/**
 * A real till on a temp dir, enrolled by hand at Paris (its hub address refuses connections), with
 * the catalogue and stock the hub would have sent: LIP-RED 10 on hand of which `reservedLipRed`
 * are held for online orders, MASCARA 5.
 */
export function cashierTill(options: { reservedLipRed?: number; hubUrl?: string } = {}): CashierTill {
  const dir = mkdtempSync(join(tmpdir(), 'till-cashier-'));
  const till = Till.open({ dataDir: dir });
  till.saveEnrolment({
    deviceId: 'paris-1',
    locationId: 'paris',
    name: 'Paris till 1',
    token: 'device-token',
    hubUrl: options.hubUrl ?? 'http://127.0.0.1:1',
  });
  till.saveCatalog(CATALOG, Date.now());
  till.applyStockPush(
    StockPush.parse({
      fromCursor: '0',
      cursor: '2',
      rows: [
        row('LIP-RED', { onHand: 10, reserved: options.reservedLipRed ?? 0 }),
        row('MASCARA', { onHand: 5 }),
      ],
    }),
  );
  const agent = new SyncAgent(till);
  return {
    till,
    agent,
    close() {
      till.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function row(sku: string, fields: Partial<StockRow>): StockRow {
  return {
    locationId: 'paris',
    sku,
    onHand: 0,
    reserved: 0,
    incoming: 0,
    damaged: 0,
    reorderPoint: 0,
    version: 1,
    countHlc: null,
    ...fields,
  };
}
