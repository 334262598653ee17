/**
 * `pnpm start`: the hub on embedded PGlite with the demo brand, plus a cashier till for
 * store-paris-1 in browser mode, so a newcomer sees the whole thing working from one command.
 * The till is enrolled on first start (its data lives next to the hub's, in <data dir>/demo-till).
 */
import { join } from 'node:path';
import { enrolTill, startTillApp, Till } from '@tillsync/pos-client';
import { runCli } from '../hub/src/cli/main.js';
import { configFromEnv } from '../hub/src/config.js';
import { createDevice } from '../hub/src/services/devices.js';

const DEMO_STORE = 'store-paris-1';
const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };

const hub = await runCli(['demo'], io);
if (!hub.running) process.exit(hub.exitCode);
const { url, db } = hub.running;

const tillDir = join(configFromEnv().dataDir === ':memory:' ? 'data' : configFromEnv().dataDir, 'demo-till');
const probe = Till.open({ dataDir: tillDir });
const enrolled = probe.enrolment !== null;
probe.close();
if (!enrolled) {
  const { enrolmentCode } = await createDevice(db, { locationId: DEMO_STORE, name: 'Paris demo till' });
  (await enrolTill({ dataDir: tillDir, hubUrl: url, enrolmentCode })).close();
}
const till = await startTillApp({ dataDir: tillDir });

process.stdout.write(
  [
    '',
    `Cashier till (${DEMO_STORE}), browser mode: open`,
    `  ${till.url}`,
    '  Scan or type a SKU (e.g. ML-SKN-001) and press Enter; F2 cash, F3 card; F6–F10 switch screens.',
    '  When the hub is unreachable the till keeps selling and shows what waits to sync (README: "What',
    '  happens offline"). Ctrl+C stops both; the next `pnpm start` reuses the same data and till.',
    '',
  ].join('\n'),
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await till.close();
  await hub.running?.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
