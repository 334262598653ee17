/**
 * `pnpm start`: the hub on embedded PGlite with the demo brand, a cashier till for store-paris-1 in
 * browser mode, and simulated tills in every store that sell, lose their network and come back, so a
 * newcomer sees the whole thing working (and the HQ dashboard at /hq has a living brand to show)
 * from one command. Tills are enrolled on the first start (their data lives next to the hub's, in
 * <data dir>/demo-till and <data dir>/demo-tills/<device id>) and reused on the next.
 */
import { join } from 'node:path';
import { startTillApp } from '@tillsync/pos-client';
import { runCli } from '../hub/src/cli/main.js';
import { configFromEnv } from '../hub/src/config.js';
import { createApiToken } from '../hub/src/services/tokens.js';
import { openEnrolledTill } from './demo/enrolled-till.js';
import { type SimConfig, simConfigFromEnv } from './demo/sim-config.js';
import { startSimulatedTills } from './demo/simulated-tills.js';

const DEMO_STORE = 'store-paris-1';
const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };

const sim = simConfigOrExit();
const hub = await runCli(['demo'], io);
if (!hub.running) process.exit(hub.exitCode);
const { url, db } = hub.running;

const configured = configFromEnv().dataDir;
const dataDir = configured === ':memory:' ? 'data' : configured;
const cashierDir = join(dataDir, 'demo-till');
// Enrolled (or pointed at this hub) here; the till app then opens it on its own.
(await openEnrolledTill(db, url, cashierDir, { locationId: DEMO_STORE, name: 'Paris demo till' })).close();
const till = await startTillApp({ dataDir: cashierDir });
const simulated = await startSimulatedTills({
  db,
  hubUrl: url,
  dataDir,
  config: sim,
  onError: (deviceId, err) =>
    process.stderr.write(`simulated till ${deviceId}: ${err instanceof Error ? err.message : String(err)}\n`),
});
// The seeded hq token is only known on the start that seeded; later starts mint one for the dashboard.
const hqToken =
  hub.running.demoTokens?.hq ?? (await createApiToken(db, { name: 'demo hq dashboard', role: 'hq' })).token;

process.stdout.write(
  [
    '',
    `Cashier till (${DEMO_STORE}), browser mode: open`,
    `  ${till.url}`,
    '  Scan or type a SKU (e.g. ML-SKN-001) and press Enter; F2 cash, F3 card; F6–F10 switch screens.',
    '  When the hub is unreachable the till keeps selling and shows what waits to sync (README: "What',
    '  happens offline"). Ctrl+C stops everything; the next `pnpm start` reuses the same data and tills.',
    '',
    'HQ dashboard: open (the hq token in the fragment signs you in; the page keeps it for the tab only)',
    `  ${url}/hq#token=${hqToken}`,
    ...(simulated.length > 0
      ? [
          `  ${simulated.length} simulated tills (${sim.tillsPerStore} per store, seed ${sim.seed}) sell every few seconds, now`,
          '  and then lose their network for a while (and keep selling) and come back.',
          '  TILLSYNC_DEMO_TILLS=0 turns them off; TILLSYNC_DEMO_SPEED=10 runs them ten times faster.',
        ]
      : ['  No simulated tills (TILLSYNC_DEMO_TILLS=0).']),
    '',
  ].join('\n'),
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  // Every till's agent stops and its database closes before the hub goes away.
  await Promise.allSettled(simulated.map((t) => t.stop()));
  await till.close();
  await hub.running?.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

function simConfigOrExit(): SimConfig {
  try {
    return simConfigFromEnv(process.env);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
