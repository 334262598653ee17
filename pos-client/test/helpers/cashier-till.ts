import { SyncAgent, Till } from '../../src/index.js';
import { CATALOG, provision, removeDir, stockPush, stockRow, tempDir } from './till-fixture.js';

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
  const dir = tempDir('till-cashier-');
  const till = provision(Till.open({ dataDir: dir }), {
    catalog: CATALOG,
    at: Date.now(),
    hubUrl: options.hubUrl,
    stock: stockPush('0', '2', [
      stockRow('LIP-RED', { onHand: 10, reserved: options.reservedLipRed ?? 0 }),
      stockRow('MASCARA', { onHand: 5 }),
    ]),
  });
  const agent = new SyncAgent(till.replica);
  return {
    till,
    agent,
    close() {
      till.close();
      removeDir(dir);
    },
  };
}
