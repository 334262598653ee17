import { join } from 'node:path';
import { openTillLog, SyncAgent } from '@tillsync/pos-client';
import type { Queryable } from '../../hub/src/db/database.js';
import { DEMO_LOCATIONS } from '../../hub/src/demo/brand.js';
import { Random } from '../../hub/src/demo/random.js';
import { openEnrolledTill } from './enrolled-till.js';
import type { SimConfig } from './sim-config.js';
import { SimulatedTill } from './simulated-till.js';

export interface SimulatedTillsOptions {
  db: Queryable;
  hubUrl: string;
  /** Each till's data lives in <dataDir>/demo-tills/<device id>. */
  dataDir: string;
  config: SimConfig;
}

/** The device id of the n-th (from 1) simulated till of a store: stable, so a restart reuses it. */
export const simulatedTillId = (locationId: string, n: number) => `${locationId}-sim-${n}`;

/** A simulated till's data directory (its SQLite file and its till.log). */
export const simulatedTillDir = (dataDir: string, deviceId: string) => join(dataDir, 'demo-tills', deviceId);

/**
 * Start `tillsPerStore` simulated tills in every demo store (warehouses have none), enrolling those
 * seen for the first time. Their first online periods are spread over the shortest online period,
 * so they go offline one after another rather than all at once.
 */
export async function startSimulatedTills(options: SimulatedTillsOptions): Promise<SimulatedTill[]> {
  const { config } = options;
  const devices = DEMO_LOCATIONS.filter((l) => l.kind === 'store').flatMap((location) =>
    Array.from({ length: config.tillsPerStore }, (_, i) => ({
      id: simulatedTillId(location.id, i + 1),
      locationId: location.id,
      name: `Simulated till ${i + 1}`,
    })),
  );
  const seeds = new Random(config.seed);
  const [onlineMin] = config.timings.online;
  const tills: SimulatedTill[] = [];
  try {
    for (const [k, device] of devices.entries()) {
      const dir = simulatedTillDir(options.dataDir, device.id);
      const till = await openEnrolledTill(options.db, options.hubUrl, dir, device);
      // Each logs to its own till.log like any till, never to the terminal the banner is on.
      const log = openTillLog(till, dir);
      const agent = new SyncAgent(till.replica, {
        heartbeatMs: config.timings.heartbeatMs,
        logger: log.logger,
      });
      tills.push(
        new SimulatedTill(till, agent, {
          random: new Random(seeds.int(0, 2 ** 32 - 1)),
          timings: config.timings,
          firstOnlineMs: Math.round((onlineMin * (k + 1)) / devices.length),
          log,
        }),
      );
    }
  } catch (err) {
    await Promise.all(tills.map((t) => t.stop()));
    throw err;
  }
  for (const t of tills) t.start();
  return tills;
}
